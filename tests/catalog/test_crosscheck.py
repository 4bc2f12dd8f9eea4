"""Cross-check the curated catalogue (data/catalog/*.yml) against the portal snapshot.

For every curated file whose code has a full record in
``../shared/portal-snapshot/details/<code>.json`` we compare, per submission method
(online, direct, postal):

* the fees, as a multiset of amounts (a list of zero amounts counts as "free",
  the same as ``fees: []``). A fee with no fixed figure (curated ``amount: null``,
  a portal fee whose ``value`` is null or missing) counts as "varies": it is
  never free, so it matches only a "varies" fee on the other side, and a
  curated ``amount: null`` against the portal's 0 needs a note;
* the processing time and its unit (a time of 0 counts as "not given", as the
  portal's own page renders it);

and, across all cases, the set of document names.

Document names are compared after normalising both sides: Unicode folding
(:func:`bot.text.fold`), invisible format characters removed, punctuation
replaced by spaces, whitespace collapsed. The portal lists section headings
and explanatory notes as documents with no original and no copy, and now and
then a note starting "Lưu ý" with quantities; those are not documents and
are ignored. A curated name may shorten the portal's name, which often packs
conditions and examples into one sentence: it matches when it has at least
three words and appears, word for word, inside the portal's name ("Biên bản
về việc trẻ bị bỏ rơi" in "Trường hợp trẻ em bị bỏ rơi thì phải có biên bản
về việc trẻ bị bỏ rơi …"); the rest goes into the note.

Every remaining difference must be explained by a ``crosscheck_notes`` entry
with a non-empty ``note`` and ``legal_basis`` whose ``field`` is the differing
field or one of its parents (``methods.online`` covers
``methods.online.fees``; ``documents`` covers all document differences).

The YAML is read with ``yaml.safe_load`` on purpose: this test does not depend
on the catalogue loader.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import PROJECT_ROOT
from bot.text import fold

CATALOG_DIR = PROJECT_ROOT / "data" / "catalog"
CATALOG_FILES = sorted(CATALOG_DIR.glob("*.yml"))

SUBMISSION_METHOD_KINDS = {"ONLINE": "online", "DIRECT": "direct", "POSTAL": "postal"}
UNITS = {"WORKING_DAY": "working_day", "DAY": "day", "HOUR": "hour", "OTHER": "other"}
MIN_EXCERPT_WORDS = 3
NOTE_PREFIX = "luu y "
_PUNCT_RE = re.compile(r"[^\w\s]|_", re.UNICODE)
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Mismatch:
    """One difference between a curated file and the portal record."""

    field: str
    message: str


def normalise_name(text: str) -> str:
    """Fold a document name for comparison: no case, diacritics, punctuation or extra spaces."""
    visible = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SPACE_RE.sub(" ", _PUNCT_RE.sub(" ", fold(visible))).strip()


def _names_match(curated: str, portal: str) -> bool:
    """Equal, or the curated name is a run of at least three whole words of the portal's name."""
    if curated == portal:
        return True
    return len(curated.split()) >= MIN_EXCERPT_WORDS and f" {curated} " in f" {portal} "


def _fee_multiset(amounts: list[float | None]) -> Counter[float | None]:
    """Amounts as a multiset; all-zero lists mean "free" and equal the empty list.

    ``None`` is a fee whose figure is set elsewhere (a provincial council, the
    vehicle's value): not zero, so a list holding one is never "free".
    """
    if all(a is not None and a == 0 for a in amounts):
        return Counter()
    return Counter(amounts)


def _portal_amount(fee: dict[str, Any]) -> float | None:
    """A portal fee's ``value`` in VND; ``None`` when the portal gives no figure (null or missing)."""
    value = fee.get("value")
    return None if value in (None, "") else float(value)


def _curated_amount(fee: dict[str, Any]) -> float | None:
    """A curated fee's ``amount``; ``None`` for ``amount: null`` (a fee applies, its figure is set elsewhere)."""
    amount = fee["amount"]
    return None if amount is None else float(amount)


def _show_fees(fees: Counter[float | None]) -> str:
    """A multiset of amounts for a message: sorted figures, "varies" for no fixed figure, "free" when empty."""
    if not fees:
        return "free"
    figures = sorted(a for a in fees.elements() if a is not None)
    return str(figures + ["varies"] * fees[None])


