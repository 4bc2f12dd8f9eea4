"""socket.io channel for the web widget, with sessions bound to the browser that was given them.

Replaces Rasa's ``socketio`` channel (same name, path and events). Rasa's own channel
lets a client name any ``session_id`` in ``session_request`` and in every message,
so a second client that sends another user's id receives that user's replies and
writes into their conversation. Here:

- ``session_request`` resumes a session only with the ``session_token`` issued with
  it (an HMAC of the id under ``SESSION_SECRET``); otherwise a new session is issued.
  ``session_confirm`` carries ``{"session_id", "session_token"}``;
- the session belongs to the socket: messages are filed under the socket's own
  session, whatever ``session_id`` a message names;
- the conversation id is ``"socketio:<session_id>"``;
- the socket's origin must be one of ``CORS_ORIGINS``;
- messages must be strings within ``MAX_MESSAGE_CHARS`` (longer ones get the polite
  "too long" reply); ``metadata`` from the client is not passed on, only the server's
  ``requester`` (a keyed hash of the client address).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOOutput
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from bot.channels.inbound import clean_text, client_address, conversation_id, requester_key, too_long, too_long_reply
from bot.settings import settings

logger = logging.getLogger(__name__)

CHANNEL_NAME = "socketio"
_SESSION_ID_CHARS = 64


def session_token(session_id: str) -> str:
    """The token that proves a browser was issued ``session_id``."""
    key = settings().core.session_secret.reveal().encode()
    # surrogatepass: a client can send any string, lone surrogates included, and must get a refusal, not a crash.
    message = f"widget-session:{session_id}".encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _resumable(data: Any) -> str | None:
    """The session id in a ``session_request`` when its token is valid, else None."""
    if not isinstance(data, dict):
        return None
    session_id, token = data.get("session_id"), data.get("session_token")
    if not isinstance(session_id, str) or not isinstance(token, str) or not 0 < len(session_id) <= _SESSION_ID_CHARS:
        return None
    given = token.encode("utf-8", "surrogatepass")
    return session_id if hmac.compare_digest(given, session_token(session_id).encode()) else None


class _PatientRedisManager(AsyncRedisManager):
    """python-socketio's Redis manager, waiting (1 s, doubling to 30 s) between tries while Redis is away.

    Its listener re-tried at once on errors it does not expect (a refused connection), printing a
    traceback each time: a replica wrote 260 MB of them in a minute while Redis was down.
    """

    async def _listen(self) -> Any:
        delay = 1.0
        while True:
            try:
                async for message in super()._listen():
                    delay = 1.0
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure to reach Redis: wait, reconnect, listen again
                logger.warning("socket.io cannot reach Redis (%s); retrying in %.0f s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                with contextlib.suppress(Exception):
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)


class SocketIOInput(RasaSocketIOInput):
    """The widget's socket.io channel (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            True,  # sessions always persist (bound to their token)
            credentials.get("socketio_path", "/socket.io"),
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The socket.io server and a health route."""
        queue = settings().channels.socketio_message_queue
        # With several replicas, a reply produced on one (a staff reply, a dossier notice) must reach the
        # widget whose websocket another one holds: rooms are shared through Redis.
        manager = _PatientRedisManager(queue) if queue else None
        sio = AsyncServer(
            async_mode="sanic", cors_allowed_origins=list(settings().core.cors_origins), client_manager=manager
        )
        bp = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            request = environ.get("sanic.request")
            peer = getattr(request, "ip", "") or environ.get("REMOTE_ADDR", "")
            address = client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"))
            await sio.save_session(sid, {"requester": requester_key("ip", address)}, namespace=self.namespace)
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            session_id = _resumable(data) or uuid.uuid4().hex
            state = await sio.get_session(sid, namespace=self.namespace)
            old = state.get("conversation")
            if old:
                sio.leave_room(sid, old, namespace=self.namespace)
            state["conversation"] = conversation_id(CHANNEL_NAME, session_id)
            await sio.save_session(sid, state, namespace=self.namespace)
            sio.enter_room(sid, state["conversation"], namespace=self.namespace)
            await sio.emit(
                "session_confirm",
                {"session_id": session_id, "session_token": session_token(session_id)},
                room=sid,
                namespace=self.namespace,
            )

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            state = await sio.get_session(sid, namespace=self.namespace)
            conversation = state.get("conversation")
            text = data.get("message") if isinstance(data, dict) else None
            if not conversation or not isinstance(text, str):
                logger.warning("socket.io: a message without a confirmed session or text was ignored")
                return
            output = SocketIOOutput(sio, self.bot_message_evt)
            if too_long(text):
                await output.send_text_message(conversation, too_long_reply())
                return
            await on_new_message(
                UserMessage(
                    clean_text(text),
                    output,
                    conversation,
                    input_channel=CHANNEL_NAME,
                    metadata={"requester": state.get("requester")},
                )
            )

        return bp
