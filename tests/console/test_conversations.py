"""The conversations list (filters to ConversationFilter), transcripts (audited) and unmasking."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.console.models import AuditRow
from bot.conversations.query import ConversationFilter
from tests.console.conftest import Console, csrf_of
from tests.console.fakes import sealed, turn


def _audit(console: Console) -> list[tuple[str, str, str | None, str | None]]:
    with console.engine.connect() as conn:
        rows = conn.execute(select(AuditRow.username, AuditRow.action, AuditRow.target, AuditRow.reason)
                            .order_by(AuditRow.id))  # fmt: skip
        return [tuple(r) for r in rows if r.action not in ("login_ok",)]


def _seed(console: Console) -> None:
    console.record.add(
        "telegram_ptb:42",
        turn(1, "citizen", "số của tôi là 09•••••678", intent="ask_fee", confidence=0.42,
             entities=({"entity": "procedure", "value": "hộ chiếu"},), actions=("action_answer_procedure",),
             reply="Lệ phí là 200.000 đồng", procedure_code="2.001941"),
        sealed(turn(2, "citizen", "CCCD ••••••••1234"), "CCCD 001234561234"),
        channel="telegram", rating=1, handed_off=True,
    )  # fmt: skip


def test_filters_reach_the_record(console: Console) -> None:
    _seed(console)
    client = console.login("trainer")
    response = client.get("/conversations", params={
        "q": "hộ chiếu", "date_from": "2026-12-01", "date_to": "2026-12-07", "channel": "telegram",
        "fallback": "1", "confidence_below": "0,5", "handed_off": "0", "low_rating": "1",
        "procedure": "2.001941", "intent": "ask_fee",
    })  # fmt: skip
    assert response.status_code == 200
    flt, limit, cursor = console.record.filters[-1]
    assert flt == ConversationFilter(date_from=date(2026, 12, 1), date_to=date(2026, 12, 7), channel="telegram",
                                     fallback=True, confidence_below=0.5, handed_off=False, rating_at_most=2,
                                     procedure_code="2.001941", intent="ask_fee", text="hộ chiếu")  # fmt: skip
    assert (limit, cursor) == (50, None)
    assert "/conversations/telegram_ptb%3A42" in response.text and "2.001941" in response.text
    client.get("/conversations")
    assert console.record.filters[-1][0] == ConversationFilter()


def test_bad_filter_values_are_reported_not_crashing(console: Console) -> None:
    client = console.login("agent")
    response = client.get("/conversations", params={"date_from": "hôm qua", "confidence_below": "2"})
    assert response.status_code == 200
    assert "ngày không hợp lệ" in response.text and "từ 0 đến 1" in response.text
    assert console.record.filters[-1][0] == ConversationFilter()


def test_next_page_keeps_the_filters(console: Console) -> None:
    _seed(console)
    console.record.next_cursor = "abc=="
    client = console.login("agent")
    page = client.get("/conversations", params={"channel": "zalo"})
    assert "Trang sau" in page.text and "/conversations?channel=zalo&amp;cursor=abc%3D%3D" in page.text
    client.get("/conversations", params={"channel": "zalo", "cursor": "abc=="})
    assert console.record.filters[-1][2] == "abc=="


def test_transcript_is_masked_detailed_and_audited(console: Console) -> None:
    _seed(console)
    client = console.login("trainer")
    page = client.get("/conversations/telegram_ptb:42")
    assert page.status_code == 200
    text = page.text
    assert "09•••••678" in text and "001234561234" not in text
    assert "ask_fee (0.42)" in text and "procedure=hộ chiếu" in text and "action_answer_procedure" in text
    assert "Lệ phí là 200.000 đồng" in text and "2.001941" in text
    assert "09:00:01" in text  # Vietnam time (02:00:01 UTC)
    assert "Xem bản gốc" not in text  # a trainer cannot unmask
    assert _audit(console) == [("trainer", "view_transcript", "telegram_ptb:42", None)]
    assert client.get("/conversations/nobody").status_code == 404


def test_unmask_needs_the_role_and_a_reason_and_is_audited(console: Console) -> None:
    _seed(console)
    agent = console.login("agent")
    assert agent.post("/conversations/telegram_ptb:42/unmask",
                      data={"csrf": csrf_of(agent), "reason": "kiểm tra khiếu nại"}).status_code == 403  # fmt: skip
    supervisor = console.login("supervisor")
    token = csrf_of(supervisor)
    short = supervisor.post("/conversations/telegram_ptb:42/unmask", data={"csrf": token, "reason": "  ab "})
    assert short.status_code == 400 and "001234561234" not in short.text and "Cần ghi lý do" in short.text
    ok = supervisor.post("/conversations/telegram_ptb:42/unmask", data={"csrf": token, "reason": "kiểm tra khiếu nại"})
    assert ok.status_code == 200 and "CCCD 001234561234" in ok.text and "kiểm tra khiếu nại" in ok.text
    assert ok.headers["cache-control"] == "no-store"
    unmasks = [row for row in _audit(console) if row[1] == "unmask"]
    assert unmasks == [("supervisor", "unmask", "telegram_ptb:42", "kiểm tra khiếu nại")]


def test_html_in_a_turn_is_escaped_in_the_transcript(console: Console) -> None:
    console.record.add("rest:x", turn(1, "citizen", "<script>alert(1)</script>", reply="<i>hi</i>"))
    page = console.login("agent").get("/conversations/rest:x").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<i>hi</i>" not in page