def _time(value: Any) -> float | None:
    """A processing time; 0 means "not given" (the portal's page shows it as N/A)."""
    return None if value in (None, 0, "") else float(value)


def _show(value: Any, limit: int = 110) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare_methods(curated: dict[str, Any], record: dict[str, Any]) -> list[Mismatch]:
    """Fees and processing time per submission method.

    The portal sometimes lists one kind twice (e.g. two ONLINE entries with
    different times); the curated method then has to match one of them.
    """
    portal: dict[str, list[dict[str, Any]]] = {}
    for method in record.get("executionMethods") or []:
        kind = SUBMISSION_METHOD_KINDS.get(method.get("submissionMethod"), str(method.get("submissionMethod")).lower())
        portal.setdefault(kind, []).append(method)
    ours = {m["kind"]: m for m in curated.get("methods") or []}

    found: list[Mismatch] = []
    for kind in sorted(set(portal) | set(ours)):
        if kind not in ours:
            found.append(Mismatch(f"methods.{kind}", f"submission method {kind!r} is on the portal, not in the YAML"))
            continue
        if kind not in portal:
            found.append(Mismatch(f"methods.{kind}", f"submission method {kind!r} is in the YAML, not on the portal"))
            continue
        mine = ours[kind]
        times = [
            (_time(m.get("processingTime")), UNITS.get(m.get("processingTimeUnit"), str(m.get("processingTimeUnit"))))
            for m in portal[kind]
        ]
        my_time = (_time(mine.get("processing_time")), mine.get("time_unit"))
        if my_time not in times:
            found.append(
                Mismatch(
                    f"methods.{kind}.processing_time",
                    f"YAML {my_time[0]} {my_time[1]} vs portal " + " / ".join(f"{t} {u}" for t, u in times),
                )
            )
        fee_sets = [_fee_multiset([_portal_amount(f) for f in m.get("fees") or []]) for m in portal[kind]]
        my_fees = _fee_multiset([_curated_amount(f) for f in mine.get("fees") or []])
        if my_fees not in fee_sets:
            found.append(
                Mismatch(
                    f"methods.{kind}.fees",
                    f"YAML amounts {_show_fees(my_fees)} vs portal " + " / ".join(_show_fees(s) for s in fee_sets),
                )
            )
    return found


def compare_documents(curated: dict[str, Any], record: dict[str, Any]) -> list[Mismatch]:
    """The set of document names across all cases, both ways."""
    portal: dict[str, str] = {}
    for case in record.get("executionCases") or []:
        for comp in case.get("profileComponents") or []:
            # Headings and notes sit in the portal's list with no original and no copy,
            # or (now and then) with quantities but labelled "Lưu ý".
            name = comp.get("name") or ""
            key = normalise_name(name)
            if not (comp.get("originalQty") or comp.get("copyQty")) or not key or key.startswith(NOTE_PREFIX):
                continue
            portal.setdefault(key, name)
    ours: dict[str, str] = {}
    for case in curated.get("cases") or []:
        for doc in case.get("documents") or []:
            ours.setdefault(normalise_name(doc["name"]), doc["name"])

    found: list[Mismatch] = []
    for key, name in sorted(portal.items()):
        if not any(_names_match(mine, key) for mine in ours):
            found.append(Mismatch("documents", f"portal document missing from the YAML: {_show(name)!r}"))
    for key, name in sorted(ours.items()):
        if not any(_names_match(key, theirs) for theirs in portal):
            found.append(Mismatch("documents", f"YAML document not on the portal: {_show(name)!r}"))
    return found


def explained(mismatch: Mismatch, notes: list[dict[str, Any]]) -> bool:
    """True when a complete crosscheck note covers the mismatch's field or a parent of it."""
    for note in notes:
        field = str(note.get("field") or "").strip()
        if not field or not str(note.get("note") or "").strip() or not str(note.get("legal_basis") or "").strip():
            continue
        if mismatch.field == field or mismatch.field.startswith(field + "."):
            return True
    return False


