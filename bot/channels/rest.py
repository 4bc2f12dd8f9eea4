"""REST channel with validated input: ``POST /webhooks/rest/webhook {"sender": "...", "message": "..."}``.

Replaces Rasa's own ``rest`` channel (same name and URL), which answers 500 on a
body that is a list, a string, ``null`` or empty, puts every message without a
``sender`` into one shared conversation ``"default"``, stores any sender id, and
answers a non-string ``message`` with nothing. Here:

- the body must be a JSON object with a ``sender`` (1..``MAX_SENDER_ID_CHARS``
  characters of ``A-Z a-z 0-9 _ . : @ -``) and a string ``message``; anything else
  is 400 with the reason;
- ``message_id``, if given (1..64 characters of ``A-Z a-z 0-9 _ . : -``), names the message: a
  client that lost the answer (a timeout, a replica that stopped) sends the same message with the
  same id and gets the replies it was given, and the message is not processed twice
  (bot.runtime.rasa_patches.answer_each_message_once);
- ``metadata``, if given, must be an object, and is not passed on: the only metadata
  is the server's ``requester`` (a keyed hash of the client address), which the
  dossier lockout counts by;
- a message over ``MAX_MESSAGE_CHARS`` gets the polite "too long" reply, not the NLU;
- the conversation id is ``"rest:<sender>"``; replies name the client's own sender.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.inbound import (
    clean_text,
    client_address,
    conversation_id,
    requester_key,
    too_long,
    too_long_reply,
    valid_sender,
)
from bot.settings import settings

CHANNEL_NAME = "rest"
_MESSAGE_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _bad_request(reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=400)


class RestInput(InputChannel):
    """``POST /webhooks/rest/webhook``: one message in, the bot's replies out (a JSON list)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes: GET / (health) and POST /webhook."""
        bp = Blueprint("custom_rest_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = json.loads(request.body or b"")
            except (ValueError, RecursionError):
                return _bad_request('the body must be a JSON object: {"sender": "...", "message": "..."}')
            if not isinstance(body, dict):
                return _bad_request('the body must be a JSON object: {"sender": "...", "message": "..."}')
            sender, text, metadata = body.get("sender"), body.get("message"), body.get("metadata")
            if not valid_sender(sender):
                return _bad_request(
                    f"sender must be 1 to {settings().core.max_sender_id_chars} characters of A-Z, a-z, 0-9, _ . : @ -"
                )
            if not isinstance(text, str):
                return _bad_request("message must be a string")
            if metadata is not None and not isinstance(metadata, dict):
                return _bad_request("metadata must be an object")
            message_id = body.get("message_id")
            if message_id is not None and not (isinstance(message_id, str) and _MESSAGE_ID_RE.fullmatch(message_id)):
                return _bad_request("message_id must be 1 to 64 characters of A-Z, a-z, 0-9, _ . : -")
            if too_long(text):
                return response.json([{"recipient_id": sender, "text": too_long_reply()}])
            address = client_address(request.ip, request.headers.get("X-Forwarded-For"))
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    clean_text(text),
                    collector,
                    conversation_id(CHANNEL_NAME, sender),
                    input_channel=CHANNEL_NAME,
                    message_id=f"rest-{message_id}" if message_id else None,
                    metadata={"requester": requester_key("ip", address)},
                )
            )
            return response.json([{**m, "recipient_id": sender} for m in collector.messages])

        return bp
