"""Serves the web widget (page, script, style, socket.io client) from Rasa's own HTTP server.

Registered in credentials.yml as ``bot.channels.widget.WidgetInput``; the files
are served under ``/widget/`` (``/widget/widget.js`` is the one script tag a
portal embeds). The widget talks to Rasa's ``socketio`` channel on the same
server. Nothing is fetched from anywhere else: the socket.io browser client
comes from ``npm ci`` (``node_modules/socket.io-client``, pinned in
package-lock.json), optionally copied to ``bot/channels/web/vendor/`` at
install time.

Its words come from the wording catalogue (``channel.widget.*``, ``chat.greet``): when
served, ``widget.js`` gets them as a JSON object in place of its ``/*@wording*/{}``
marker, and ``index.html``'s ``{{key}}`` markers are replaced by the escaped sentences.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import PROJECT_ROOT
from bot.wording import catalogue
from bot.wording import text as wording

WEB_DIR = Path(__file__).with_name("web")
SOCKET_IO_CANDIDATES = (
    WEB_DIR / "vendor" / "socket.io.min.js",
    PROJECT_ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js",
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
ASSETS = ("index.html", "widget.js", "widget.css", "socket.io.min.js")
# The sentences widget.js reads with t("key"); tests/test_wording.py checks the script names exactly these.
WIDGET_KEYS = (
    "chat.greet",
    "channel.attachment_link",
    "channel.widget.title",
    "channel.widget.open",
    "channel.widget.close",
    "channel.widget.new_chat",
    "channel.widget.new_chat_hint",
    "channel.widget.log_label",
    "channel.widget.input_label",
    "channel.widget.input_placeholder",
    "channel.widget.send",
    "channel.widget.privacy_hint",
    "channel.widget.from_user",
    "channel.widget.from_bot",
    "channel.widget.replies_label",
    "channel.widget.typing",
    "channel.widget.slow",
    "channel.widget.connecting",
    "channel.widget.reconnected",
    "channel.widget.reconnecting",
    "channel.widget.queued",
    "channel.widget.cannot_connect",
    "channel.widget.client_missing",
)
# In widget.js: the object the served script gets its sentences in (the file as is has none: neutral UI).
SCRIPT_MARKER = "/*@wording*/{}"
# In index.html: {{channel.widget.title}} and the like.
PAGE_MARKER = re.compile(r"\{\{\s*([a-z0-9_.]+)\s*\}\}")


def asset_path(name: str) -> Path | None:
    """The file behind a widget URL name (only the fixed set in :data:`ASSETS`), or ``None``."""
    if name not in ASSETS:
        return None
    if name == "socket.io.min.js":
        return next((p for p in SOCKET_IO_CANDIDATES if p.is_file()), None)
    path = WEB_DIR / name
    return path if path.is_file() else None


def script_wording() -> dict[str, str]:
    """The sentences widget.js uses, by key (:data:`WIDGET_KEYS`)."""
    return {key: wording(key) for key in WIDGET_KEYS}


def _page_sentence(key: str) -> str:
    """The sentence under ``key`` as HTML: escaped, with ``{button}`` as the launcher's label in bold."""
    # Fill placeholders with markers first, so the sentence is escaped but the <strong> is not.
    values = {name: f"\x00{name}\x00" for name in catalogue().placeholders(key)}
    out = html.escape(wording(key, **values))
    filled = {"button": f"<strong>{html.escape(wording('channel.widget.open'))}</strong>"}
    for name in values:
        out = out.replace(f"\x00{name}\x00", filled[name])
    return out


def render(name: str, body: bytes) -> bytes:
    """``body`` of widget file ``name`` with the catalogue's sentences filled in (other files unchanged).

    Raises :class:`~bot.wording.UnknownWordingKey` for a marker naming no sentence.
    """
    if name == "widget.js":
        words = json.dumps(script_wording(), ensure_ascii=False)
        return body.decode("utf-8").replace(SCRIPT_MARKER, f"/*@wording*/{words}", 1).encode("utf-8")
    if name == "index.html":
        return PAGE_MARKER.sub(lambda m: _page_sentence(m.group(1)), body.decode("utf-8")).encode("utf-8")
    return body


def asset(name: str) -> tuple[bytes, str] | None:
    """``(content, content type)`` of a widget file as served (:func:`render`); ``None`` if unknown or missing."""
    path = asset_path(name)
    if path is None:
        return None
    return render(name, path.read_bytes()), CONTENT_TYPES[path.suffix]


class WidgetInput(InputChannel):
    """Static files of the widget at ``/widget/``; messages go through Rasa's ``socketio`` channel."""

    @classmethod
    def name(cls) -> str:
        return "widget"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def url_prefix(self) -> str:
        # Absolute, so Rasa's urljoin("/webhooks/", ...) mounts it at /widget rather than /webhooks/widget.
        return "/widget"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("widget_static", __name__)

        @bp.route("/", methods=["GET"], strict_slashes=True)
        async def page(_: Request) -> HTTPResponse:
            return self._serve("index.html")

        @bp.route("", methods=["GET"], strict_slashes=True)
        async def bare(request: Request) -> HTTPResponse:
            return response.redirect(request.path.rstrip("/") + "/")

        @bp.route("/<name>", methods=["GET"])
        async def file(_: Request, name: str) -> HTTPResponse:
            return self._serve(name)

        return bp

    @staticmethod
    def _serve(name: str) -> HTTPResponse:
        found = asset(name)
        if found is None:
            if name == "socket.io.min.js":
                return response.text(
                    'console.error("socket.io client missing on the server: run `npm ci` in the project folder");',
                    status=503,
                    content_type=CONTENT_TYPES[".js"],
                )
            return response.text(wording("channel.file_not_found"), status=404)
        body, content_type = found
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        return response.raw(body, content_type=content_type, headers=headers)
