"""The year's swapped days, kept by an admin in the console: extra days off and make-up working days.

The government publishes the swaps each year (a bridge day off, a Saturday worked in exchange); no
package knows them. The admin's list is read together with ``HELPDESK_DAYS_OFF`` and
``HELPDESK_WORKING_DAYS`` by :func:`bot.helpdesk.hours.office_calendar`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, extract, select

from bot.db import TransactionalStore
from bot.db.clock import naive_utc
from bot.helpdesk.models import CalendarDayRow

__all__ = ["KINDS", "CalendarDay", "CalendarDayError", "CalendarDays"]

#: ``off``: closed although the weekly schedule says open; ``work``: open with Monday's hours.
KINDS = ("off", "work")


class CalendarDayError(ValueError):
    """An unknown kind, or a note that is too long."""


@dataclass(frozen=True)
class CalendarDay:
    """One swapped day (a Vietnam date)."""

    day: date
    kind: str
    note: str
    created_by: str
    created_at: datetime


class CalendarDays(TransactionalStore):
    """The admin's list of swapped days over ``engine`` (the configured database by default)."""

    def list(self, year: int | None = None) -> list[CalendarDay]:
        """The swapped days, by date (of ``year`` only, if given)."""
        query = select(CalendarDayRow).order_by(CalendarDayRow.day)
        if year is not None:
            query = query.where(extract("year", CalendarDayRow.day) == year)
        with self._session() as session:
            return [CalendarDay(r.day, r.kind, r.note, r.created_by, r.created_at) for r in session.scalars(query)]

    def add(self, day: date, kind: str, note: str, by: str) -> CalendarDay:
        """Set ``day`` to ``kind`` (replacing what it was); :class:`CalendarDayError` for a bad kind or note."""
        if kind not in KINDS:
            raise CalendarDayError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        note = (note or "").strip()
        if len(note) > 200:
            raise CalendarDayError("the note is longer than 200 characters")
        with self._session() as session:
            row = session.get(CalendarDayRow, day)
            if row is None:
                row = CalendarDayRow(day=day)
                session.add(row)
            row.kind, row.note, row.created_by, row.created_at = kind, note, by, naive_utc()
            session.flush()
            return CalendarDay(row.day, row.kind, row.note, row.created_by, row.created_at)

    def remove(self, day: date) -> None:
        """Forget ``day`` (nothing happens when it was not listed)."""
        with self._session() as session:
            session.execute(delete(CalendarDayRow).where(CalendarDayRow.day == day))

    def split(self) -> tuple[frozenset[date], frozenset[date]]:
        """(days off, working days) for the office calendar."""
        days = self.list()
        return (frozenset(d.day for d in days if d.kind == "off"), frozenset(d.day for d in days if d.kind == "work"))
