"""Call-back requests: a citizen who could not reach a person leaves a phone number; staff mark the call.

The number is the one piece of personal data this list exists for, so it is kept in
``helpdesk_callbacks``, sealed (:func:`bot.privacy.seal`, ``SEAL_KEY``: no store holds a clear phone
number), and shown opened to staff in the console; it is never logged (log lines name the request
id). Requests older than ``HELPDESK_CALLBACK_DAYS`` leave the console's list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.db import TransactionalStore
from bot.db.clock import naive_utc
from bot.helpdesk.models import CallbackRow
from bot.privacy import SealError, seal, unseal

__all__ = ["Callback", "CallbackBook", "CallbackError", "open_phone", "phone_in"]

PENDING, REACHED, NOT_REACHED = "pending", "reached", "not_reached"
# A Vietnamese number as citizens type it: 0912 345 678, 091.234.5678, +84 912 345 678, 84912345678.
_PHONE = re.compile(r"(?<![\d+])(?:\+?84[\s.\-]?|0)(?:\d[\s.\-]?){8,9}\d?(?!\d)")


class CallbackError(ValueError):
    """No such request, or a number that is not a Vietnamese phone number."""


@dataclass(frozen=True)
class Callback:
    """One call-back request (times naive UTC; ``phone`` digits only, starting with 0)."""

    id: int
    sender_id: str
    channel: str
    phone: str
    requested_at: datetime
    state: str
    agent: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, row: CallbackRow) -> Callback:
        return cls(row.id, row.sender_id, row.channel, open_phone(row.phone), row.requested_at, row.state, row.agent,
                   row.updated_at)  # fmt: skip


def open_phone(stored: str) -> str:
    """The number a row keeps sealed (:func:`bot.privacy.seal`); "" when it cannot be opened (another SEAL_KEY)."""
    try:
        return unseal(stored)
    except SealError:
        return ""


def phone_in(text: str) -> str | None:
    """The first Vietnamese phone number in ``text`` as 10 digits starting with 0 (``+84``/``84`` become
    ``0``), or None. Landlines of 11 digits (``02xx``) are kept whole."""
    for match in _PHONE.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group())
        if digits.startswith("84") and not match.group().startswith("0"):
            digits = "0" + digits[2:]
        if len(digits) in (10, 11) and digits.startswith("0"):
            return digits
    return None


class CallbackBook(TransactionalStore):
    """The list of call-back requests over ``engine`` (the configured database by default)."""

    def add(self, sender_id: str, channel: str, phone: str) -> Callback:
        """Record a request; a pending one of the same conversation gets the new number instead of a
        second row. :class:`CallbackError` when ``phone`` holds no Vietnamese number."""
        digits = phone_in(phone)
        if digits is None:
            raise CallbackError("not a Vietnamese phone number")
        with self._session() as session:
            row = session.scalars(
                select(CallbackRow).where(CallbackRow.sender_id == sender_id, CallbackRow.state == PENDING)
            ).first()
            if row is None:
                # Staff must dial the number, so it is kept, but only sealed: no store holds a clear phone.
                row = CallbackRow(sender_id=sender_id, channel=channel, phone=seal(digits), requested_at=naive_utc(),
                                  state=PENDING)  # fmt: skip
                session.add(row)
            else:
                row.phone, row.requested_at = seal(digits), naive_utc()
            session.flush()
            return Callback.of(row)

    def pending(self) -> list[Callback]:
        """Requests not yet called, oldest first."""
        with self._session() as session:
            rows = session.scalars(
                select(CallbackRow).where(CallbackRow.state == PENDING).order_by(CallbackRow.requested_at)
            ).all()
            return [Callback.of(r) for r in rows]

    def recent(self, days: int) -> list[Callback]:
        """Every request of the last ``days`` days, newest first (pending and done)."""
        since = naive_utc() - timedelta(days=days)
        with self._session() as session:
            rows = session.scalars(
                select(CallbackRow).where(CallbackRow.requested_at >= since)
                .order_by(CallbackRow.requested_at.desc(), CallbackRow.id.desc())
            ).all()  # fmt: skip
            return [Callback.of(r) for r in rows]

    def mark(self, callback_id: int, agent: str, reached: bool) -> Callback:
        """``agent`` called: reached or not. Marking again replaces the mark (a second try that got through)."""
        with self._session() as session:
            changed = session.execute(
                update(CallbackRow).where(CallbackRow.id == callback_id).values(
                    state=REACHED if reached else NOT_REACHED, agent=agent, updated_at=naive_utc()
                )
            ).rowcount
            if not changed:
                raise CallbackError(f"no call-back request {callback_id}")
            return Callback.of(session.get(CallbackRow, callback_id, populate_existing=True))
