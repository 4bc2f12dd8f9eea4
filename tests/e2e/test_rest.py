"""The running assistant over Rasa's REST webhook: real servers, real model, real catalogue."""

from __future__ import annotations

import re

import pytest

from tests.fakes import joined, say

pytestmark = pytest.mark.slow


def test_greeting(running_bot: str) -> None:
    reply = joined(say(running_bot, "e2e-greet", "xin chào"))
    assert "Trợ lý Dịch vụ công" in reply


def test_question_without_diacritics_gets_a_cited_answer_and_a_follow_up(running_bot: str) -> None:
    reply = joined(say(running_bot, "e2e-tamtru", "dang ky tam tru can giay to gi"))
    assert "1.004194" in reply
    assert re.search(r"Cập nhật: \d{2}/\d{2}/\d{4}", reply)
    follow = joined(say(running_bot, "e2e-tamtru", "còn lệ phí thì sao?"))
    assert "1.004194" in follow and "đồng" in follow


def test_dossier_flow_verifies_before_revealing(running_bot: str) -> None:
    sender = "e2e-dossier"
    first = joined(say(running_bot, sender, "tra cứu hồ sơ 000.00.00.H99-261120-0001"))
    assert "4 chữ số cuối" in first
    status = joined(say(running_bot, sender, "6789"))
    assert "Đang xử lý" in status and "01/12/2026" in status
    assert "NGUYỄN VĂN DEMO" not in status.upper()
    subscribed = joined(say(running_bot, sender, "báo cho tôi khi có kết quả"))
    assert "000.00.00.H99-261120-0001" in subscribed


def test_a_message_sent_again_with_its_id_gets_the_same_answer_once(running_bot_parts) -> None:  # type: ignore[no-untyped-def]
    import json
    import sqlite3

    import requests

    url = f"{running_bot_parts.rasa_url}/webhooks/rest/webhook"
    body = {"sender": "e2e-once", "message": "đăng ký tạm trú cần giấy tờ gì", "message_id": "m-1"}
    first = requests.post(url, json=body, timeout=30).json()
    again = requests.post(url, json=body, timeout=30).json()
    assert "1.004194" in joined(first)
    assert again == first, "a client's retry gets the replies it lost"
    other = requests.post(url, json={**body, "message_id": "m-2", "message": "còn lệ phí thì sao?"}, timeout=30).json()
    assert "đồng" in joined(other)
    rows = sqlite3.connect(running_bot_parts.var_dir / "tracker.db").execute(
        "SELECT data FROM events WHERE sender_id = 'rest:e2e-once' AND type_name = 'user'"
    )
    ids = [json.loads(data).get("message_id") for (data,) in rows]
    assert ids[:2] == ["rest-m-1", "rest-m-2"], "the retried message is stored once"
    reused = requests.post(url, json={**body, "message_id": "m-1", "message": "cấp hộ chiếu cần gì"}, timeout=30)
    assert "1.004194" not in joined(reused.json()), "a reused id with another text is a new message, not a retry"
    bad = requests.post(url, json={**body, "message_id": "x" * 65}, timeout=30)
    assert bad.status_code == 400 and "message_id" in bad.text
