"""What a question asks and which variant its situation names (bot.catalog.query)."""

from __future__ import annotations

import pytest

from bot.catalog.query import MAX_ASKS, asks_in, variant_words
from bot.text import expand


@pytest.mark.parametrize(
    ("message", "asks"),
    [
        ("Làm lại căn cước bị mất ở đâu, làm online được không, mất bao nhiêu tiền?",
         ["ask_where", "ask_how_online", "ask_fee"]),
        ("Đổi bằng lái hết hạn thì hồ sơ gồm những gì, lệ phí bao nhiêu và mấy ngày có bằng mới?",
         ["ask_documents", "ask_fee", "ask_processing_time"]),
        ("dang ky tam tru lam online mat phi bao nhieu", ["ask_fee"]),  # the fee of filing online
        ("ko dang ky tam tru thi co bi phat ko", ["ask_conditions"]),
        ("đăng ký kết hôn có mất tiền không", ["ask_fee"]),  # "mất tiền" is a cost, not "có mặt"
        ("đăng ký kết hôn có bắt buộc cả hai người có mặt không", ["ask_conditions"]),
        ("lam the nao de nop ho so thuong tru truc tuyen", ["ask_how_online"]),
        ("sang tên xe thế nào", ["ask_procedure_info"]),
        ("sang tên xe thế nào, hết bao nhiêu", ["ask_fee"]),  # the overview only when nothing precise is asked
        ("thủ tục đăng ký kết hôn", []),
    ],
)  # fmt: skip
def test_asks_in_the_order_typed(message: str, asks: list[str]) -> None:
    assert asks_in(expand(message)) == asks


def test_at_most_max_asks() -> None:
    message = "cần giấy tờ gì, lệ phí bao nhiêu, bao lâu, nộp ở đâu, có bắt buộc không"
    assert len(asks_in(expand(message))) == MAX_ASKS


@pytest.mark.parametrize(
    ("message", "expected", "absent"),
    [
        ("thẻ căn cước bị mất", {"cap lai"}, set()),
        ("làm căn cước mất bao lâu, mất phí không", set(), {"cap lai"}),
        ("con gái 8 tuổi làm hộ chiếu", {"duoi 14 tuoi"}, {"duoi 6 tuoi"}),
        ("be 5t lam cccd", {"duoi 14 tuoi", "duoi 6 tuoi"}, set()),
        ("căn cước cho trẻ dưới 14 tuổi", {"duoi 14 tuoi"}, {"duoi 6 tuoi"}),
        ("cháu 15 tuổi làm căn cước", set(), {"duoi 14 tuoi"}),
        ("bố tôi mất để lại mảnh đất", set(), {"cap lai"}),  # died, not lost
        ("thẻ bị gãy", {"cap lai"}, {"doi"}),  # damaged beyond use: re-issued (Luật Căn cước, Art. 24(2))
        ("đăng ký xe lần đầu toàn trình", {"lan dau", "truc tuyen toan trinh"}, set()),
    ],
)
def test_variant_words(message: str, expected: set[str], absent: set[str]) -> None:
    found = set(variant_words(expand(message)))
    assert expected <= found and not (absent & found), found
