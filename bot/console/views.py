"""The console's views: plain functions of a :class:`~bot.console.web.Ctx`, run in a worker thread.

Who may call which view is decided in one place, :data:`bot.console.app.ROUTES`; a view only does its job.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from bot.console import labels
from bot.console.auth import MIN_PASSWORD_CHARS, ROLES, AccountError
from bot.console.labels import t
from bot.console.web import Ctx
from bot.helpdesk.handoff import END_REASONS, Handoff, HandoffConflict, HandoffError
from bot.helpdesk.service import NoticeNotSent
from bot.settings import PROJECT_ROOT, settings

STATIC_DIR = Path(__file__).with_name("static")
STATIC_FILES: dict[str, tuple[tuple[Path, ...], str]] = {
    "console.css": ((STATIC_DIR / "console.css",), "text/css; charset=utf-8"),
    "console.js": ((STATIC_DIR / "console.js",), "application/javascript; charset=utf-8"),
    "htmx.min.js": (
        (STATIC_DIR / "vendor" / "htmx.min.js", PROJECT_ROOT / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"),
        "application/javascript; charset=utf-8",
    ),
    "dashboard.js": ((STATIC_DIR / "dashboard.js",), "application/javascript; charset=utf-8"),
    "chart.umd.min.js": (
        (
            STATIC_DIR / "vendor" / "chart.umd.min.js",
            PROJECT_ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js",
        ),
        "application/javascript; charset=utf-8",
    ),
}
MIN_UNMASK_REASON = 5
MAX_REASON_CHARS = 500
PAGE_SIZE = 50
HOMES = {"trainer": "/conversations"}


# -- public ------------------------------------------------------------------------------------


def health(ctx: Ctx) -> Response:
    """Liveness for the runner and the proxy."""
    return JSONResponse({"ok": True})


def static(ctx: Ctx) -> Response:
    """The console's own CSS and JS, and htmx from node_modules (never a CDN)."""
    name = ctx.request.path_params["name"]
    spec = STATIC_FILES.get(name)
    path = next((p for p in spec[0] if p.is_file()), None) if spec else None
    if spec is None or path is None:
        return Response(t("errors.not_found"), status_code=404, media_type="text/plain; charset=utf-8")
    return FileResponse(path, media_type=spec[1], headers={"cache-control": "private, max-age=300"})


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else ""


def login_page(ctx: Ctx) -> Response:
    """The login form (a logged-in user goes home)."""
    if ctx.user is not None:
        return RedirectResponse(HOMES.get(ctx.user.role, "/"), status_code=303)
    return ctx.render("login.html", {"next": _safe_next(ctx.query("next")), "message": ""})


