"""``GET /v1/chatkit/threads/{thread_id}/feedback``, a threadkit extension: the feedback
marks on a thread's items (what ``items.feedback`` stored over the protocol)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from threadkit.services.feedback import FeedbackService

from .auth import Authenticator
from .responses import JSONResponse
from .routing import route


def routes(auth: Authenticator, feedback: FeedbackService) -> list[Route]:
    async def thread_feedback(request: Request) -> JSONResponse:
        key = await auth.project_key(request)
        return JSONResponse(await feedback.of_thread(key.project, request.path_params["thread_id"]))

    return [route("/v1/chatkit/threads/{thread_id}/feedback", thread_feedback, methods=["GET"])]
