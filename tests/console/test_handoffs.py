"""The queue and the handoff page through the HTTP routes, against a fake StaffDesk over the real queue."""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.console.models import AuditRow, NoteRow
from bot.helpdesk.service import Delivery
from tests.console.conftest import Console, csrf_of
from tests.console.fakes import turn

HX = {"HX-Request": "true"}


def test_the_queue_shows_a_new_citizen_at_the_next_poll(console: Console) -> None:
    # The desk stamps the handoff with the real clock: the login must not be from another day (10 h sessions).
    console.clock.now = datetime.now(timezone.utc).replace(tzinfo=None)
    client = console.login("agent")
    assert "Không có ai đang chờ." in client.get("/queue/fragment").text
    page = client.get("/")
    assert 'hx-get="/queue/fragment" hx-trigger="every 1s"' in page.text
    h = console.desk.open("zalo:123", "zalo", "fallback")
    console.record.add("zalo:123", turn(1, "citizen", "cho hỏi làm căn cước"))
    console.clock.now = h.opened_at + timedelta(minutes=3, seconds=5)  # the desk stamps with the real clock
    fragment = client.get("/queue/fragment", headers=HX).text
    assert f"/handoffs/{h.id}" in fragment and "Zalo" in fragment and "Trợ lý không hiểu" in fragment
    assert "cho hỏi làm căn cước" in fragment and "3 phút" in fragment
    assert ("seen", "agent") in console.staff.calls  # each poll is presence


def test_claim_reply_note_transfer_close(console: Console) -> None:
    h = console.desk.open("socketio:web1", "socketio")
    console.record.add("socketio:web1", turn(1, "citizen", "tôi cần người"), turn(2, "bot", "Vâng, chờ chút"))
    client = console.login("agent")
    page = client.get(f"/handoffs/{h.id}")
    assert page.status_code == 200 and "tôi cần người" in page.text and "Nhận" in page.text
    assert f'hx-get="/handoffs/{h.id}/turns?after=2"' in page.text
    token = csrf_of(client)
    headers = {**HX, "X-CSRF-Token": token}

    claimed = client.post(f"/handoffs/{h.id}/claim", headers=headers)
    assert claimed.status_code == 200 and "Bạn đã nhận" in claimed.text and 'id="handoff-panel"' in claimed.text
    replied = client.post(f"/handoffs/{h.id}/reply", headers=headers, data={"text": "Chào anh, tôi giúp được gì?"})
    assert replied.status_code == 200 and "Đã gửi" in replied.text
    noted = client.post(f"/handoffs/{h.id}/note", headers=headers, data={"text": "hỏi về hộ chiếu"})
    assert noted.status_code == 200 and "hỏi về hộ chiếu" in noted.text
    moved = client.post(f"/handoffs/{h.id}/transfer", headers=headers, data={"to": "agent2"})
    assert moved.status_code == 200 and "Đã chuyển cho agent2" in moved.text

    agent2 = console.login("agent2")
    closed = agent2.post(f"/handoffs/{h.id}/close", headers={**HX, "X-CSRF-Token": csrf_of(agent2)},
                         data={"end_reason": "answered"})  # fmt: skip
    assert closed.status_code == 200 and "Đã kết thúc" in closed.text

    assert console.staff.actions() == [
        ("claim", h.id, "agent"),
        ("reply", h.id, "agent", "Chào anh, tôi giúp được gì?"),
        ("transfer", h.id, "agent", "agent2"),
        ("close", h.id, "agent2", "answered"),
    ]
    with console.engine.connect() as conn:
        notes = conn.execute(select(NoteRow.handoff_id, NoteRow.author, NoteRow.text)).all()
        actions = [a for (a,) in conn.execute(select(AuditRow.action).order_by(AuditRow.id))]
    assert [tuple(n) for n in notes] == [(h.id, "agent", "hỏi về hộ chiếu")]
    assert {"view_handoff", "claim", "reply", "transfer", "close"} <= set(actions)


def test_a_second_claim_shows_a_conflict_not_a_500(console: Console) -> None:
    h = console.desk.open("telegram_ptb:9", "telegram")
    first, second = console.login("agent"), console.login("agent2")
    assert first.post(f"/handoffs/{h.id}/claim", data={"csrf": csrf_of(first)}, headers=HX).status_code == 200
    response = second.post(f"/handoffs/{h.id}/claim", data={"csrf": csrf_of(second)}, headers=HX)
    assert response.status_code == 409
    assert "đang do agent xử lý" in response.text
    # and without htmx the whole page comes back with the message
    page = second.post(f"/handoffs/{h.id}/claim", data={"csrf": csrf_of(second)})
    assert page.status_code == 409 and "<html" in page.text and "đang do agent xử lý" in page.text


def test_reply_refused_when_not_held_or_not_a_handoff(console: Console) -> None:
    client = console.login("agent")
    token = csrf_of(client)
    h = console.desk.open("socketio:web2", "socketio")
    waiting = client.post(f"/handoffs/{h.id}/reply", data={"csrf": token, "text": "xin chào"}, headers=HX)
    assert waiting.status_code == 409 and "cần nhận cuộc hỗ trợ này trước" in waiting.text
    missing = client.post("/handoffs/999/reply", data={"csrf": token, "text": "xin chào"}, headers=HX)
    assert missing.status_code == 404
    console.desk.claim(h.id, "agent2")
    other = client.post(f"/handoffs/{h.id}/reply", data={"csrf": token, "text": "xin chào"}, headers=HX)
    assert other.status_code == 409 and "đang do agent2 xử lý" in other.text
    empty = console.login("agent2")
    response = empty.post(f"/handoffs/{h.id}/reply", data={"csrf": csrf_of(empty), "text": "   "}, headers=HX)
    assert response.status_code == 400 and "Tin nhắn trống." in response.text


