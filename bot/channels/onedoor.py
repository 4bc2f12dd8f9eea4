"""The one-door system's status webhook, served by the Rasa server at /webhooks/onedoor/status.

Not a chat channel: an HTTP route that Rasa hosts so a province needs no extra
server. The body is verified with ``ONEDOOR_WEBHOOK_SECRET``
(:meth:`bot.dossiers.watcher.DossierWatcher.handle_webhook`); a change is pushed
to the citizens who follow that dossier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

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
    def watcher(self) -> Any:
        from bot.dossiers.watcher import build_watcher

        return build_watcher()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes: GET / (health) and POST /status (the webhook)."""
        bp = Blueprint("onedoor_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/status", methods=["POST"])
        async def status(request: Request) -> HTTPResponse:
            # The database and the push to Rasa are blocking: keep them off the event loop.
            result = await asyncio.to_thread(
                self.watcher.handle_webhook, request.body or b"", request.headers.get(SIGNATURE_HEADER)
            )
            return response.json(result.body, status=result.status)

        return bp
