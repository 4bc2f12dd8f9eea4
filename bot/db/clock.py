"""The one place for "now" and the Vietnam time zone.

Two conventions meet in the database: :class:`bot.dossiers.models.UTCDateTime` columns take
aware UTC values, plain ``DateTime`` columns (catalogue, channels) store naive UTC because
SQLite has no time zones. :func:`utcnow` is the aware "now"; :func:`naive_utc` converts for
plain columns. Dates a citizen sees (promised return dates, portal "updated on" dates) are
Vietnamese calendar dates: :data:`VN_TZ`, :func:`to_vn`, :func:`today_vn`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["VN_TZ", "naive_utc", "to_vn", "today_vn", "utcnow"]


def _vietnam() -> tzinfo:
    try:
        return ZoneInfo("Asia/Ho_Chi_Minh")
    except ZoneInfoNotFoundError:
        # No tz database (slim images without tzdata): Vietnam has been UTC+7 without DST since
        # 1975, so the fixed offset gives the same answer for every date the bot handles.
        return timezone(timedelta(hours=7), "ICT")


VN_TZ: tzinfo = _vietnam()


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(timezone.utc)


def naive_utc(value: datetime | None = None) -> datetime:
    """``value`` (default: now) as naive UTC, for plain ``DateTime`` columns.

    Aware values are converted; naive ones are taken to be UTC already and returned unchanged.
    """
    if value is None:
        value = utcnow()
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo is not None else value


def to_vn(value: datetime) -> datetime:
    """``value`` in Vietnam's time zone; a naive value is taken to be UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(VN_TZ)


def today_vn(now: datetime | None = None) -> date:
    """Today's date in Vietnam (``now`` default: the current time; naive means UTC)."""
    return to_vn(now or utcnow()).date()
