"""When the help desk is staffed: a weekly schedule in Asia/Ho_Chi_Minh, Vietnam's public holidays, and the
year's swapped days.

The schedule has several intervals a day (the lunch break) and is written as
``"mon-fri 07:30-11:30,13:30-17:00; sat 07:30-11:30"``. Public holidays (Tết Nguyên đán, Giỗ Tổ Hùng
Vương, 30/4, 1/5, 2/9, 1/1 and the days the law adds to them) come from the ``holidays`` package.
The government's yearly swaps (a bridge day off, a make-up working Saturday) are in no package: they
are listed as extra days off and extra working days, and a working day takes the schedule of a
weekday (``MAKE_UP_WEEKDAY``). All times are wall-clock times in Vietnam; an aware ``datetime`` in
any zone is converted first, a naive one is taken as UTC (as :mod:`bot.db.clock` stores them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from itertools import pairwise

import holidays

from bot.db.clock import VN_TZ
from bot.settings import SettingsError, settings

__all__ = [
    "MAKE_UP_WEEKDAY",
    "Interval",
    "OfficeCalendar",
    "office_calendar",
    "parse_days",
    "parse_schedule",
    "vietnam_holidays",
]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: A make-up working day keeps the hours of this weekday (0 = Monday).
MAKE_UP_WEEKDAY = 0
#: How far ahead :meth:`OfficeCalendar.next_opening` looks (Tết and the weekends around it fit).
LOOKAHEAD_DAYS = 60

_INTERVAL_RE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, order=True)
class Interval:
    """Open from ``start`` (included) to ``end`` (excluded), wall-clock time in Vietnam."""

    start: time
    end: time

    def __contains__(self, moment: time) -> bool:
        return self.start <= moment < self.end


def _days(spec: str) -> list[int]:
    """ "mon-fri" -> [0..4], "sat" -> [5], "mon,wed" -> [0, 2]; ValueError for an unknown day."""
    out: list[int] = []
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise ValueError(f"unknown day {part.strip()!r}: write one of {', '.join(DAY_NAMES)} or a range mon-fri")
        a, b = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        if b < a:
            raise ValueError(f"day range {part.strip()!r} runs backwards")
        out += range(a, b + 1)
    return out


def _interval(spec: str) -> Interval:
    match = _INTERVAL_RE.match(spec.strip())
    if not match:
        raise ValueError(f"interval {spec.strip()!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"interval {spec.strip()!r} has an impossible time")
    start, end = time(h1, m1), time.max if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError(f"interval {spec.strip()!r} ends before it starts")
    return Interval(start, end)


def parse_schedule(spec: str) -> dict[int, tuple[Interval, ...]]:
    """Weekday (0 = Monday) -> its open intervals, sorted, from ``"mon-fri 07:30-11:30,13:30-17:00; sat 07:30-11:30"``.

    ValueError names the part that is wrong (unknown day, bad time, overlapping intervals).
    """
    week: dict[int, list[Interval]] = {}
    for clause in filter(None, (c.strip() for c in spec.split(";"))):
        days, _, intervals = clause.partition(" ")
        if not intervals.strip():
            raise ValueError(f"{clause!r}: write the days, a space, then the hours (mon-fri 07:30-11:30)")
        for day in _days(days.lower()):
            week.setdefault(day, []).extend(_interval(i) for i in intervals.split(","))
    out: dict[int, tuple[Interval, ...]] = {}
    for day, found in week.items():
        ordered = sorted(found)
        for a, b in pairwise(ordered):
            if b.start < a.end:
                raise ValueError(f"{DAY_NAMES[day]}: intervals {a.start:%H:%M}-{a.end:%H:%M} and "
                                 f"{b.start:%H:%M}-{b.end:%H:%M} overlap")  # fmt: skip
        out[day] = tuple(ordered)
    return out


def parse_days(values: Iterable[str]) -> frozenset[date]:
    """ISO dates ("2026-09-03") -> dates; ValueError names the one that is not a date."""
    out = set()
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            out.add(date.fromisoformat(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a date (write YYYY-MM-DD)") from None
    return frozenset(out)


@lru_cache(maxsize=1)
def vietnam_holidays() -> holidays.HolidayBase:
    """Vietnam's public holidays (lunar Tết included), names in Vietnamese, years added as they are asked."""
    return holidays.country_holidays("VN", language="vi")


