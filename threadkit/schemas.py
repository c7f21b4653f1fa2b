"""The REST shapes (``chatkit.thread`` and ``chatkit.thread_item``) as pydantic-checked
typed dicts.

They mirror the schemas of OpenAI's ChatKit API and are used to validate what
enters threadkit in the REST shape (imports). Responses are built from stored
JSON directly, not through these types, to keep the read path lean.
Unknown extra fields are allowed (the hosted API may add fields; storage is lossless).
Typed dicts rather than models: an import only needs the verdict, and checking into
dicts takes half the time of building model instances (docs/performance.md).
"""

from typing import Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field, StrictInt, StrictStr, with_config
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

# Ids and user names are looked up as text; PostgreSQL text cannot hold NUL.
_NO_NUL = r"^[^\x00]*$"
_Id = Annotated[StrictStr, Field(min_length=1, max_length=512, pattern=_NO_NUL)]
_shape = with_config(ConfigDict(extra="allow", strict=True))


@_shape
class ActiveStatus(TypedDict):
    type: Literal["active"]


@_shape
class LockedStatus(TypedDict):
    type: Literal["locked"]
    reason: NotRequired[StrictStr | None]


@_shape
class ClosedStatus(TypedDict):
    type: Literal["closed"]
    reason: NotRequired[StrictStr | None]


ThreadStatus = Annotated[ActiveStatus | LockedStatus | ClosedStatus, Field(discriminator="type")]


@_shape
class RestThread(TypedDict):
    id: _Id
    object: Literal["chatkit.thread"]
    created_at: Annotated[StrictInt, Field(ge=0)]
    status: ThreadStatus
    title: Annotated[StrictStr, Field(pattern=_NO_NUL)] | None
    user: _Id


@_shape
class InputText(TypedDict):
    type: Literal["input_text"]
    text: StrictStr


@_shape
class QuotedText(TypedDict):
    type: Literal["quoted_text"]
    text: StrictStr


@_shape
class Attachment(TypedDict):
    type: Literal["image", "file"]
    id: StrictStr
    name: StrictStr
    mime_type: StrictStr
    preview_url: StrictStr | None


@_shape
class ToolChoice(TypedDict):
    id: StrictStr


@_shape
class InferenceOptions(TypedDict):
    tool_choice: ToolChoice | None
    model: StrictStr | None


@_shape
class FileSource(TypedDict):
    type: Literal["file"]
    filename: StrictStr


@_shape
class UrlSource(TypedDict):
    type: Literal["url"]
    url: StrictStr


@_shape
class FileAnnotation(TypedDict):
    type: Literal["file"]
    source: FileSource


@_shape
class UrlAnnotation(TypedDict):
    type: Literal["url"]
    source: UrlSource


@_shape
class OutputText(TypedDict):
    type: Literal["output_text"]
    text: StrictStr
    annotations: list[Annotated[FileAnnotation | UrlAnnotation, Field(discriminator="type")]]


@_shape
class TaskGroupTask(TypedDict):
    type: Literal["custom", "thought"]
    heading: StrictStr | None
    summary: StrictStr | None


@_shape
class _ItemBase(TypedDict):
    id: _Id
    object: Literal["chatkit.thread_item"]
    created_at: Annotated[StrictInt, Field(ge=0)]
    thread_id: _Id


@_shape
class UserMessageItem(_ItemBase):
    type: Literal["chatkit.user_message"]
    content: list[Annotated[InputText | QuotedText, Field(discriminator="type")]]
    attachments: list[Attachment]
    inference_options: InferenceOptions | None


@_shape
class AssistantMessageItem(_ItemBase):
    type: Literal["chatkit.assistant_message"]
    content: list[OutputText]


@_shape
class WidgetItem(_ItemBase):
    type: Literal["chatkit.widget"]
    widget: StrictStr


@_shape
class ClientToolCallItem(_ItemBase):
    type: Literal["chatkit.client_tool_call"]
    status: Literal["in_progress", "completed"]
    call_id: StrictStr
    name: StrictStr
    arguments: StrictStr
    output: StrictStr | None


@_shape
class TaskItem(_ItemBase):
    type: Literal["chatkit.task"]
    task_type: Literal["custom", "thought"]
    heading: StrictStr | None
    summary: StrictStr | None


@_shape
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
