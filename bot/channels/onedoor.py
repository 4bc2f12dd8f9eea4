"""The one-door system's status webhook, served by the Rasa server at /webhooks/onedoor/status.

Not a chat channel: an HTTP route that Rasa hosts so a province needs no extra
server. The body is verified with ``ONEDOOR_WEBHOOK_SECRET``
(:meth:`bot.dossiers.watcher.DossierWatcher.handle_webhook`, whose module docstring
lists the rules and answers); a change is pushed to the citizens who follow that dossier.

The route streams the body and stops reading after ``MAX_BODY_BYTES`` + 1 bytes, so an
oversized request costs no more memory than that and is answered 413 by the watcher
(which also audits it); Sanic drains or drops the rest of the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

if TYPE_CHECKING:
    from bot.dossiers.watcher import DossierWatcher

SIGNATURE_HEADER = "X-Onedoor-Signature"


class OneDoorWebhookInput(InputChannel):
    """POST /webhooks/onedoor/status: signed status changes from the provincial one-door system."""

    @classmethod
    def name(cls) -> str:
        return "onedoor"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> OneDoorWebhookInput:
        return cls()

    @cached_property
    def watcher(self) -> DossierWatcher:
        from bot.dossiers.watcher import build_watcher  # lazy: the database is opened on the first webhook

        return build_watcher()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes: GET / (health) and POST /status (the webhook)."""
        bp = Blueprint("onedoor_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/status", methods=["POST"], stream=True)
        async def status(request: Request) -> HTTPResponse:
            from bot.dossiers.watcher import MAX_BODY_BYTES

            body = await _read_body(request, MAX_BODY_BYTES + 1)
            # The database and the push to Rasa are blocking: keep them off the event loop.
            result = await asyncio.to_thread(self.watcher.handle_webhook, body, request.headers.get(SIGNATURE_HEADER))
            return response.json(result.body, status=result.status)

        return bp


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, or only its first ``limit`` bytes when it is longer (the caller answers 413)."""
    if request.body or request.stream is None:  # already read (by Sanic or a middleware)
        return (request.body or b"")[:limit]
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream:
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]
