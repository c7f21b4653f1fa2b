"""The session, protocol and attachment routes, wired to their services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from threadkit.attachments import FileStorage
from threadkit.attachments.local import LocalFileStorage
from threadkit.config import Settings
from threadkit.protocol.preconditions import Preconditions
from threadkit.protocol.reads import FastReads
from threadkit.protocol.server import ThreadkitServer
from threadkit.services.attachments import AttachmentService
from threadkit.services.chat_threads import ChatThreads
from threadkit.services.feedback import FeedbackService
from threadkit.services.ratelimit import RateLimiter
from threadkit.services.sessions import SessionService
from threadkit.stores import ThreadStore
from threadkit.workflows import WorkflowRegistry
from threadkit.workflows.config import load_registry

from . import protocol, sessions, uploads
from .auth import Authenticator, ProtocolAuthenticator


@dataclass
class ChatKitRoutes:
    routes: list[Any]
    files: FileStorage
    workflows: WorkflowRegistry
    #: the sessions' rate limit; its sweep runs with the app (``RateLimiter.start``)
    limiter: RateLimiter


def file_storage(settings: Settings) -> FileStorage:
    """The object store of ``settings.attachments_store``, else the local folder."""
    where = settings.attachments_store
    if where is None:
        return LocalFileStorage(settings.files_dir)
    from threadkit.attachments.s3 import S3FileStorage

    return S3FileStorage(
        where.bucket,
        where.prefix,
        endpoint_url=where.endpoint_url,
        region=where.region,
        access_key_id=where.access_key_id,
        secret_access_key=where.secret_access_key,
        session_token=where.session_token,
    )


def chatkit_routes(settings: Settings, store: ThreadStore, auth: Authenticator) -> ChatKitRoutes:
    """``/v1/chatkit/sessions…``, ``POST /chatkit`` and the attachment upload and preview
    routes, with the workflows of ``settings.config_path``."""
    workflows = load_registry(settings.config_path)
    files = file_storage(settings)
    session_service = SessionService(store, workflows)
    attachments = AttachmentService(store, files)
    threads = ChatThreads(store)
    limiter = RateLimiter(store)
    endpoint = protocol.ProtocolEndpoint(
        max_body_bytes=settings.max_body_bytes,
        authenticator=ProtocolAuthenticator(
            sessions=session_service,
            keys=auth.keys,
            limiter=limiter,
            workflows=workflows,
            store=store,
            files=files,
            public_url=settings.public_url,
        ),
        preconditions=Preconditions(threads, attachments),
        server=ThreadkitServer(store, threads, attachments, FeedbackService(store)),
        reads=FastReads(store) if settings.protocol_fast_reads else None,
    )
    return ChatKitRoutes(
        routes=[
            *sessions.routes(auth, session_service),
            *protocol.routes(endpoint),
            *uploads.routes(attachments, session_service),
        ],
        files=files,
        workflows=workflows,
        limiter=limiter,
    )


def cors_middleware(settings: Settings) -> list[Middleware]:
    """CORS for browser front ends calling ``/chatkit`` from ``settings.cors_origins``."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["retry-after", "x-request-id"],
            max_age=600,
        )
    ]


__all__ = ["ChatKitRoutes", "chatkit_routes", "cors_middleware", "file_storage"]
