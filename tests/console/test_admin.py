"""Accounts, the office calendar and call-backs through the console."""

from __future__ import annotations

from datetime import date

from bot.helpdesk.calendar_days import CalendarDays
from bot.helpdesk.callbacks import CallbackBook
from tests.console.conftest import Console, csrf_of


def test_admin_creates_changes_and_disables_users(console: Console) -> None:
    admin = console.login("admin")
    token = csrf_of(admin)
    created = admin.post("/admin/users", data={"csrf": token, "username": "lan", "display_name": "Chị Lan",
                                               "role": "agent", "password": "mat-khau-cua-lan"})  # fmt: skip
    assert created.status_code == 200 and "Đã tạo tài khoản lan" in created.text
    again = admin.post("/admin/users", data={"csrf": token, "username": "lan", "role": "agent",
                                             "password": "mat-khau-cua-lan"})  # fmt: skip
    assert again.status_code == 400 and "đã có" in again.text
    weak = admin.post("/admin/users", data={"csrf": token, "username": "hoa", "role": "agent", "password": "123"})
    assert weak.status_code == 400 and "quá ngắn" in weak.text
    lan = console.accounts.by_name("lan")
    assert lan is not None
    session = console.login("lan", password="mat-khau-cua-lan")
    assert admin.post(f"/admin/users/{lan.id}/role", data={"csrf": token, "role": "trainer"}).status_code == 200
    assert console.accounts.by_name("lan").role == "trainer"
    assert session.get("/conversations").status_code == 303  # a role change ends the sessions
    assert admin.post(f"/admin/users/{lan.id}/disabled", data={"csrf": token, "disabled": "1"}).status_code == 200
    assert console.accounts.by_name("lan").disabled
    me = console.accounts.by_name("admin")
    refused = admin.post(f"/admin/users/{me.id}/disabled", data={"csrf": token, "disabled": "1"})
    assert refused.status_code == 400 and not console.accounts.by_name("admin").disabled


def test_admin_keeps_the_calendar(console: Console) -> None:
    admin = console.login("admin")
    token = csrf_of(admin)
    added = admin.post("/admin/calendar", data={"csrf": token, "day": "2027-01-02", "kind": "work",
                                                "note": "làm bù Tết", "year": "2027"})  # fmt: skip
    assert added.status_code == 200 and "02/01/2027" in added.text and "Ngày làm bù" in added.text
    assert [(d.day, d.kind, d.created_by) for d in CalendarDays(console.engine).list(2027)] == [
        (date(2027, 1, 2), "work", "admin")
    ]
    assert admin.post("/admin/calendar", data={"csrf": token, "day": "x", "kind": "off"}).status_code == 400
    removed = admin.post("/admin/calendar/remove", data={"csrf": token, "day": "2027-01-02", "year": "2027"})
    assert removed.status_code == 200 and CalendarDays(console.engine).list(2027) == []


def test_call_backs_are_listed_and_marked(console: Console) -> None:
    book = CallbackBook(console.engine)
    first = book.add("zalo:5", "zalo", "0912345678")
    client = console.login("agent")
    page = client.get("/callbacks")
    assert "0912345678" in page.text and "/conversations/zalo%3A5" in page.text and "Đã gọi được" in page.text
    marked = client.post(f"/callbacks/{first.id}/mark", data={"csrf": csrf_of(client), "reached": "0"})
    assert marked.status_code == 200 and "Đã ghi kết quả." in marked.text
    assert book.pending() == []
    assert [(c.state, c.agent) for c in book.recent(1)] == [("not_reached", "agent")]
    assert client.post("/callbacks/999/mark", data={"csrf": csrf_of(client), "reached": "1"}).status_code == 404