def login(ctx: Ctx) -> Response:
    """Check the password; on success a fresh session (new CSRF token) holding the user and its version."""
    username = ctx.field("username").strip()
    result = ctx.console.accounts.login(username, ctx.field("password"))
    next_url = _safe_next(ctx.field("next"))
    if result.outcome != "ok" or result.user is None:
        ctx.console.store.audit(username[:100] or "-", f"login_{result.outcome}", None, None, ctx.client)
        if result.outcome == "locked":
            message = t("login.locked", minutes=int(ctx.console.accounts.lockout.total_seconds() // 60))
        else:
            message = t("login.failed")
        return ctx.render("login.html", {"next": next_url, "message": message, "username": username})
    user = result.user
    ctx.request.session.clear()
    ctx.request.session.update({"uid": user.id, "sv": user.session_version, "at": ctx.console.clock().isoformat()})
    ctx.user = user
    ctx.audit("login_ok")
    return RedirectResponse(next_url or HOMES.get(user.role, "/"), status_code=303)


def logout(ctx: Ctx) -> Response:
    """End every session of the user (old cookies stop working) and go to the login page."""
    ctx.console.accounts.end_sessions(ctx.me.id)
    ctx.audit("logout")
    ctx.request.session.clear()
    return RedirectResponse("/login", status_code=303)


def password_page(ctx: Ctx) -> Response:
    """The form to change one's own password."""
    return ctx.render("password.html", {"message": "", "kind": ""})


def change_password(ctx: Ctx) -> Response:
    """Change one's own password: other sessions end, this one continues."""
    new, again = ctx.field("new_password"), ctx.field("new_password_again")
    accounts = ctx.console.accounts
    if accounts.login(ctx.me.username, ctx.field("current_password")).outcome != "ok":
        return ctx.render("password.html", {"message": t("password.wrong_current"), "kind": "error"}, 400)
    if new != again:
        return ctx.render("password.html", {"message": t("password.mismatch"), "kind": "error"}, 400)
    try:
        user = accounts.set_password(ctx.me.username, new)
    except AccountError as exc:
        return ctx.render("password.html", {"message": str(exc), "kind": "error"}, 400)
    ctx.request.session.update({"uid": user.id, "sv": user.session_version})
    ctx.user = user
    ctx.audit("password_change", user.username)
    return ctx.render("password.html", {"message": t("password.changed"), "kind": "ok"})


# -- queue -------------------------------------------------------------------------------------


def _last_citizen_text(ctx: Ctx, sender_id: str) -> str:
    turns = ctx.console.record.transcript(sender_id)
    return next((turn.text for turn in reversed(turns) if turn.author == "citizen"), "")


def _queue_context(ctx: Ctx) -> dict[str, Any]:
    desk = ctx.console.staff_desk
    desk.seen(ctx.me.username)
    handoffs: list[Handoff] = desk.desk.queue()
    waiting = [h for h in handoffs if h.state == "waiting"]
    active = [h for h in handoffs if h.state == "active"]
    last = {h.sender_id: _last_citizen_text(ctx, h.sender_id) for h in waiting}
    return {"waiting": waiting, "active": active, "last": last, "online": desk.online()}


def queue_page(ctx: Ctx) -> Response:
    """Hàng chờ: waiting handoffs first, then the active ones; refreshed by :func:`queue_fragment`."""
    return ctx.render("queue.html", _queue_context(ctx))


def queue_fragment(ctx: Ctx) -> Response:
    """The queue's table, polled every second (also marks the agent online)."""
    return ctx.render("_queue.html", _queue_context(ctx))


# -- handoffs ----------------------------------------------------------------------------------


def _handoff_or_404(ctx: Ctx) -> Handoff | Response:
    handoff = ctx.console.store.handoff(ctx.request.path_params["handoff_id"])
    return handoff if handoff is not None else ctx.error(404, t("handoff.not_found"))


def _panel_context(ctx: Ctx, handoff: Handoff, **extra: Any) -> dict[str, Any]:
    desk = ctx.console.staff_desk
    me = ctx.me.username
    agents = [u for u in ctx.console.accounts.staff() if u.username != me]
    context = {
        "h": handoff,
        "mine": handoff.state == "active" and handoff.agent == me,
        "notes": ctx.console.store.notes(handoff.sender_id),
        "agents": agents,
        "online": set(desk.online()),
        "canned": desk.canned_replies(),
        "end_reasons": [(r, labels.end_reason_label(r)) for r in END_REASONS],
        "message": "",
        "kind": "",
        "reply": None,
    }
    context.update(extra)
    return context


def handoff_page(ctx: Ctx) -> Response:
    """One handoff: the masked transcript (polled for new turns) and the actions of the holder."""
    handoff = _handoff_or_404(ctx)
    if isinstance(handoff, Response):
        return handoff
    ctx.console.staff_desk.seen(ctx.me.username)
    turns = ctx.console.record.transcript(handoff.sender_id)
    ctx.audit("view_handoff", handoff.sender_id, f"handoff {handoff.id}")
    last_id = turns[-1].id if turns else 0
    return ctx.render("handoff.html", {**_panel_context(ctx, handoff), "turns": turns, "last_id": last_id})


def handoff_turns(ctx: Ctx) -> Response:
    """New turns since ``after`` (appended to the transcript) and the handoff's state, polled every second."""
    handoff = _handoff_or_404(ctx)
    if isinstance(handoff, Response):
        return handoff
    ctx.console.staff_desk.seen(ctx.me.username)
    try:
        after = max(0, int(ctx.query("after", "0") or 0))
    except ValueError:
        after = 0
    turns = ctx.console.record.turns_since(handoff.sender_id, after)
    last_id = turns[-1].id if turns else after
    mine = handoff.state == "active" and handoff.agent == ctx.me.username
    return ctx.render("_turns_poll.html", {"h": handoff, "turns": turns, "last_id": last_id, "mine": mine})


def _panel(ctx: Ctx, handoff_id: int, status: int = 200, **extra: Any) -> Response:
    handoff = ctx.console.store.handoff(handoff_id)
    if handoff is None:
        return ctx.error(404, t("handoff.not_found"))
    context = _panel_context(ctx, handoff, **extra)
    if ctx.htmx:
        return ctx.render("_handoff_panel.html", context, status)
    if status == 200 and extra.get("kind") == "ok":  # a plain form post: back to the page (no re-post on reload)
        return RedirectResponse(f"/handoffs/{handoff.id}", status_code=303)
    turns = ctx.console.record.transcript(handoff.sender_id)
    context.update(turns=turns, last_id=turns[-1].id if turns else 0)
    return ctx.render("handoff.html", context, status)


def _conflict(ctx: Ctx, handoff_id: int) -> Response:
    handoff = ctx.console.store.handoff(handoff_id)
    if handoff is None:
        return ctx.error(404, t("handoff.not_found"))
    if handoff.state == "closed":
        message = t("handoff.conflict.closed")
    elif handoff.agent and handoff.agent != ctx.me.username:
        message = t("handoff.conflict.held", agent=handoff.agent)
    elif handoff.state == "waiting":
        message = t("handoff.conflict.waiting")
    else:
        message = t("handoff.conflict.changed")
    return _panel(ctx, handoff_id, 409, message=message, kind="error")


def _handoff_id(ctx: Ctx) -> int:
    return int(ctx.request.path_params["handoff_id"])


def claim(ctx: Ctx) -> Response:
    """Nhận: take a waiting handoff (a second agent gets a conflict message)."""
    hid = _handoff_id(ctx)
    if ctx.console.store.handoff(hid) is None:
        return ctx.error(404, t("handoff.not_found"))
    try:
        ctx.console.staff_desk.claim(hid, ctx.me.username)
    except HandoffConflict:
        return _conflict(ctx, hid)
    except HandoffError as exc:
        return _panel(ctx, hid, 400, message=t("handoff.failed", error=str(exc)), kind="error")
    ctx.audit("claim", f"handoff:{hid}")
    return _panel(ctx, hid, message=t("handoff.claimed"), kind="ok")


def take_over(ctx: Ctx) -> Response:
    """Tiếp nhận thay: a supervisor or admin takes an active handoff held by someone else (absent, disabled)."""
    hid = _handoff_id(ctx)
    held = ctx.console.store.handoff(hid)
    if held is None:
        return ctx.error(404, t("handoff.not_found"))
    try:
        ctx.console.staff_desk.take_over(hid, ctx.me.username)
    except HandoffConflict:
        return _conflict(ctx, hid)
    ctx.audit("take_over", f"handoff:{hid}", f"from {held.agent}")
    return _panel(ctx, hid, message=t("handoff.taken_over", agent=held.agent or "-"), kind="ok")


def reply(ctx: Ctx) -> Response:
    """Trả lời: send the holder's reply to the citizen; shows why when it could not be delivered."""
    hid = _handoff_id(ctx)
    if ctx.console.store.handoff(hid) is None:
        return ctx.error(404, t("handoff.not_found"))
    text = ctx.field("text").strip()
    if not text:
        return _panel(ctx, hid, 400, message=t("handoff.reply_empty"), kind="error")
    try:
        delivery = ctx.console.staff_desk.reply(hid, ctx.me.username, text)
    except HandoffConflict:
        return _conflict(ctx, hid)
    except HandoffError:
        return _panel(ctx, hid, 400, message=t("handoff.reply_invalid"), kind="error", draft=text)
    problem = None if delivery.sent else (delivery.problem or "unknown")
    ctx.audit("reply", f"handoff:{hid}", problem)
    return _panel(ctx, hid, reply={"text": text, "sent": delivery.sent, "problem": problem},
                  message="" if delivery.sent else t("handoff.reply_not_delivered"),
                  kind="ok" if delivery.sent else "error")  # fmt: skip


def note(ctx: Ctx) -> Response:
    """Ghi chú: a private note for staff (never sent to the citizen)."""
    handoff = _handoff_or_404(ctx)
    if isinstance(handoff, Response):
        return handoff
    try:
        ctx.console.store.add_note(handoff.id, handoff.sender_id, ctx.me.username, ctx.field("text"))
    except ValueError as exc:
        return _panel(ctx, handoff.id, 400, message=str(exc), kind="error")
    ctx.audit("note", f"handoff:{handoff.id}")
    return _panel(ctx, handoff.id, message=t("handoff.note_saved"), kind="ok")


def transfer(ctx: Ctx) -> Response:
    """Chuyển: hand the handoff to another agent."""
    hid = _handoff_id(ctx)
    if ctx.console.store.handoff(hid) is None:
        return ctx.error(404, t("handoff.not_found"))
    target = ctx.field("to").strip()
    if target == ctx.me.username or target not in {u.username for u in ctx.console.accounts.staff()}:
        return _panel(ctx, hid, 400, message=t("handoff.transfer_choose"), kind="error")
    try:
        ctx.console.staff_desk.transfer(hid, ctx.me.username, target)
    except HandoffConflict:
        return _conflict(ctx, hid)
    except HandoffError as exc:
        return _panel(ctx, hid, 400, message=t("handoff.failed", error=str(exc)), kind="error")
    ctx.audit("transfer", f"handoff:{hid}", f"to {target}")
    return _panel(ctx, hid, message=t("handoff.transferred", agent=target), kind="ok")


def close(ctx: Ctx) -> Response:
    """Kết thúc: close the handoff with an end reason; the bot answers again."""
    hid = _handoff_id(ctx)
    if ctx.console.store.handoff(hid) is None:
        return ctx.error(404, t("handoff.not_found"))
    reason = ctx.field("end_reason")
    if reason not in END_REASONS:
        return _panel(ctx, hid, 400, message=t("handoff.close_choose"), kind="error")
    try:
        ctx.console.staff_desk.close(hid, ctx.me.username, reason)
    except HandoffConflict:
        return _conflict(ctx, hid)
    except NoticeNotSent:  # closed; the bot resumes on the citizen's next message, but no notice went out
        ctx.audit("close", f"handoff:{hid}", reason)
        return _panel(ctx, hid, message=t("handoff.closed_not_told"), kind="error")
    except HandoffError as exc:
        return _panel(ctx, hid, 400, message=t("handoff.closed_with_warning", warning=str(exc)), kind="error")
    ctx.audit("close", f"handoff:{hid}", reason)
    return _panel(ctx, hid, message=t("handoff.closed"), kind="ok")


# -- conversations -----------------------------------------------------------------------------

FILTER_FIELDS = ("q", "date_from", "date_to", "channel", "fallback", "confidence_below", "handed_off",
                 "low_rating", "procedure", "intent")  # fmt: skip


def _yes_no(value: str) -> bool | None:
    return {"1": True, "0": False}.get(value)


def conversation_filter(ctx: Ctx) -> tuple[Any, list[str]]:
    """The ConversationFilter the query string asks for, and the problems with what was typed."""
    problems: list[str] = []

    def day(name: str, label: str) -> date | None:  # label: the field's name, for the problem
        value = ctx.query(name)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            problems.append(t("conversations.bad_date", field=label))
            return None

    confidence = None
    if ctx.query("confidence_below"):
        try:
            confidence = float(ctx.query("confidence_below").replace(",", "."))
            if not 0 <= confidence <= 1:
                raise ValueError
        except ValueError:
            problems.append(t("conversations.bad_confidence"))
            confidence = None
    flt = ctx.console.filter_factory(
        date_from=day("date_from", t("conversations.date_from")),
        date_to=day("date_to", t("conversations.date_to")),
        channel=ctx.query("channel")[:40] or None,
        fallback=_yes_no(ctx.query("fallback")),
        confidence_below=confidence,
        handed_off=_yes_no(ctx.query("handed_off")),
        rating_at_most=2 if ctx.query("low_rating") == "1" else None,
        procedure_code=ctx.query("procedure")[:40] or None,
        intent=ctx.query("intent")[:100] or None,
        text=ctx.query("q")[:200] or None,
    )
    return flt, problems


def _channel_labels() -> dict[str, str]:
    return {code: labels.channel_label(code) for code in labels.CHANNELS}


def conversations(ctx: Ctx) -> Response:
    """Hội thoại: search and filter the record of conversations, newest first, page by page."""
    flt, problems = conversation_filter(ctx)
    cursor = ctx.query("cursor") or None
    page = ctx.console.record.list(flt, limit=PAGE_SIZE, cursor=cursor)
    params = {name: ctx.query(name) for name in FILTER_FIELDS}
    next_query = None
    if page.next_cursor:
        kept = "&".join(f"{k}={quote(v)}" for k, v in params.items() if v)
        next_query = (kept + "&" if kept else "") + f"cursor={quote(str(page.next_cursor))}"
    return ctx.render("conversations.html", {"page": page, "params": params, "problems": problems,
                                             "next_query": next_query, "channels": _channel_labels()})  # fmt: skip


def _transcript(ctx: Ctx, *, unmasked: bool = False, reason: str = "", status: int = 200,
                message: str = "") -> Response:  # fmt: skip
    sender_id = ctx.request.path_params["sender_id"]
    summary = ctx.console.record.get(sender_id)
    if summary is None:
        return ctx.error(404, t("transcript.not_found"))
    turns = ctx.console.record.transcript(sender_id)
    originals: dict[Any, str] = {}
    if unmasked:
        for turn in turns:
            if turn.sealed:
                try:
                    originals[turn.id] = ctx.console.unseal(turn.sealed)
                except Exception:  # a damaged token or another key: say so, never crash the page
                    originals[turn.id] = t("transcript.original_unreadable")
    ctx.audit("unmask" if unmasked else "view_transcript", sender_id, reason or None)
    return ctx.render("transcript.html", {
        "summary": summary, "turns": turns, "originals": originals, "unmasked": unmasked,
        "can_unmask": ctx.me.role in ("supervisor", "admin"), "message": message, "reason": reason,
        "handoffs": ctx.console.store.handoffs_of(sender_id),
    }, status)  # fmt: skip


def transcript(ctx: Ctx) -> Response:
    """One conversation, turn by turn, masked (every view is audited)."""
    return _transcript(ctx)


def unmask(ctx: Ctx) -> Response:
    """Supervisors and admins see the sealed originals, giving a reason (audited)."""
    reason = " ".join(ctx.field("reason").split())[:MAX_REASON_CHARS]
    if len(reason) < MIN_UNMASK_REASON:
        return _transcript(ctx, status=400, message=t("transcript.reason_required", chars=MIN_UNMASK_REASON))
    return _transcript(ctx, unmasked=True, reason=reason)


# -- call-backs --------------------------------------------------------------------------------


def _callbacks_page(ctx: Ctx, status: int = 200, message: str = "", kind: str = "") -> Response:
    book = ctx.console.callbacks
    done = [c for c in book.recent(settings().helpdesk.callback_days) if c.state != "pending"]
    return ctx.render("callbacks.html", {"pending": book.pending(), "done": done, "message": message,
                                         "kind": kind}, status)  # fmt: skip


def callbacks(ctx: Ctx) -> Response:
    """Gọi lại: pending call-back requests, then the ones already handled."""
    return _callbacks_page(ctx)


def mark_callback(ctx: Ctx) -> Response:
    """Mark a call-back reached or not reached."""
    callback_id = int(ctx.request.path_params["callback_id"])
    reached = ctx.field("reached")
    if reached not in ("1", "0"):
        return _callbacks_page(ctx, 400, t("callbacks.choose_result"), "error")
    try:
        ctx.console.callbacks.mark(callback_id, ctx.me.username, reached == "1")
    except (LookupError, ValueError):
        return _callbacks_page(ctx, 404, t("callbacks.not_found"), "error")
    ctx.audit("callback", f"callback:{callback_id}", "reached" if reached == "1" else "not_reached")
    return _callbacks_page(ctx, message=t("callbacks.marked"), kind="ok")


# -- admin -------------------------------------------------------------------------------------


def _users_page(ctx: Ctx, status: int = 200, message: str = "", kind: str = "") -> Response:
    return ctx.render("users.html", {"users": ctx.console.accounts.list(), "roles": ROLES,
                                     "message": message, "kind": kind, "min_chars": MIN_PASSWORD_CHARS,
                                     "audit": ctx.console.store.audit_log(50)}, status)  # fmt: skip


def users(ctx: Ctx) -> Response:
    """Tài khoản: every account, and the forms to change them."""
    return _users_page(ctx)


def create_user(ctx: Ctx) -> Response:
    """Create an account."""
    try:
        user = ctx.console.accounts.create(ctx.field("username"), ctx.field("password"), ctx.field("role"),
                                           ctx.field("display_name"))  # fmt: skip
    except AccountError as exc:
        return _users_page(ctx, 400, str(exc), "error")
    ctx.audit("user_create", user.username, user.role)
    return _users_page(ctx, message=t("admin.users.created", username=user.username), kind="ok")


def _target_user(ctx: Ctx) -> Any:
    return ctx.console.accounts.get(int(ctx.request.path_params["user_id"]))


def set_user_disabled(ctx: Ctx) -> Response:
    """Disable (its sessions end at once) or enable an account."""
    target = _target_user(ctx)
    if target is None:
        return _users_page(ctx, 404, t("admin.users.not_found"), "error")
    disabled = ctx.field("disabled") == "1"
    if disabled and target.id == ctx.me.id:
        return _users_page(ctx, 400, t("admin.users.cannot_disable_self"), "error")
    ctx.console.accounts.set_disabled(target.username, disabled)
    ctx.audit("user_disable" if disabled else "user_enable", target.username)
    name = target.username
    done = t("admin.users.disabled", username=name) if disabled else t("admin.users.enabled", username=name)
    return _users_page(ctx, message=done, kind="ok")


def reset_password(ctx: Ctx) -> Response:
    """Set a new password for an account (its sessions end)."""
    target = _target_user(ctx)
    if target is None:
        return _users_page(ctx, 404, t("admin.users.not_found"), "error")
    try:
        ctx.console.accounts.set_password(target.username, ctx.field("password"))
    except AccountError as exc:
        return _users_page(ctx, 400, str(exc), "error")
    ctx.audit("user_password", target.username)
    if target.id == ctx.me.id:  # keep the admin's own session alive
        me = ctx.console.accounts.get(target.id)
        if me is not None:
            ctx.request.session.update({"sv": me.session_version})
    return _users_page(ctx, message=t("admin.users.password_set", username=target.username), kind="ok")


def set_role(ctx: Ctx) -> Response:
    """Give an account another role."""
    target = _target_user(ctx)
    if target is None:
        return _users_page(ctx, 404, t("admin.users.not_found"), "error")
    if target.id == ctx.me.id:
        return _users_page(ctx, 400, t("admin.users.cannot_change_own_role"), "error")
    try:
        ctx.console.accounts.set_role(target.username, ctx.field("role"))
    except AccountError as exc:
        return _users_page(ctx, 400, str(exc), "error")
    ctx.audit("user_role", target.username, ctx.field("role"))
    return _users_page(ctx, message=t("admin.users.role_changed", username=target.username), kind="ok")


def _year(ctx: Ctx) -> int:
    try:
        year = int(ctx.query("year") or ctx.field("year") or 0)
    except ValueError:
        year = 0
    return year if 2000 <= year <= 2100 else ctx.console.clock().year


def _calendar_page(ctx: Ctx, status: int = 200, message: str = "", kind: str = "") -> Response:
    year = _year(ctx)
    return ctx.render("calendar.html", {"year": year, "days": ctx.console.calendar.list(year),
                                        "kinds": _calendar_kinds(), "message": message, "kind": kind},
                      status)  # fmt: skip


def _calendar_kinds() -> dict[str, str]:
    return {code: labels.calendar_kind_label(code) for code in labels.CALENDAR_KINDS}


def calendar(ctx: Ctx) -> Response:
    """Lịch làm việc: the year's extra days off and make-up working days."""
    return _calendar_page(ctx)


def _day(ctx: Ctx) -> date | None:
    try:
        return date.fromisoformat(ctx.field("day"))
    except ValueError:
        return None


def add_calendar_day(ctx: Ctx) -> Response:
    """Add (or replace) a day off or a make-up working day."""
    day, kind = _day(ctx), ctx.field("kind")
    if day is None or kind not in labels.CALENDAR_KINDS:
        return _calendar_page(ctx, 400, t("admin.calendar.choose"), "error")
    try:
        ctx.console.calendar.add(day, kind, ctx.field("note"), ctx.me.username)
    except ValueError as exc:
        return _calendar_page(ctx, 400, t("admin.calendar.add_failed", error=str(exc)), "error")
    ctx.audit("calendar_add", day.isoformat(), kind)
    return _calendar_page(ctx, message=t("admin.calendar.added", day=f"{day:%d/%m/%Y}"), kind="ok")


def remove_calendar_day(ctx: Ctx) -> Response:
    """Remove a day from the list."""
    day = _day(ctx)
    if day is None:
        return _calendar_page(ctx, 400, t("admin.calendar.bad_day"), "error")
    ctx.console.calendar.remove(day)
    ctx.audit("calendar_remove", day.isoformat())
    return _calendar_page(ctx, message=t("admin.calendar.removed", day=f"{day:%d/%m/%Y}"), kind="ok")
