"""Reading other systems' status labels does not depend on the citizen wording."""

from __future__ import annotations

from dataclasses import replace

import pytest

import bot.wording
from bot.dossiers.status import PORTAL_LABELS, DossierStatus, parse_status, status_info
from bot.text import fold
from bot.wording import Wording, catalogue

# The labels parse_status accepted before the wording catalogue existed (git 7549e00): the portal's.
OLD_LABELS = {
    "Mới đăng ký": DossierStatus.NEW,
    "Được tiếp nhận": DossierStatus.RECEIVED,
    "Không được tiếp nhận": DossierStatus.NOT_RECEIVED,
    "Đang xử lý": DossierStatus.PROCESSING,
    "Yêu cầu bổ sung giấy tờ": DossierStatus.NEEDS_DOCUMENTS,
    "Yêu cầu thực hiện nghĩa vụ tài chính": DossierStatus.NEEDS_PAYMENT,
    "Công dân yêu cầu rút hồ sơ": DossierStatus.WITHDRAWN,
    "Dừng xử lý": DossierStatus.STOPPED,
    "Đã xử lý xong": DossierStatus.DONE,
    "Đã trả kết quả": DossierStatus.RETURNED,
}


@pytest.fixture
def reworded(monkeypatch: pytest.MonkeyPatch) -> Wording:
    """The citizen catalogue with every status label reworded."""
    real = catalogue()
    sentences = {
        key: f"(nhãn mới) {sentence}" if key.startswith("dossier.status.") and key.endswith(".label") else sentence
        for key, sentence in real.sentences.items()
    }
    fake = replace(real, sentences=sentences)
    monkeypatch.setattr(bot.wording, "catalogue", lambda namespace="citizen": fake)
    return fake


def test_the_portal_labels_are_the_old_labels() -> None:
    assert {label: status for status, label in PORTAL_LABELS.items()} == OLD_LABELS


@pytest.mark.parametrize(("label", "status"), OLD_LABELS.items())
def test_parse_status_reads_old_labels_despite_rewording(reworded: Wording, label: str, status: DossierStatus) -> None:
    # Display follows the wording...
    assert status_info(status).label.startswith("(nhãn mới) ")
    # ...reading another system's value does not.
    assert parse_status(label) is status
    assert parse_status(fold(label).upper()) is status
    with pytest.raises(ValueError, match="not a dossier status"):
        parse_status(status_info(status).label)
