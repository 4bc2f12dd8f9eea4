"""Serves the web widget (page, script, style, socket.io client) from Rasa's own HTTP server.

Registered in credentials.yml as ``bot.channels.widget.WidgetInput``; the files
are served under ``/widget/`` (``/widget/widget.js`` is the one script tag a
portal embeds). The widget talks to Rasa's ``socketio`` channel on the same
server. Nothing is fetched from anywhere else: the socket.io browser client
comes from ``npm ci`` (``node_modules/socket.io-client``, pinned in
package-lock.json), optionally copied to ``bot/channels/web/vendor/`` at
install time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import PROJECT_ROOT
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


def asset_path(name: str) -> Path | None:
    """The file behind a widget URL name (only the fixed set in :data:`ASSETS`), or ``None``."""
    if name not in ASSETS:
        return None
    if name == "socket.io.min.js":
        return next((p for p in SOCKET_IO_CANDIDATES if p.is_file()), None)
    path = WEB_DIR / name
    return path if path.is_file() else None


def asset(name: str) -> tuple[bytes, str] | None:
    """``(content, content type)`` of a widget file, or ``None`` when unknown or missing."""
    path = asset_path(name)
    if path is None:
        return None
    return path.read_bytes(), CONTENT_TYPES[path.suffix]


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
