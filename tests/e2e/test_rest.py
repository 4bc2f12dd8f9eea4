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
