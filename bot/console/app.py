"""The staff console's Starlette app: one route table that says who may call what, and the guard that enforces it.

:data:`ROUTES` is the single place where access is decided: each entry names its path, method,
view, kind and roles. The kind says what an unauthenticated caller gets: a ``page`` redirects to
``/login`` (303), a ``fragment`` (htmx polling) or an ``action`` (any POST) answers 401; a caller
with another role gets 403. Every POST also needs the session's CSRF token (form field ``csrf`` or
the ``X-CSRF-Token`` header htmx sends), else 403. Views are blocking and run in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.channels.store import ChannelStore
from bot.console import analytics_views, privacy_views, training_views, views
from bot.console.auth import ROLES, Accounts, User
from bot.console.labels import t
from bot.console.store import ConsoleStore
from bot.console.training import TrainingDesk, default_training_desk
from bot.console.web import Console, Ctx, SecurityHeaders, client_address, csrf_valid, make_templates
from bot.db import engine_for
from bot.db.clock import naive_utc
from bot.helpdesk.handoff import HandoffDesk
from bot.runtime import metrics
from bot.settings import settings

__all__ = ["ROUTES", "Access", "create_app"]

logger = logging.getLogger(__name__)
SESSION_COOKIE = "console_session"
MAX_FORM_BYTES = 64_000
PUBLIC, PAGE, FRAGMENT, ACTION = "public", "page", "fragment", "action"

ALL = frozenset(ROLES)
STAFF = frozenset({"agent", "supervisor", "admin"})
READERS = frozenset({"agent", "trainer", "supervisor", "admin"})
SUPERVISORS = frozenset({"supervisor", "admin"})
UNMASKERS = SUPERVISORS  # who may read a sealed original
TRAINERS = frozenset({"trainer", "supervisor", "admin"})
OVERRIDERS = SUPERVISORS  # who may promote a model that failed the gate (bot.training.gate.OVERRIDE_ROLES)
ADMIN = frozenset({"admin"})


@dataclass(frozen=True)
class Access:
    """One route: path, method, view, kind (public, page, fragment, action) and the roles allowed."""

    path: str
    method: str
    view: Callable[[Ctx], Response]
    kind: str
    roles: frozenset[str] = frozenset()


# The one table of who may do what. A test walks app.routes against it for every role.
ROUTES: tuple[Access, ...] = (
    Access("/health", "GET", views.health, PUBLIC),
    Access("/static/{name}", "GET", views.static, PUBLIC),
    Access("/login", "GET", views.login_page, PUBLIC),
    Access("/login", "POST", views.login, PUBLIC),
    Access("/logout", "POST", views.logout, ACTION, ALL),
    Access("/account/password", "GET", views.password_page, PAGE, ALL),
    Access("/account/password", "POST", views.change_password, ACTION, ALL),
    # Hàng chờ and handoffs
    Access("/", "GET", views.queue_page, PAGE, STAFF),
    Access("/queue/fragment", "GET", views.queue_fragment, FRAGMENT, STAFF),
    Access("/handoffs/{handoff_id:int}", "GET", views.handoff_page, PAGE, STAFF),
    Access("/handoffs/{handoff_id:int}/turns", "GET", views.handoff_turns, FRAGMENT, STAFF),
    Access("/handoffs/{handoff_id:int}/claim", "POST", views.claim, ACTION, STAFF),
    Access("/handoffs/{handoff_id:int}/take-over", "POST", views.take_over, ACTION, UNMASKERS),
    Access("/handoffs/{handoff_id:int}/reply", "POST", views.reply, ACTION, STAFF),
    Access("/handoffs/{handoff_id:int}/note", "POST", views.note, ACTION, STAFF),
    Access("/handoffs/{handoff_id:int}/transfer", "POST", views.transfer, ACTION, STAFF),
    Access("/handoffs/{handoff_id:int}/close", "POST", views.close, ACTION, STAFF),
    # Gọi lại
    Access("/callbacks", "GET", views.callbacks, PAGE, STAFF),
    Access("/callbacks/{callback_id:int}/mark", "POST", views.mark_callback, ACTION, STAFF),
    # Hội thoại
    Access("/conversations", "GET", views.conversations, PAGE, READERS),
    Access("/conversations/{sender_id}", "GET", views.transcript, PAGE, READERS),
    Access("/conversations/{sender_id}/unmask", "POST", views.unmask, ACTION, UNMASKERS),
    Access("/conversations/{sender_id}/flag", "POST", training_views.flag_turn, ACTION, READERS),
    # Huấn luyện: the NLU inbox, new intents, the reviewed data, training runs, the model registry
    Access("/training", "GET", training_views.inbox_page, PAGE, TRAINERS),
    Access("/training/items/{key}/confirm", "POST", training_views.confirm, ACTION, TRAINERS),
    Access("/training/items/{key}/change", "POST", training_views.change, ACTION, TRAINERS),
    Access("/training/items/{key}/procedure", "POST", training_views.mark_procedure, ACTION, TRAINERS),
    Access("/training/items/{key}/ignore", "POST", training_views.ignore, ACTION, TRAINERS),
    Access("/training/procedures", "GET", training_views.procedure_search, FRAGMENT, TRAINERS),
    Access("/training/intents/new", "GET", training_views.intent_page, PAGE, TRAINERS),
    Access("/training/intents", "POST", training_views.intent_create, ACTION, TRAINERS),
    Access("/training/export", "GET", training_views.export_page, PAGE, TRAINERS),
    Access("/training/export", "POST", training_views.export_write, ACTION, TRAINERS),
    Access("/training/runs", "GET", training_views.runs_page, PAGE, TRAINERS),
    Access("/training/runs", "POST", training_views.start_run, ACTION, TRAINERS),
    Access("/training/runs/{run_id:int}", "GET", training_views.run_page, PAGE, TRAINERS),
    Access("/training/runs/{run_id:int}/progress", "GET", training_views.run_progress, FRAGMENT, TRAINERS),
    Access("/training/models", "GET", training_views.models_page, PAGE, TRAINERS),
    Access("/training/models/{model_id:int}", "GET", training_views.model_compare, PAGE, TRAINERS),
    Access("/training/models/{model_id:int}/promote", "POST", training_views.promote, ACTION, TRAINERS),
    Access("/training/models/{model_id:int}/override", "POST", training_views.override, ACTION, OVERRIDERS),
    Access("/training/models/{model_id:int}/reject", "POST", training_views.reject, ACTION, TRAINERS),
    Access("/training/models/{model_id:int}/rollback", "POST", training_views.rollback, ACTION, TRAINERS),
    # Thống kê
    Access("/analytics", "GET", analytics_views.dashboard, PAGE, SUPERVISORS),
    Access("/analytics/csv/{chart}", "GET", analytics_views.dashboard_csv, PAGE, SUPERVISORS),
    # Quản trị
    Access("/admin/users", "GET", views.users, PAGE, ADMIN),
    Access("/admin/users", "POST", views.create_user, ACTION, ADMIN),
    Access("/admin/users/{user_id:int}/disabled", "POST", views.set_user_disabled, ACTION, ADMIN),
    Access("/admin/users/{user_id:int}/password", "POST", views.reset_password, ACTION, ADMIN),
    Access("/admin/users/{user_id:int}/role", "POST", views.set_role, ACTION, ADMIN),
    Access("/admin/calendar", "GET", views.calendar, PAGE, ADMIN),
    Access("/admin/calendar", "POST", views.add_calendar_day, ACTION, ADMIN),
    Access("/admin/calendar/remove", "POST", views.remove_calendar_day, ACTION, ADMIN),
    Access("/admin/privacy", "GET", privacy_views.privacy_page, PAGE, ADMIN),
    Access("/admin/privacy/find", "POST", privacy_views.resolve, ACTION, ADMIN),
    Access("/admin/privacy/export", "POST", privacy_views.export, ACTION, ADMIN),
    Access("/admin/privacy/erase", "POST", privacy_views.erase, ACTION, ADMIN),
    Access("/admin/privacy/hold", "POST", privacy_views.hold, ACTION, ADMIN),
    Access("/admin/privacy/release", "POST", privacy_views.release, ACTION, ADMIN),
)


def _anonymous(request: Request, access: Access) -> Response:
    if access.kind == PAGE:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    return PlainTextResponse(t("errors.login_required"), status_code=401)


def _current_user(request: Request, console: Console) -> User | None:
    """The session's user, if the session is still valid: not older than CONSOLE_SESSION_HOURS since the
    login, same session version (logout and password changes bump it), account enabled."""
    uid, version, at = request.session.get("uid"), request.session.get("sv"), request.session.get("at")
    if not isinstance(uid, int) or not isinstance(version, int) or not isinstance(at, str):
        return None
    try:
        age = console.clock() - datetime.fromisoformat(at)
    except ValueError:
        return None
    if age > timedelta(hours=settings().console.session_hours):
        return None
    user = console.accounts.get(uid)
    if user is None or user.disabled or user.session_version != version:
        return None
    return user


def _guard(access: Access) -> Callable[[Request], Any]:
    """The endpoint for ``access``: authentication, role, CSRF, then the view in a worker thread."""

    async def endpoint(request: Request) -> Response:
        console: Console = request.app.state.console
        user = await run_in_threadpool(_current_user, request, console)
        if user is None and "uid" in request.session:
            for key in ("uid", "sv", "at"):
                request.session.pop(key, None)
        if access.kind != PUBLIC:
            if user is None:
                return _anonymous(request, access)
            if user.role not in access.roles:
                return PlainTextResponse(t("errors.forbidden"), status_code=403)
        form: FormData | None = None
        if access.method == "POST":
            length = request.headers.get("content-length") or "0"
            if not length.isdigit() or int(length) > MAX_FORM_BYTES:
                return PlainTextResponse(t("errors.too_large"), status_code=413)
            form = await request.form(max_files=0, max_fields=50, max_part_size=MAX_FORM_BYTES)
            if not csrf_valid(request, form):
                return PlainTextResponse(t("errors.csrf"), status_code=403)
        ctx = Ctx(request, console, user, form, client_address(request))
        try:
            return await run_in_threadpool(access.view, ctx)
        except (ValueError, OverflowError) as exc:
            # A value no page can use (a damaged cursor, the year 9999, an id beyond the database's
            # integers): the staff member gets a 400, the log the kind of error (never the value).
            logger.info("console: %s %s refused: %s", access.method, access.path, type(exc).__name__)
            return ctx.error(400, t("errors.bad_request"))

    endpoint.__name__ = access.view.__name__
    endpoint.__doc__ = access.view.__doc__
    return endpoint


def _default_filter_factory() -> Callable[..., Any]:
    from bot.conversations.query import ConversationFilter

    return ConversationFilter


def _default_unseal() -> Callable[[str], str]:
    from bot.privacy import unseal

    return unseal


def _default_privacy(engine: Engine) -> Any:
    """The personal-data lifecycle over ``engine`` and the tracker store, holding Rasa's conversation lock.

    Production (``REDIS_HOST`` set) locks through endpoints.prod.yml's Redis lock store, as every Rasa
    replica does; on one machine the tracker store's erasure tombstone protects a turn in flight.
    Rasa's lock store is imported on the first erasure only: the console never loads Rasa otherwise.
    """
    from bot.privacy.lifecycle import DataLifecycle
    from bot.settings import PROJECT_ROOT

    endpoints = PROJECT_ROOT / "endpoints.prod.yml" if settings().production.redis_host else None

    def lock(sender_id: str) -> Any:
        from bot.runtime.conversation_lock import conversation_lock

        return conversation_lock(sender_id, endpoints)

    return DataLifecycle(engine, lock=lock)


def create_app(
    *,
    engine: Engine | None = None,
    staff_desk: Any = None,
    record: Any = None,
    clock: Callable[[], datetime] | None = None,
    callbacks: Any = None,
    calendar: Any = None,
    accounts: Accounts | None = None,
    unseal: Callable[[str], str] | None = None,
    filter_factory: Callable[..., Any] | None = None,
    privacy: Any = None,
    training: TrainingDesk | None = None,
    project_root: Path | None = None,
) -> Starlette:
    """The console app over ``engine`` (default: the configured database).

    Every service can be injected (tests pass a temp database and fakes); the defaults are the real
    ones: StaffDesk, ConversationRecord, CallbackBook, CalendarDays, ``bot.privacy.unseal``, and
    :class:`bot.privacy.lifecycle.DataLifecycle` over the tracker store with Rasa's conversation lock.
    ``clock`` gives naive UTC now (lockouts, audit times, waiting times). ``training``: the trainer's services
    (default :func:`bot.console.training.default_training_desk` over ``engine`` and ``project_root``, the
    project tree whose training data the trainer's pages write; default ``PROJECT_ROOT``).
    """
    engine = engine or engine_for()
    clock = clock or naive_utc
    if record is None:
        from bot.conversations.query import ConversationRecord

        record = ConversationRecord(engine)
    if staff_desk is None:
        from bot.helpdesk.service import StaffDesk

        staff_desk = StaffDesk(record=record, engine=engine, last_message_at=ChannelStore(engine).last_user_message)
    if callbacks is None:
        from bot.helpdesk.callbacks import CallbackBook

        callbacks = CallbackBook(engine)
    if calendar is None:
        from bot.helpdesk.calendar_days import CalendarDays

        calendar = CalendarDays(engine)
    cfg = settings().console
    console = Console(
        engine=engine,
        staff_desk=staff_desk,
        record=record,
        callbacks=callbacks,
        calendar=calendar,
        accounts=accounts or Accounts(engine, clock=clock),
        store=ConsoleStore(engine, clock=clock),
        clock=clock,
        unseal=unseal or _default_unseal(),
        filter_factory=filter_factory or _default_filter_factory(),
        privacy=privacy or _default_privacy(engine),
        templates=make_templates(),
        training=training or default_training_desk(engine, project_root),
    )
    middleware = [
        Middleware(metrics.ConsoleRequestCounter),  # outermost: sees every response's final status
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=cfg.secret.reveal(),
            session_cookie=SESSION_COOKIE,
            max_age=int(timedelta(hours=cfg.session_hours).total_seconds()),
            same_site="strict",
            https_only=cfg.secure_cookie,
        ),
    ]
    routes = [Route(a.path, _guard(a), methods=[a.method], name=f"{a.method} {a.path}") for a in ROUTES]
    # Prometheus is no staff member: /metrics stays outside ROUTES, guarded by METRICS_TOKEN alone.
    routes.append(Route(metrics.METRICS_PATH, metrics.starlette_endpoint, methods=["GET"], name="GET /metrics"))
    metrics.watch_handoffs(HandoffDesk(engine))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.console = console
    return app
