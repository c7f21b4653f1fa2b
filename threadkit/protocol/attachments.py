"""The ``chatkit.store.AttachmentStore`` behind ``attachments.create`` and
``attachments.delete``: a thin adapter over ``services.attachments``."""

from __future__ import annotations

from chatkit.store import AttachmentStore
from chatkit.types import Attachment, AttachmentCreateParams

from threadkit import ids
from threadkit.services.attachments import AttachmentService
from threadkit.workflows import ChatContext


class ProtocolAttachmentStore(AttachmentStore[ChatContext]):
    def __init__(self, attachments: AttachmentService) -> None:
        self.attachments = attachments

    def generate_attachment_id(self, mime_type: str, context: ChatContext) -> str:
        return ids.new_attachment_id()

    async def create_attachment(
        self, input: AttachmentCreateParams, context: ChatContext
    ) -> Attachment:
        return await self.attachments.create(
            project=context.project,
            user=context.user_id,
            session=context.session,
            limits=context.file_upload,
            base_url=context.base_url,
            name=input.name,
            size=input.size,
            mime_type=input.mime_type,
        )

    async def delete_attachment(self, attachment_id: str, context: ChatContext) -> None:
        # ChatKitServer deletes the record afterwards.
        await self.attachments.delete_bytes(context.project, context.user_id, attachment_id)
