"""The context a workflow receives with each request: who asks, with which session
settings, and the store and files to look around in. The stores take it too."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatkit.types import ThreadItem, ThreadMetadata

from threadkit.attachments import FileStorage
from threadkit.stores import ThreadStore
from threadkit.stores.records import PageQuery, SessionRow

if TYPE_CHECKING:
    from . import Workflow

#: what a caller authenticated with a project API key (no session) gets
SERVER_CONFIGURATION: dict[str, Any] = {
    "automatic_thread_titling": {"enabled": True},
    "file_upload": {"enabled": True, "max_file_size": 512, "max_files": None},
    "history": {"enabled": True, "recent_threads": None},
}


@dataclass
class ChatContext:
    """Who is asking (``project``, ``user_id``), what answers (``workflow``) and with
    which session settings. Also what a workflow needs to look around: the ``store``
    (a ``chatkit.store.Store``), the attachment ``files`` and the request ``metadata``.
    """

    project: str
    user_id: str
    workflow: Workflow
    store: ThreadStore
    files: FileStorage
    #: the server's public URL (no trailing slash), for upload and preview links
    base_url: str
    state_variables: dict[str, Any] = field(default_factory=dict)
    configuration: dict[str, Any] = field(default_factory=lambda: dict(SERVER_CONFIGURATION))
    #: ``None`` for server-to-server callers using a project API key
    session: SessionRow | None = None
    #: the ``metadata`` object of the protocol request
    metadata: dict[str, Any] = field(default_factory=dict)
    #: threads the request's checks just loaded (``protocol.preconditions``): the
    #: store's next ``load_thread`` of each in this request takes it instead of reading
    #: the same row again (``ThreadStore.load_thread``)
    checked_threads: dict[str, ThreadMetadata] = field(default_factory=dict)

    @property
    def user(self) -> str:
        return self.user_id

    @property
    def titling_enabled(self) -> bool:
        return bool(self.configuration["automatic_thread_titling"]["enabled"])

    @property
    def file_upload(self) -> dict[str, Any]:
        return dict(self.configuration["file_upload"])

    @property
    def history(self) -> dict[str, Any]:
        return dict(self.configuration["history"])

    async def load_history(self, thread_id: str, limit: int = 100) -> list[ThreadItem]:
        """The thread's last ``limit`` items (hidden ones included), oldest first."""
        page = await self.store.list_items(
            self.project, thread_id, PageQuery(limit=limit, order="desc"), rest_only=False
        )
        return [row.to_protocol() for row in reversed(page.rows)]