@dataclass(frozen=True)
class OfficeCalendar:
    """The help desk's opening hours: the weekly ``schedule`` less public holidays and ``days_off``,
    plus ``working_days`` (make-up days, with the hours of :data:`MAKE_UP_WEEKDAY`)."""

    schedule: Mapping[int, tuple[Interval, ...]]
    days_off: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()
    holiday_name: Callable[[date], str | None] = field(default=lambda d: vietnam_holidays().get(d))

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """The open intervals of ``day``: none on a holiday or a day off; a make-up day's borrowed hours."""
        if day in self.working_days:
            return self.schedule.get(MAKE_UP_WEEKDAY, ())
        if day in self.days_off or self.holiday_name(day):
            return ()
        return self.schedule.get(day.weekday(), ())

    def is_open(self, at: datetime) -> bool:
        """True when ``at`` falls in an open interval (converted to Vietnam's wall clock first)."""
        local = _in_vietnam(at)
        return any(local.time() in interval for interval in self.intervals_on(local.date()))

    def next_opening(self, at: datetime) -> datetime | None:
        """The next moment the desk opens after ``at`` (``at`` itself when open), in Vietnam's time zone;
        None when nothing opens within :data:`LOOKAHEAD_DAYS`."""
        local = _in_vietnam(at)
        for offset in range(LOOKAHEAD_DAYS + 1):
            day = local.date() + timedelta(days=offset)
            for interval in self.intervals_on(day):
                start = datetime.combine(day, interval.start, VN_TZ)
                end = datetime.combine(day, interval.end, VN_TZ)
                if offset == 0 and local >= end:
                    continue
                return max(start, local) if offset == 0 else start
        return None

    def open_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds between ``start`` and ``end`` that fall in open intervals (0 when ``end`` <= ``start``).

        Used for waiting times "counted in office hours only": a citizen who asked at 16:55 and was
        answered at 07:35 the next working day waited 10 office minutes, not 14 hours.
        """
        first, last = _in_vietnam(start), _in_vietnam(end)
        total = 0.0
        day = first.date()
        while day <= last.date():
            for interval in self.intervals_on(day):
                lo = max(first, datetime.combine(day, interval.start, VN_TZ))
                hi = min(last, datetime.combine(day, interval.end, VN_TZ))
                total += max(0.0, (hi - lo).total_seconds())
            day += timedelta(days=1)
        return total


def _in_vietnam(at: datetime) -> datetime:
    aware = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return aware.astimezone(VN_TZ)


def office_calendar(days: tuple[frozenset[date], frozenset[date]] | None = None) -> OfficeCalendar:
    """The calendar the settings describe (``HELPDESK_SCHEDULE``, ``HELPDESK_DAYS_OFF``,
    ``HELPDESK_WORKING_DAYS``) plus ``days`` (extra days off, extra working days: the admin's list of
    :class:`bot.helpdesk.calendar_days.CalendarDays`); :class:`bot.settings.SettingsError` names the
    variable that is wrong. An admin's working day wins over a day off of the settings, and the reverse."""
    cfg = settings().helpdesk
    parts = {}
    for name, parse, value in (
        ("HELPDESK_SCHEDULE", parse_schedule, cfg.schedule),
        ("HELPDESK_DAYS_OFF", parse_days, cfg.days_off),
        ("HELPDESK_WORKING_DAYS", parse_days, cfg.working_days),
    ):
        try:
            parts[name] = parse(value)
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from None
    off, work = parts["HELPDESK_DAYS_OFF"], parts["HELPDESK_WORKING_DAYS"]
    if days is not None:
        extra_off, extra_work = days
        off, work = (off - extra_work) | extra_off, (work - extra_off) | extra_work
    return OfficeCalendar(parts["HELPDESK_SCHEDULE"], off, work)