def test_normalise_name_ignores_spacing_punctuation_and_case() -> None:
    assert normalise_name("- Tờ khai thay đổi thông tin  cư trú (Mẫu CT01);") == normalise_name(
        "Tờ khai thay đổi thông tin cư trú Mẫu CT01."
    )
    assert normalise_name("đăng k\u200eý") == "dang ky"


def test_excerpt_rule_needs_three_whole_words() -> None:
    portal = normalise_name("Giấy chứng sinh; trường hợp không có Giấy chứng sinh thì nộp văn bản của người làm chứng")
    assert _names_match(normalise_name("Giấy chứng sinh"), portal)
    assert _names_match(normalise_name("văn bản của người làm chứng"), portal)
    assert not _names_match(normalise_name("văn bản của người chứng kiến"), portal)
    assert not _names_match(normalise_name("Giấy chứng"), portal)
    assert not _names_match(normalise_name("Giấy"), portal)
    assert not _names_match(normalise_name("iấy chứng sinh"), portal)


def test_fee_lists_of_zeros_mean_free() -> None:
    assert _fee_multiset([0.0]) == _fee_multiset([])
    assert _fee_multiset([20000.0, 0.0]) != _fee_multiset([20000.0])


def test_fee_without_figure_is_never_free() -> None:
    assert _fee_multiset([None]) != _fee_multiset([])
    assert _fee_multiset([None]) != _fee_multiset([0.0])
    assert _fee_multiset([0.0, None]) == Counter({0.0: 1, None: 1})
    assert _portal_amount({"value": None}) is None
    assert _portal_amount({"description": "Do Hội đồng nhân dân tỉnh quy định"}) is None
    assert _portal_amount({"value": 0}) == 0.0
    assert _curated_amount({"amount": None}) is None
    assert _show_fees(Counter([20000.0, None])) == "[20000.0, 'varies']"


def _one_method(fees: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "executionMethods": [
            {"submissionMethod": "DIRECT", "processingTime": 1, "processingTimeUnit": "WORKING_DAY", "fees": fees}
        ]
    }


def test_curated_null_amount_against_portal_fees() -> None:
    curated = {
        "methods": [
            {
                "kind": "direct",
                "processing_time": 1,
                "time_unit": "working_day",
                "fees": [{"amount": 0}, {"amount": None}],
            }
        ]
    }
    # The portal's 0 reads as free: a curated "varies" differs from it and needs a note.
    assert [m.field for m in compare_methods(curated, _one_method([{"value": 0}]))] == ["methods.direct.fees"]
    # A portal fee with no figure is the same "varies".
    assert compare_methods(curated, _one_method([{"value": 0}, {"value": None}])) == []
    assert compare_methods(curated, _one_method([{"value": 0}, {"description": "HĐND tỉnh quy định"}])) == []
    # ... and is not free: an empty curated list does not match it.
    free = {"methods": [{**curated["methods"][0], "fees": []}]}
    assert [m.field for m in compare_methods(free, _one_method([{"value": None}]))] == ["methods.direct.fees"]


@pytest.mark.parametrize("path", CATALOG_FILES, ids=[p.name for p in CATALOG_FILES])
def test_curated_file_agrees_with_portal_record(path: Path, snapshot_dir: Path) -> None:
    curated = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(curated, dict), f"{path.name}: not a YAML mapping"
    code = str(curated.get("code"))
    if curated.get("province"):
        pytest.skip(f"{path.name}: provincial variant; the snapshot holds central records only")
    detail = snapshot_dir / "details" / f"{code}.json"
    if not detail.is_file():
        pytest.skip(f"{path.name}: no portal detail record for {code} in the snapshot")
    record = json.loads(detail.read_text(encoding="utf-8"))["data"]

    notes = curated.get("crosscheck_notes") or []
    mismatches = compare_methods(curated, record) + compare_documents(curated, record)
    unexplained = [m for m in mismatches if not explained(m, notes)]
    if unexplained:
        lines = "\n".join(f"  - [{m.field}] {m.message}" for m in unexplained)
        pytest.fail(
            f"{path.name} ({code}): {len(unexplained)} unexplained difference(s) from the portal record "
            f"{detail.name}; fix the YAML or add a crosscheck_notes entry (field, note, legal_basis):\n{lines}",
            pytrace=False,
        )
