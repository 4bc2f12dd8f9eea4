"""What every console view works with: the services (:class:`Console`), the request context (:class:`Ctx`),
the templates and the security headers."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.console import labels
from bot.console.auth import Accounts, User
from bot.console.labels import t
from bot.console.store import ConsoleStore
from bot.db.clock import to_vn
from bot.settings import settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "Console",
    "Ctx",
    "SecurityHeaders",
    "client_address",
    "csrf_token",
    "csrf_valid",
    "make_templates",
]

TEMPLATES_DIR = Path(__file__).with_name("templates")
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


@dataclass
class Console:
    """The services the console's views call (real ones, or fakes in tests). All blocking."""

    engine: Engine
    staff_desk: Any  # bot.helpdesk.service.StaffDesk
    record: Any  # bot.conversations.query.ConversationRecord
    callbacks: Any  # bot.helpdesk.callbacks.CallbackBook
    calendar: Any  # bot.helpdesk.calendar_days.CalendarDays
    accounts: Accounts
    store: ConsoleStore
    clock: Callable[[], datetime]
    unseal: Callable[[str], str]
    filter_factory: Callable[..., Any]  # bot.conversations.query.ConversationFilter
    templates: Jinja2Templates = field(repr=False)
    privacy: Any = None  # bot.privacy.lifecycle.DataLifecycle
    training: Any = None  # bot.console.training.TrainingDesk


@dataclass
class Ctx:
    """One request as a view sees it: who asks, the submitted form, and the services."""

    request: Request
    console: Console
    user: User | None
    form: FormData | None = None
    client: str = ""

    @property
    def me(self) -> User:
        """The logged-in user (views behind a role always have one)."""
        assert self.user is not None
        return self.user

    @property
    def htmx(self) -> bool:
        """Whether htmx sent the request (it wants a fragment)."""
        return self.request.headers.get("hx-request") == "true"

    def field(self, name: str, default: str = "") -> str:
        """A text field of the submitted form ('' when absent or a file)."""
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else default

    def query(self, name: str, default: str = "") -> str:
        """A query-string parameter, stripped."""
        return self.request.query_params.get(name, default).strip()

    def audit(self, action: str, target: str | None = None, reason: str | None = None) -> None:
        """Write an audit row for the current user."""
        name = self.user.username if self.user is not None else "-"
        self.console.store.audit(name, action, target, reason, self.client)

    def render(self, template: str, context: Mapping[str, Any] | None = None, status: int = 200) -> HTMLResponse:
        """Render ``template`` with the common context (user, CSRF token, the time now)."""
        data = {"user": self.user, "csrf": csrf_token(self.request), "now": self.console.clock(),
                "live_model": self._live_model}  # fmt: skip
        data.update(context or {})
        return self.console.templates.TemplateResponse(self.request, template, data, status_code=status)

    def _live_model(self) -> str:
        """The live model's id for the header (called by base.html only, so fragments cost nothing)."""
        training = self.console.training
        return training.live_label() if training is not None else "—"

    def error(self, status: int, message: str) -> Response:
        """An error page (or fragment for htmx) with ``message``, a staff sentence."""
        if self.htmx:
            return self.render("_message.html", {"message": message, "kind": "error"}, status)
        return self.render("error.html", {"message": message, "status": status}, status)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_valid(request: Request, form: FormData | None) -> bool:
    """Whether the request carries the session's CSRF token (form field or X-CSRF-Token header)."""
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not expected:
        return False
    sent = request.headers.get(CSRF_HEADER) or (form.get(CSRF_FIELD) if form is not None else None)
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), expected.encode())


def client_address(request: Request) -> str:
    """The client's address: the peer, or the nearest untrusted hop of X-Forwarded-For behind a trusted proxy."""
    remote = request.client.host if request.client else ""
    trusted = set(settings().core.trusted_proxies)
    forwarded = request.headers.get("x-forwarded-for")
    if remote not in trusted or not forwarded:
        return remote
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote
        if hop not in trusted:
            return hop
    return remote


# -- templates ---------------------------------------------------------------------------------


def _vn(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return to_vn(value).strftime(fmt) if value is not None else "—"


def _entities(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        parts = []
        for item in value:
            if isinstance(item, Mapping):
                parts.append(f"{item.get('entity', '?')}={item.get('value', '')}")
            else:
                parts.append(str(item))
        return ", ".join(parts)
    return str(value)


def _join(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        return value
    return ", ".join(str(v) for v in value)


def _minutes(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "—"
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return t("common.minutes", minutes=minutes)
    return t("common.hours_minutes", hours=minutes // 60, minutes=minutes % 60)


def _confidence(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _percent(value: Any) -> str:
    """A rate 0..1 as "93.5 %" (a yes/no as such, nothing as "—")."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return t("common.yes") if value else t("common.no")
    if isinstance(value, (int, float)):
        return f"{100 * value:.1f} %"
    return str(value)


def _signed(value: Any) -> str:
    """A difference of rates 0..1 in points, with its sign: "+1.2", "−0.4", "0.0"."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—" if value is None else str(value)
    points = 100 * value
    if abs(points) < 0.05:
        return "0.0"
    return f"+{points:.1f}" if points > 0 else f"\u2212{abs(points):.1f}"


def make_templates() -> Jinja2Templates:
    """The console's Jinja2 templates (autoescaped: citizen and staff text is always shown as text).

    Templates read their sentences with ``t("key", **values)`` and label codes with the ``*_label`` filters.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = t
    env.filters.update(vn=_vn, entities=_entities, join_list=_join, minutes=_minutes, confidence=_confidence,
                       channel=labels.channel_label, problem=labels.problem_label, role_label=labels.role_label,
                       reason_label=labels.reason_label, end_reason_label=labels.end_reason_label,
                       handoff_state_label=labels.handoff_state_label, author_label=labels.author_label,
                       callback_state_label=labels.callback_state_label,
                       answer_type_label=labels.answer_type_label, pii_kind_label=labels.pii_kind_label,
                       decision_label=labels.decision_label, model_state_label=labels.model_state_label,
                       run_state_label=labels.run_state_label, run_phase_label=labels.run_phase_label,
                       run_kind_label=labels.run_kind_label, run_error_label=labels.run_error_label,
                       percent=_percent, signed=_signed)  # fmt: skip
    return Jinja2Templates(env=env)


# -- headers -----------------------------------------------------------------------------------


class SecurityHeaders:
    """Adds CSP, X-Frame-Options and friends to every response; pages are never cached (transcripts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control" or static]
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
