"""Derived training variants keep entity spans on the right words."""

from bot.nlu.variants import Entity, Example, variants, with_teencode, without_diacritics


def _values(ex: Example) -> list[str]:
    return [ex.text[e.start : e.end] for e in ex.entities]


def test_without_diacritics_keeps_offsets() -> None:
    ex = Example("làm căn cước cần giấy tờ gì", (Entity(0, 12, "procedure"),))
    out = without_diacritics(ex)
    assert out.text == "lam can cuoc can giay to gi"
    assert _values(out) == ["lam can cuoc"]


def test_teencode_moves_entities() -> None:
    text = "em không biết đổi giấy phép lái xe ở đâu được không"
    start = text.index("đổi giấy phép lái xe")
    ex = Example(text, (Entity(start, start + len("đổi giấy phép lái xe"), "procedure"),))
    out = with_teencode(ex)
    assert out.text == "em ko bít đổi gplx ở đâu dc ko"
    assert _values(out) == ["đổi gplx"]


def test_variants_are_distinct_and_exclude_original() -> None:
    ex = Example("không được à")
    texts = [v.text for v in variants(ex)]
    assert "không được à" not in texts
    assert len(texts) == len(set(texts)) == 3


def test_alternate_teencode_uses_other_common_forms() -> None:
    text = "đổi giấy phép lái xe được không, cần giấy tờ gì"
    ex = Example(text, (Entity(0, len("đổi giấy phép lái xe"), "procedure"),))
    out = with_teencode(ex, alternate=True)
    assert " k," in out.text and out.text.endswith(" j")
    assert "dk" not in out.text.split()  # ambiguous between "được" and "đăng ký": never generated for "được"
    assert _values(out) == ["đổi gplx"]
    assert [v.text for v in variants(ex)][-1] == without_diacritics(out).text
