"""Office hours: the lunch break, Tết, a make-up Saturday, New Year's Eve at 23:59 (bot.helpdesk.hours)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from bot.db.clock import VN_TZ
from bot.helpdesk.hours import OfficeCalendar, office_calendar, parse_days, parse_schedule, vietnam_holidays
from bot.settings import SettingsError, overridden

SCHEDULE = "mon-fri 07:30-11:30,13:30-17:00; sat 07:30-11:30"


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
def desk() -> OfficeCalendar:
    # 2026: a bridge day off on Friday 2026-01-02, made up on Saturday 2026-01-10 (an example swap).
    return OfficeCalendar(parse_schedule(SCHEDULE), parse_days(["2026-01-02"]), parse_days(["2026-01-10"]))


def test_the_lunch_break_is_closed(desk: OfficeCalendar) -> None:
    assert desk.is_open(vn(2026, 12, 1, 9, 0))  # a Tuesday morning
    assert not desk.is_open(vn(2026, 12, 1, 12, 0))
    assert desk.next_opening(vn(2026, 12, 1, 12, 0)) == vn(2026, 12, 1, 13, 30)
    assert not desk.is_open(vn(2026, 12, 1, 11, 30))  # the end of an interval is already closed


def test_tet_is_closed_and_the_desk_opens_after_it(desk: OfficeCalendar) -> None:
    # Tết Bính Ngọ: 2026-02-17 is the first day of the lunar year.
    assert vietnam_holidays().get(date(2026, 2, 17))
    assert not desk.is_open(vn(2026, 2, 17, 9, 0))
    assert desk.next_opening(vn(2026, 2, 17, 9, 0)) == vn(2026, 2, 21, 7, 30)  # the Saturday after


def test_national_days_are_closed(desk: OfficeCalendar) -> None:
    for day in (date(2026, 4, 30), date(2026, 5, 1), date(2026, 9, 2), date(2026, 4, 27)):
        assert desk.intervals_on(day) == (), day


def test_a_make_up_saturday_keeps_a_weekday_s_hours(desk: OfficeCalendar) -> None:
    assert desk.is_open(vn(2026, 1, 10, 15, 0))  # a Saturday afternoon, made up
    assert not desk.is_open(vn(2026, 1, 17, 15, 0))  # an ordinary Saturday afternoon
    assert not desk.is_open(vn(2026, 1, 2, 9, 0))  # the bridge day off


def test_new_year_s_eve_at_23_59(desk: OfficeCalendar) -> None:
    eve = vn(2026, 12, 31, 23, 59)
    assert not desk.is_open(eve)
    # 1 January is a holiday (a Friday in 2027); the Saturday morning opens.
    assert desk.next_opening(eve) == vn(2027, 1, 2, 7, 30)


def test_any_zone_is_read_in_vietnam_time(desk: OfficeCalendar) -> None:
    assert desk.is_open(datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc))  # 09:00 in Vietnam
    assert desk.is_open(datetime(2026, 12, 1, 2, 0))  # naive: UTC, as the database stores it
    assert not desk.is_open(datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc))  # 19:00 in Vietnam


def test_an_open_moment_is_its_own_next_opening(desk: OfficeCalendar) -> None:
    assert desk.next_opening(vn(2026, 12, 1, 9, 15)) == vn(2026, 12, 1, 9, 15)


def test_a_schedule_with_no_hours_never_opens() -> None:
    assert OfficeCalendar({}).next_opening(vn(2026, 12, 1, 9, 0)) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mon-fri", "write the days"),
        ("mon-fri 7:30-11:30,11:00-12:00", "overlap"),
        ("xyz 07:30-11:30", "unknown day"),
        ("fri-mon 07:30-11:30", "backwards"),
        ("mon 07:30-25:00", "impossible"),
        ("mon 11:30-07:30", "before it starts"),
        ("mon 7h30-11h30", "HH:MM-HH:MM"),
    ],
)
def test_a_bad_schedule_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(spec)


def test_the_settings_build_the_calendar_and_name_a_bad_variable() -> None:
    with overridden(HELPDESK_SCHEDULE="mon 08:00-12:00", HELPDESK_WORKING_DAYS="2026-01-10"):
        calendar = office_calendar()
        assert calendar.is_open(vn(2026, 1, 10, 9, 0)) and not calendar.is_open(vn(2026, 1, 13, 9, 0))
    with overridden(HELPDESK_DAYS_OFF="02/01/2026"), pytest.raises(SettingsError, match="HELPDESK_DAYS_OFF"):
        office_calendar()


def test_the_handoff_says_when_staff_are_back_outside_hours() -> None:
    from bot.dialogue import handoff

    with overridden(HELPDESK_SCHEDULE=SCHEDULE, HELPDESK_HOTLINE="1900 1234"):
        open_reply = handoff(vn(2026, 12, 1, 9, 0)).text
        closed = handoff(vn(2026, 12, 31, 23, 59)).text
        holiday = handoff(vn(2026, 2, 17, 9, 0)).text
    assert "1900 1234" in open_reply and "ngoài giờ" not in open_reply
    assert "ngoài giờ làm việc" in closed and "07:30 thứ Bảy, ngày 02/01/2027" in closed and "1900 1234" in closed
    assert "ngày 21/02/2026" in holiday  # after Tết
