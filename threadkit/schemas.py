"""Pydantic models of the REST shapes (``chatkit.thread`` and ``chatkit.thread_item``).

They mirror the schemas of OpenAI's ChatKit API and are used to validate what
enters threadkit in the REST shape (imports). Responses are built from stored
JSON directly, not through these models, to keep the read path lean.
Unknown extra fields are kept (the hosted API may add fields; storage is lossless).
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

# Ids and user names are looked up as text; PostgreSQL text cannot hold NUL.
_NO_NUL = r"^[^\x00]*$"


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class ActiveStatus(_Shape):
    type: Literal["active"]


class LockedStatus(_Shape):
    type: Literal["locked"]
    reason: StrictStr | None = None


class ClosedStatus(_Shape):
    type: Literal["closed"]
    reason: StrictStr | None = None


ThreadStatus = Annotated[ActiveStatus | LockedStatus | ClosedStatus, Field(discriminator="type")]


class RestThread(_Shape):
    id: StrictStr = Field(min_length=1, max_length=512, pattern=_NO_NUL)
    object: Literal["chatkit.thread"]
    created_at: StrictInt = Field(ge=0)
    status: ThreadStatus
    title: Annotated[StrictStr, Field(pattern=_NO_NUL)] | None
    user: StrictStr = Field(min_length=1, max_length=512, pattern=_NO_NUL)


class InputText(_Shape):
    type: Literal["input_text"]
    text: StrictStr


class QuotedText(_Shape):
    type: Literal["quoted_text"]
    text: StrictStr


class Attachment(_Shape):
    type: Literal["image", "file"]
    id: StrictStr
    name: StrictStr
    mime_type: StrictStr
    preview_url: StrictStr | None


class ToolChoice(_Shape):
    id: StrictStr


class InferenceOptions(_Shape):
    tool_choice: ToolChoice | None
    model: StrictStr | None


class FileSource(_Shape):
    type: Literal["file"]
    filename: StrictStr


class UrlSource(_Shape):
    type: Literal["url"]
    url: StrictStr


class FileAnnotation(_Shape):
    type: Literal["file"]
    source: FileSource


class UrlAnnotation(_Shape):
    type: Literal["url"]
    source: UrlSource


class OutputText(_Shape):
    type: Literal["output_text"]
    text: StrictStr
    annotations: list[Annotated[FileAnnotation | UrlAnnotation, Field(discriminator="type")]]


class TaskGroupTask(_Shape):
    type: Literal["custom", "thought"]
    heading: StrictStr | None
    summary: StrictStr | None


class _ItemBase(_Shape):
    id: StrictStr = Field(min_length=1, max_length=512, pattern=_NO_NUL)
    object: Literal["chatkit.thread_item"]
    created_at: StrictInt = Field(ge=0)
    thread_id: StrictStr = Field(min_length=1, max_length=512, pattern=_NO_NUL)


class UserMessageItem(_ItemBase):
    type: Literal["chatkit.user_message"]
    content: list[Annotated[InputText | QuotedText, Field(discriminator="type")]]
    attachments: list[Attachment]
    inference_options: InferenceOptions | None


class AssistantMessageItem(_ItemBase):
    type: Literal["chatkit.assistant_message"]
    content: list[OutputText]


class WidgetItem(_ItemBase):
    type: Literal["chatkit.widget"]
    widget: StrictStr


class ClientToolCallItem(_ItemBase):
    type: Literal["chatkit.client_tool_call"]
    status: Literal["in_progress", "completed"]
    call_id: StrictStr
    name: StrictStr
    arguments: StrictStr
    output: StrictStr | None


class TaskItem(_ItemBase):
    type: Literal["chatkit.task"]
    task_type: Literal["custom", "thought"]
    heading: StrictStr | None
    summary: StrictStr | None


class TaskGroupItem(_ItemBase):
    type: Literal["chatkit.task_group"]
    tasks: list[TaskGroupTask]


RestItem = Annotated[
    UserMessageItem
    | AssistantMessageItem
    | WidgetItem
    | ClientToolCallItem
    | TaskItem
    | TaskGroupItem,
    Field(discriminator="type"),
]

REST_ITEM_TYPES = (
    "chatkit.user_message",
    "chatkit.assistant_message",
    "chatkit.widget",
    "chatkit.client_tool_call",
    "chatkit.task",
    "chatkit.task_group",
)

__all__ = ["REST_ITEM_TYPES", "RestItem", "RestThread"]
