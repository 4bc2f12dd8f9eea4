"""Words every dossier result for the citizen: the one renderer of :mod:`bot.dossiers` (no Rasa imports).

The service returns typed results (:mod:`bot.dossiers.service`); this module turns them into what
is said, with the sentences from ``bot/wording/citizen.vi.yml`` (``dossier.*``). Two kinds of function, by
suffix: ``*_reply`` gives the :class:`~bot.replies.Reply` an action sends as it is (text, buttons);
``*_text`` gives plain text, for the CLI and for composing replies here.
"""

from __future__ import annotations

from datetime import date, datetime

from bot.db.clock import VN_TZ
from bot.dossiers.codes import CODE_EXAMPLE, CODE_FORMAT, IMPOSSIBLE_DATE, InvalidDossierCode
from bot.dossiers.service import (
    DossierView,
    InvalidCode,
    InvalidPhoneDigits,
    LockedOut,
    LookupResult,
    NotFound,
    NotMatched,
    StatusUpdate,
    SubscriptionResult,
    Throttled,
    Unavailable,
    UpdateIgnored,
    UpdateResult,
    Verified,
    WrongPhone,
)
from bot.dossiers.status import status_info
from bot.replies import Button, Reply, human_button, payload
from bot.wording import text

__all__ = [
    "ask_phone_digits_reply",
    "busy_reply",
    "format_date",
    "invalid_code_reply",
    "invalid_code_text",
    "lookup_reply",
    "lookup_text",
    "subscription_reply",
    "subscription_text",
    "update_reply",
    "verify_before_subscribe_reply",
    "view_text",
]


def format_date(value: date | None) -> str:
    """dd/mm/yyyy, or "chưa có thông tin" when unknown."""
    return value.strftime("%d/%m/%Y") if value else text("common.unknown_value")


def _format_time(value: datetime) -> str:
    local = value.astimezone(VN_TZ)
    return text("dossier.time_at", time=f"{local:%H:%M}", date=f"{local:%d/%m/%Y}")


def busy_reply() -> Reply:
    """The polite "the system is busy, try again later" (any failure the citizen cannot fix)."""
    return Reply(text("common.busy"))


def ask_phone_digits_reply() -> Reply:
    """The one prompt for the 4 last digits of the registered phone (also domain.yml's utter_ask_phone_last4)."""
    return Reply(text("dossier.ask_phone_digits"))


def verify_before_subscribe_reply() -> Reply:
    """Asked to subscribe before any dossier was named or verified in the conversation."""
    return Reply(text("dossier.verify_before_subscribe"))


def invalid_code_text(error: InvalidDossierCode | str) -> str:
    """What a dossier code looks like and where to find it; ``error`` is the exception or its ``reason``."""
    reason = error.reason if isinstance(error, InvalidDossierCode) else error
    detail = f" ({text('dossier.invalid_code_impossible_date')})" if reason == IMPOSSIBLE_DATE else ""
    return text("dossier.invalid_code", detail=detail, code_format=CODE_FORMAT, example=CODE_EXAMPLE)


def invalid_code_reply(error: InvalidDossierCode | str) -> Reply:
    """:func:`invalid_code_text` as a reply (a dossier code typed in the form that is not one)."""
    return Reply(invalid_code_text(error))


def view_text(view: DossierView) -> str:
    """The status message for a verified citizen (never the applicant's name, address, ID or phone)."""
    demo = f" {text('dossier.demo_marker')}" if view.is_demo else ""
    procedure = (
        text("dossier.procedure_with_code", name=view.procedure_name, code=view.procedure_code)
        if view.procedure_code
        else view.procedure_name
    )
    promised = format_date(view.promised_date)
    if view.overdue:
        promised = text("dossier.promised_overdue", date=promised, days=view.days_overdue)
    return text(
        "dossier.view",
        code=view.code,
        demo=demo,
        procedure=procedure,
        status=view.status_label,
        receiving_unit=view.receiving_unit or text("common.unknown_value"),
        received=format_date(view.received_date),
        promised=promised,
        next_step=view.next_step,
    )


def lookup_text(result: LookupResult) -> str:
    """The answer to any lookup result as one text (the CLI prints it; :func:`lookup_reply` adds chat parts)."""
    if isinstance(result, Verified):
        return view_text(result.view)
    if isinstance(result, NotFound):
        return text("dossier.not_found", code=result.code)
    if isinstance(result, WrongPhone):
        return text("dossier.wrong_phone", attempts_left=result.attempts_left)
    if isinstance(result, NotMatched):
        return text("dossier.not_matched", attempts_left=result.attempts_left)
    if isinstance(result, LockedOut):
        return text("dossier.locked_out", until=_format_time(result.until))
    if isinstance(result, Throttled):
        return text("dossier.throttled", until=_format_time(result.until))
    if isinstance(result, InvalidCode):
        return invalid_code_text(result.reason)
    if isinstance(result, InvalidPhoneDigits):
        return ask_phone_digits_reply().text
    if isinstance(result, Unavailable):
        return busy_reply().text
    raise TypeError(f"not a lookup result: {result!r}")


def lookup_reply(result: LookupResult) -> Reply:
    """The chat reply to a lookup: a verified status offers notifications; a mismatch with tries left asks again."""
    answer = lookup_text(result)
    if isinstance(result, Verified):
        return Reply(answer, (Button(text("button.subscribe_dossier"), payload("subscribe_dossier")),))
    if isinstance(result, (WrongPhone, NotMatched)) and result.attempts_left > 0:
        return Reply(text("dossier.retry_phone_digits", result=answer))
    if isinstance(result, (NotFound, LockedOut, WrongPhone, NotMatched)):
        # A dossier the citizen cannot see is a case for a person: the help desk is told why.
        return Reply(answer, (human_button("dossier"),))
    return Reply(answer)


def subscription_text(result: SubscriptionResult) -> str:
    """The answer to a subscribe or unsubscribe request."""
    code = result.code
    if result.outcome == "invalid_code":
        return invalid_code_text(result.reason or "")
    if result.outcome == "not_verified":
        return text("dossier.subscribe_not_verified", code=code)
    if result.outcome == "already":
        return text("dossier.subscribe_already", code=code)
    if result.outcome == "subscribed":
        return text("dossier.subscribed", code=code)
    if result.outcome == "not_subscribed":
        return text("dossier.not_subscribed_one", code=code) if code else text("dossier.not_subscribed_any")
    if result.outcome == "unsubscribed":
        return text("dossier.unsubscribed_one", code=code) if code else text("dossier.unsubscribed_all")
    raise ValueError(f"unknown subscription outcome: {result.outcome!r}")


def subscription_reply(result: SubscriptionResult) -> Reply:
    """:func:`subscription_text` as a reply."""
    return Reply(subscription_text(result))


def update_reply(result: UpdateResult) -> Reply:
    """The message pushed to a subscriber when a followed dossier changes status; an empty reply (nothing is
    sent) when the update is not to be told in this conversation (:class:`~bot.dossiers.service.UpdateIgnored`)."""
    if isinstance(result, UpdateIgnored):
        return Reply()
    if isinstance(result, StatusUpdate):
        info = status_info(result.status)
        return Reply(text("dossier.update_pushed", code=result.code, status=info.label, next_step=info.next_step))
    raise TypeError(f"not an update result: {result!r}")