def test_a_reply_that_could_not_be_delivered_says_why(console: Console) -> None:
    h = console.desk.open("zalo:77", "zalo")
    client = console.login("agent")
    token = csrf_of(client)
    client.post(f"/handoffs/{h.id}/claim", data={"csrf": token}, headers=HX)
    for problem, words in [("zalo_window", "Zalo: ngoài khung 7 ngày, không gửi được"),
                           ("rest_no_push", "Kênh REST không nhận tin đẩy"),
                           ("rasa_unavailable", "Không kết nối được máy chủ Rasa")]:  # fmt: skip
        console.staff.delivery = Delivery(False, problem)
        response = client.post(f"/handoffs/{h.id}/reply", data={"csrf": token, "text": "alo"}, headers=HX)
        assert response.status_code == 200 and words in response.text


def test_close_needs_a_known_reason_and_transfer_another_agent(console: Console) -> None:
    h = console.desk.open("socketio:web3", "socketio")
    client = console.login("agent")
    token = csrf_of(client)
    client.post(f"/handoffs/{h.id}/claim", data={"csrf": token}, headers=HX)
    assert client.post(f"/handoffs/{h.id}/close", data={"csrf": token, "end_reason": "bored"},
                       headers=HX).status_code == 400  # fmt: skip
    assert client.post(f"/handoffs/{h.id}/transfer", data={"csrf": token, "to": "agent"}, headers=HX).status_code == 400
    assert client.post(f"/handoffs/{h.id}/transfer", data={"csrf": token, "to": "trainer"},
                       headers=HX).status_code == 400  # fmt: skip
    assert console.staff.actions() == [("claim", h.id, "agent")]


def test_new_turns_are_polled_and_html_is_shown_as_text(console: Console) -> None:
    h = console.desk.open("socketio:xss", "socketio")
    console.record.add("socketio:xss", turn(1, "citizen", "<script>alert(1)</script>"))
    client = console.login("agent")
    page = client.get(f"/handoffs/{h.id}")
    assert "<script>alert(1)</script>" not in page.text
    assert html.escape("<script>alert(1)</script>", quote=False) in page.text
    console.record.add("socketio:xss", turn(2, "citizen", '<img src=x onerror="alert(2)">'))
    polled = client.get(f"/handoffs/{h.id}/turns?after=1", headers=HX).text
    assert "<img" not in polled and "&lt;img src=x" in polled
    assert 'hx-swap-oob="beforeend:#transcript"' in polled
    assert f'hx-get="/handoffs/{h.id}/turns?after=2"' in polled
    assert client.get(f"/handoffs/{h.id}/turns?after=2", headers=HX).text.count("turn-") == 0
    # staff text too (a note)
    token = csrf_of(client)
    noted = client.post(f"/handoffs/{h.id}/note", data={"csrf": token, "text": "<b>bold</b>"}, headers=HX)
    assert "<b>bold</b>" not in noted.text and "&lt;b&gt;bold&lt;/b&gt;" in noted.text


def test_a_supervisor_takes_over_a_handoff_whose_agent_is_gone(console: Console) -> None:
    """An agent who went home (or was disabled) would otherwise hold the citizen's conversation for ever."""
    h = console.desk.open("telegram_ptb:5", "telegram_ptb")
    console.desk.claim(h.id, "agent")
    supervisor = console.login("supervisor")
    page = supervisor.get(f"/handoffs/{h.id}")
    assert "Tiếp nhận thay" in page.text
    headers = {**HX, "X-CSRF-Token": csrf_of(supervisor)}
    taken = supervisor.post(f"/handoffs/{h.id}/take-over", headers=headers)
    assert taken.status_code == 200 and "tiếp nhận thay agent" in taken.text
    closed = supervisor.post(f"/handoffs/{h.id}/close", headers=headers, data={"end_reason": "no_answer"})
    assert closed.status_code == 200 and "Đã kết thúc" in closed.text
    assert "Tiếp nhận thay" not in console.login("agent2").get(f"/handoffs/{h.id}").text


def test_notes_are_masked_and_audited(console: Console) -> None:
    h = console.desk.open("zalo:9", "zalo")
    client = console.login("agent")
    headers = {**HX, "X-CSRF-Token": csrf_of(client)}
    client.post(f"/handoffs/{h.id}/claim", headers=headers)
    noted = client.post(f"/handoffs/{h.id}/note", headers=headers, data={"text": "KH số 0977111222, gọi lại chiều"})
    assert noted.status_code == 200 and "0977111222" not in noted.text
    with console.engine.connect() as conn:
        assert "0977111222" not in conn.execute(select(NoteRow.text)).scalar_one()
        assert ("note", f"handoff:{h.id}") in {(r.action, r.target) for r in conn.execute(select(AuditRow))}
