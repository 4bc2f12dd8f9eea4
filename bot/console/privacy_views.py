"""The console's personal-data page (admin only): find, export and erase what is held about a person,
and hold conversations under complaint out of the purge.

Every action needs the request's reference (the number of the citizen's request or of the decision)
and is written both to the console's audit log and to ``privacy_requests``
(:class:`bot.privacy.lifecycle.DataLifecycle`). Erasing also needs a ticked confirmation. The
export is a JSON download of everything held; the page itself never shows a clear phone number.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from bot.console.labels import t
from bot.console.web import Ctx
from bot.privacy import mask_text
from bot.privacy.lifecycle import SubjectHeld
from bot.privacy.subjects import KINDS, Subject
from bot.runtime.housekeeping import erase as erase_everywhere

__all__ = ["erase", "export", "hold", "privacy_page", "release", "resolve"]

MAX_REFERENCE = 100
KIND_KEYS = {"sender": "privacy.kinds.sender", "phone": "common.phone", "dossier": "privacy.kinds.dossier"}
BAD_VALUE_KEYS = {
    "sender": "privacy.bad_value.sender",
    "phone": "privacy.bad_value.phone",
    "dossier": "privacy.bad_value.dossier",
}


def _page(ctx: Ctx, status: int = 200, **extra: Any) -> Response:
    data: dict[str, Any] = {
        "kinds": {kind: t(KIND_KEYS[kind]) for kind in KINDS},
        "holds": ctx.console.privacy.holds(),
        # A phone number typed in is not shown back: the page never displays one in clear.
        "form": {
            "kind": ctx.field("kind") or "sender",
            "value": "" if ctx.field("kind") == "phone" else ctx.field("value"),
            "reference": ctx.field("reference"),
        },
        "message": "",
        "kind": "",
        "found": None,
        "report": None,
    }
    data.update(extra)
    return ctx.render("privacy.html", data, status)


def _subject(ctx: Ctx) -> Subject:
    """The subject of the form; ValueError with a staff sentence (by kind) when it is malformed."""
    kind = ctx.field("kind")
    if kind not in KINDS:
        raise ValueError(t("privacy.bad_kind"))
    try:
        return Subject(kind, ctx.field("value").strip())  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(t(BAD_VALUE_KEYS[kind])) from None


def _reference(ctx: Ctx) -> str:
    reference = ctx.field("reference").strip()
    if not reference or len(reference) > MAX_REFERENCE:
        raise ValueError(t("privacy.reference_needed", chars=MAX_REFERENCE))
    return reference


def privacy_page(ctx: Ctx) -> Response:
    """Dữ liệu cá nhân: the form, and the conversations on hold."""
    return _page(ctx)


def resolve(ctx: Ctx) -> Response:
    """Which conversations a sender id, a phone number or a dossier code leads to, and where each was found."""
    try:
        subject = _subject(ctx)
    except ValueError as exc:
        return _page(ctx, 400, message=str(exc), kind="error")
    found = ctx.console.privacy.resolve(subject)
    ctx.audit("privacy_find", subject.label, ctx.field("reference").strip()[:MAX_REFERENCE] or None)
    return _page(ctx, found=found)


def export(ctx: Ctx) -> Response:
    """Everything held about the subject, as a JSON download (access request)."""
    try:
        subject, reference = _subject(ctx), _reference(ctx)
    except ValueError as exc:
        return _page(ctx, 400, message=str(exc), kind="error")
    data = ctx.console.privacy.export(subject, reference=reference, requested_by=ctx.me.username)
    ctx.audit("privacy_export", subject.label, reference)
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    # An HTTP header is Latin-1: "Phiếu 14" would not encode. The file name keeps ASCII letters and digits.
    safe = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_" else "-" for ch in reference)[:40]
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="du-lieu-{safe}.json"', "cache-control": "no-store"},
    )


def erase(ctx: Ctx) -> Response:
    """Delete every trace of the subject from every store (erasure request); needs the confirmation box."""
    try:
        subject, reference = _subject(ctx), _reference(ctx)
    except ValueError as exc:
        return _page(ctx, 400, message=str(exc), kind="error")
    if ctx.field("confirm") != "1":
        return _page(ctx, 400, message=t("privacy.confirm_needed"), kind="error")
    found = len(ctx.console.privacy.resolve(subject).sender_ids)
    try:
        report = erase_everywhere(ctx.console.privacy, subject, reference=reference, requested_by=ctx.me.username,
                                  override_hold=ctx.field("override") == "1")  # fmt: skip
    except SubjectHeld as exc:
        refs = ", ".join(sorted({h.reference for h in exc.holds}))
        return _page(ctx, 409, message=t("privacy.held", references=refs), kind="error")
    ctx.audit("privacy_erase", subject.label, reference)
    return _page(ctx, report=report, message=t("privacy.erased", conversations=found,
                                                 rows=sum(report.rows.values())), kind="ok")  # fmt: skip


def hold(ctx: Ctx) -> Response:
    """Keep one conversation out of the purge and of erasure (a complaint under way)."""
    sender = ctx.field("sender_id").strip()
    try:
        reference = _reference(ctx)
    except ValueError as exc:
        return _page(ctx, 400, message=str(exc), kind="error")
    try:
        # The reason is free text about a person: masked like every other text kept.
        ctx.console.privacy.hold(sender, reference=reference, reason=mask_text(ctx.field("reason")),
                                 created_by=ctx.me.username)  # fmt: skip
    except ValueError:
        return _page(ctx, 400, message=t("privacy.hold_failed"), kind="error")
    ctx.audit("privacy_hold", Subject("sender", sender).label, reference)
    return _page(ctx, message=t("privacy.held_ok"), kind="ok")


def release(ctx: Ctx) -> Response:
    """Lift a hold: the conversation goes in the purge again when it expires."""
    sender = ctx.field("sender_id").strip()
    try:
        released = ctx.console.privacy.release(sender, released_by=ctx.me.username)
    except ValueError:
        return _page(ctx, 404, message=t("privacy.not_held"), kind="error")
    if not released:
        return _page(ctx, 404, message=t("privacy.not_held"), kind="error")
    ctx.audit("privacy_release", Subject("sender", sender).label)
    return _page(ctx, message=t("privacy.released"), kind="ok")
