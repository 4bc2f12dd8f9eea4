"""Import the portal's own JSON (catalog.jsonl + details/*.json) into the catalogue.

Input is a directory laid out like the snapshot (``catalog.jsonl``, ``details/<code>.json``)
or a single file (a ``.jsonl`` of catalogue rows, or one detail response ``.json``).
Everything is parsed and mapped first; then it is written in one transaction, so a bad
file anywhere leaves the database as it was. Procedures are keyed by (code, province):
the province is the one named by the promulgating body ("UBND tỉnh Bắc Ninh"), and
national records have none. A catalogue row and the detail record of the same portal
id merge into one procedure. Curated records are never overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from tqdm import tqdm

from bot.catalog.domain import Agency, Case, Document, Fee, LegalBasis, Procedure, SubmissionMethod
from bot.catalog.errors import PortalDataError
from bot.catalog.loader import CODE_RE, display_path
from bot.catalog.models import ProcedureRow
from bot.catalog.provinces import province_in
from bot.catalog.store import content_hash, existing_index, fill_row, key_of
from bot.db import engine_for, session_factory
from bot.db.clock import VN_TZ
from bot.text import fold

logger = logging.getLogger(__name__)

PORTAL_SUBMISSION_METHODS = {"ONLINE": "online", "DIRECT": "direct", "POSTAL": "postal"}  # -> SubmissionMethod.kind
UNITS = {"WORKING_DAY": "working_day", "DAY": "day", "HOUR": "hour", "OTHER": "other"}
UNIT_NOTES = {"MONTH": "tháng", "WEEK": "tuần", "YEAR": "năm"}  # units our model lacks: kept in time_note

SKIP_CURATED = "curated record exists (curated wins, never overwritten)"
SKIP_DUPLICATE = "duplicate of an earlier record with the same code and province"
SKIP_NO_CODE = "missing code"
SKIP_SUMMARY_OVER_DETAIL = "a detailed record is stored; a catalogue summary row does not replace it"


@dataclass(frozen=True)
class Skip:
    """One input record that was not written, and why."""

    source: str
    code: str | None
    province: str | None
    reason: str


@dataclass
class ImportSummary:
    """What an import did, per procedure (loaded/updated/unchanged) and per skipped input record."""

    rows_read: int = 0
    details_read: int = 0
    procedures: int = 0
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def reasons(self) -> Counter[str]:
        """How many records were skipped for each reason."""
        return Counter(s.reason for s in self.skipped)

    def __str__(self) -> str:
        lines = [
            f"read {self.rows_read} catalogue row(s) and {self.details_read} detail record(s) "
            f"-> {self.procedures} procedure(s): {self.loaded} loaded, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped ({self.seconds:.1f} s)"
        ]
        for reason, n in sorted(self.reasons().items()):
            examples = ", ".join(
                dict.fromkeys(
                    f"{s.code or '?'}{'/' + s.province if s.province else ''}"
                    for s in self.skipped
                    if s.reason == reason
                )
            )
            lines.append(f"  skipped {n}: {reason}: {_shorten(examples, 200)}")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------- reading


@dataclass
class _Record:
    """One mapped input record before merging."""

    source: str
    proc: Procedure | None  # None when skipped while reading
    detailed: bool
    skip_reason: str | None = None
    raw_code: str | None = None


def _unwrap(payload: Any, where: str) -> Any:
    """The ``data`` of an API response ``{"code": "OK", "data": …}``, or the payload itself."""
    if isinstance(payload, dict) and "data" in payload and ("code" in payload or "message" in payload):
        if payload.get("code") not in (None, "OK"):
            raise PortalDataError(where, "code", f"the portal answered {payload.get('code')!r}, not 'OK'")
        return payload["data"]
    return payload


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PortalDataError(display_path(path), "", f"not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise PortalDataError(display_path(path), "", f"malformed JSON: {exc}") from exc
    except OSError as exc:
        raise PortalDataError(display_path(path), "", f"cannot read file: {exc}") from exc


def iter_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``file:line``, object) for each non-empty line of a JSON Lines file."""
    shown = display_path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise PortalDataError(shown, "", f"cannot read file: {exc}") from exc
    with handle:
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{shown}:{n}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PortalDataError(where, "", f"malformed JSON: {exc}") from exc
            if not isinstance(obj, dict):
                raise PortalDataError(where, "", f"expected a JSON object, got {type(obj).__name__}")
            yield where, obj


class _Fields:
    """Typed access to one portal object; wrong types raise PortalDataError naming the field."""

    def __init__(self, obj: dict[str, Any], where: str, prefix: str = "") -> None:
        self.obj, self.where, self.prefix = obj, where, prefix

    def _fail(self, key: str, problem: str) -> PortalDataError:
        return PortalDataError(self.where, f"{self.prefix}{key}", problem)

    def text(self, key: str) -> str:
        value = self.obj.get(key)
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self._fail(key, f"expected text, got {type(value).__name__}")
        return _clean(str(value))

    def items(self, key: str) -> list[_Fields]:
        value = self.obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, f"expected a list, got {type(value).__name__}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self._fail(f"{key}[{i}]", f"expected an object, got {type(item).__name__}")
            out.append(_Fields(item, self.where, f"{self.prefix}{key}[{i}]."))
        return out

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "expected a list of strings")
        return tuple(_unique(_clean(v) for v in value))

    def names(self, key: str) -> tuple[str, ...]:
        return tuple(_unique(item.text("name") for item in self.items(key)))

    def flag(self, key: str) -> bool:
        value = self.obj.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._fail(key, f"expected true/false, got {value!r}")
        return value

    def count(self, key: str) -> int:
        value = self.obj.get(key)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail(key, f"expected a number, got {value!r}")
        if value < 0:
            raise self._fail(key, f"must be >= 0, got {value}")
        return int(value)


def _clean(text: str) -> str:
    """Trim, turn tabs and non-breaking spaces into spaces, collapse runs of spaces on each line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ").replace("\xa0", " ")
    lines = [re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line).strip()


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


# ---------------------------------------------------------------- mapping

_COMMUNE = re.compile(r"\b(cap xa|xa, phuong|xa phuong|ubnd xa|uy ban nhan dan xa|dac khu)\b")
_PROVINCE = re.compile(
    r"(\bcap tinh\b|^so\b|\bso [a-z]|\bubnd tinh\b|\buy ban nhan dan tinh\b|\bvan phong dang ky dat dai\b|\btinh\b"
    r"|\bthanh pho\b)"
)
_CENTRAL = re.compile(
    r"^(bo|cuc|tong cuc|chinh phu|thu tuong|ngan hang nha nuoc|bo truong)\b|\bcap bo\b|\btrung uong\b"
)


def agency_level(name: str, *, ward: bool = False, province: bool = False, ministry: bool = False) -> str:
    """commune | province | central | other, from the agency's name, else from the record's level flags."""
    folded = fold(name)
    if _COMMUNE.search(folded):
        return "commune"
    if _CENTRAL.search(folded):
        return "central"
    if _PROVINCE.search(folded):
        return "province"
    flags = [lvl for lvl, on in (("commune", ward), ("province", province), ("central", ministry)) if on]
    return flags[0] if len(flags) == 1 else "other"


_STEP_LABEL = re.compile(r"^[-–•*+ ]*Bước\s*\d+\s*[:.)\-–]\s*", re.IGNORECASE)
_STEP_BREAK = re.compile(r"([.;:])\s+(?=Bước\s*\d+\s*[:.)\-–])", re.IGNORECASE)


def split_steps(text: str) -> list[str]:
    """Split a portal step description into steps: at "Bước N:" labels, else at top-level "- " bullets."""
    text = _STEP_BREAK.sub(r"\1\n", _clean(text))
    if not text:
        return []
    lines = text.split("\n")
    if sum(1 for line in lines if _STEP_LABEL.match(line)) >= 1:
        marker = _STEP_LABEL.match
    elif sum(1 for line in lines if line.startswith(("- ", "– ", "• "))) >= 2:

        def marker(line: str) -> Any:  # type: ignore[misc]
            return re.match(r"^[-–•]\s+", line)
    else:
        return [text]
    steps: list[list[str]] = []
    for line in lines:
        m = marker(line)
        if m or not steps:
            steps.append([line[m.end() :] if m else line])
        else:
            steps[-1].append(line)
    return [s for s in ("\n".join(parts).strip() for parts in steps) if s]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return None
    return number if number >= 0 else None


def _method(m: _Fields) -> SubmissionMethod:
    raw_kind = m.text("submissionMethod").upper()
    if raw_kind not in PORTAL_SUBMISSION_METHODS:
        expected = " | ".join(PORTAL_SUBMISSION_METHODS)
        raise m._fail("submissionMethod", f"expected one of {expected}, got {raw_kind!r}")
    raw_time = m.obj.get("processingTime")
    number = _number(raw_time)
    note = None
    if number is None and isinstance(raw_time, str) and raw_time.strip():
        note = _clean(raw_time)  # "Theo mô tả", "Không quá 15 ngày kể từ …"
    raw_unit = m.text("processingTimeUnit").upper()
    unit = UNITS.get(raw_unit, "other")
    if raw_unit in UNIT_NOTES and number is not None:
        note = f"{number:g} {UNIT_NOTES[raw_unit]}"
    elif raw_unit and raw_unit not in UNITS and raw_unit not in UNIT_NOTES:
        note = note or raw_unit.lower()
    fees = []
    for f in m.items("fees"):
        value = f.obj.get("value")
        description = f.text("description")
        if value is None:
            if not description:
                continue  # no figure and no words: nothing to tell a citizen
            amount = None
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise f._fail("value", f"expected a number of VND, got {value!r}")
        elif value < 0:
            raise f._fail("value", f"must be >= 0, got {value}")
        else:
            amount = round(value)
        kind = f.text("type").lower() or None
        fees.append(Fee(amount=amount, description=description, legal_basis=None, source="portal", kind=kind))
    return SubmissionMethod(
        kind=PORTAL_SUBMISSION_METHODS[raw_kind],
        processing_time=number,
        time_unit=unit,
        time_note=note,
        fees=tuple(fees),
        description=m.text("description") or None,
    )


def _steps(d: _Fields, proc_name: str) -> tuple[str, ...]:
    entries = d.items("executionSteps")
    out: list[str] = []
    for e in entries:
        parts = split_steps(e.text("description"))
        header = e.text("name")
        if len(entries) > 1 and header and fold(header) != fold(proc_name):
            # Several step lists for different situations: keep each list's title in front of it.
            out.append(header if header.endswith(":") else header + ":")
        out += parts
    return tuple(out)


def _updated_date(value: Any) -> dt.date | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return dt.datetime.fromtimestamp(value / 1000, tz=VN_TZ).date()


def map_detail(data: dict[str, Any], where: str) -> Procedure | None:
    """Map one detail record (the ``data`` of get-formality-by-citizen); None when it has no code."""
    d = _Fields(data, where)
    code = d.text("code")
    if not code:
        return None
    name = d.text("name")
    if not name:
        raise PortalDataError(where, "name", "missing procedure name")
    flags = {"ward": d.flag("isWard"), "province": d.flag("isProvince"), "ministry": d.flag("isMinistry")}

    def agencies(key: str) -> list[Agency]:
        return [Agency(n, agency_level(n, **flags)) for n in d.names(key)]

    authority = agencies("departmentsAuthority")
    competent = None
    if authority:
        levels = {a.level for a in authority}
        competent = Agency("; ".join(a.name for a in authority), levels.pop() if len(levels) == 1 else "other")
    implementing = agencies("departmentsExecuting")
    if not implementing and d.text("executingAgencies"):
        text = d.text("executingAgencies")
        implementing = [Agency(text, agency_level(text, **flags))]

    methods = tuple(_method(m) for m in d.items("executionMethods"))
    if d.flag("isFullProcess"):
        online = "full"
    elif d.flag("isOfflineOnly") or not any(m.kind == "online" for m in methods):
        online = "none"
    else:
        online = "partial"

    cases = []
    raw_cases = d.items("executionCases")
    for c in raw_cases:
        docs = tuple(
            Document(
                name=p.text("name"),
                originals=p.count("originalQty"),
                copies=p.count("copyQty"),
                e_form=p.flag("hasElectronicForm"),
            )
            for p in c.items("profileComponents")
            if p.text("name")
        )
        cases.append(Case(name=c.text("name") or name, documents=docs, common=len(raw_cases) == 1))
    if not cases and d.items("profileComponents"):
        docs = tuple(
            Document(p.text("name"), p.count("originalQty"), p.count("copyQty"), p.flag("hasElectronicForm"))
            for p in d.items("profileComponents")
            if p.text("name")
        )
        cases.append(Case(name=name, documents=docs, common=True))

    keywords = [k.strip() for k in re.split(r"[,;\n]", d.text("keywords")) if k.strip()]
    promulgator = d.text("departmentPromulgateName")
    return Procedure(
        code=code,
        name=name,
        province=province_in(promulgator),
        aliases=tuple(_unique([*d.names("serviceGroupsDetails"), *keywords])),
        field="; ".join(d.names("categoriesDetails")) or None,
        competent=competent,
        implementing=tuple(implementing),
        online_level=online,
        online_portals=("dichvucong",) if online != "none" else (),
        cases=tuple(cases),
        methods=methods,
        steps=_steps(d, name),
        legal_basis=tuple(
            LegalBasis(lb.text("code"), lb.text("name"))
            for lb in d.items("legalBasisesDetails")
            if lb.text("code") or lb.text("name")
        ),
        results=d.names("resultsDetails"),
        requirements=d.text("requirementsAndConditions") or None,
        verified_on=_updated_date(d.obj.get("updatedAt")),
        origin="portal",
        detail_level="detail",
        portal_id=d.text("id") or None,
        portal_type=d.text("type") or None,
        promulgated_by=promulgator or None,
        categories=d.names("categoriesDetails"),
        departments=tuple(a.name for a in implementing),
        target_types=d.strings("formalityTargetType") or d.names("subjectTypesDetails"),
    )


def map_row(row: dict[str, Any], where: str) -> Procedure | None:
    """Map one catalogue row (list-all-public-formality-by-citizen); None when it has no code."""
    r = _Fields(row, where)
    code = r.text("code")
    if not code:
        return None
    name = r.text("name")
    if not name:
        raise PortalDataError(where, "name", "missing procedure name")
    promulgator = r.text("departmentPromulgate")
    categories = r.strings("categories")
    return Procedure(
        code=code,
        name=name,
        province=province_in(promulgator),
        field="; ".join(categories) or None,
        online_level="unknown",
        origin="portal",
        detail_level="summary",
        portal_id=r.text("id") or None,
        portal_type=r.text("type") or None,
        promulgated_by=promulgator or None,
        categories=categories,
        departments=r.strings("departments"),
        target_types=r.strings("formalityTargetType"),
    )


def _merge(detail: Procedure, row: Procedure) -> Procedure:
    """The detail record, completed with what only the catalogue row says."""
    return replace(
        detail,
        province=detail.province or row.province,
        portal_type=detail.portal_type or row.portal_type,
        promulgated_by=detail.promulgated_by or row.promulgated_by,
        categories=detail.categories or row.categories,
        departments=detail.departments or row.departments,
        target_types=detail.target_types or row.target_types,
        field=detail.field or row.field,
    )


def _rows_of(data: Any, where: str) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        return data["rows"]
    if isinstance(data, list):
        return data
    raise PortalDataError(where, "data", "expected a list of catalogue rows")


def read_portal(path: Path | str, progress: bool = False) -> tuple[list[_Record], list[_Record]]:
    """Parse and map every input record: (catalogue rows, detail records). Raises PortalDataError."""
    path = Path(path)
    rows: list[_Record] = []
    details: list[_Record] = []
    if path.is_dir():
        catalog = path / "catalog.jsonl"
        detail_files = sorted((path / "details").glob("*.json")) if (path / "details").is_dir() else []
        if not catalog.is_file() and not detail_files:
            raise PortalDataError(display_path(path), "", "neither catalog.jsonl nor details/*.json found here")
        if catalog.is_file():
            for where, obj in iter_jsonl(catalog):
                rows.append(_row_record(obj, where))
        for f in tqdm(detail_files, desc="reading details", unit="file", disable=not progress, file=sys.stderr):
            details.append(_detail_record(_unwrap(_read_json(f), display_path(f)), display_path(f)))
    elif path.is_file():
        shown = display_path(path)
        if path.suffix == ".jsonl":
            rows = [_row_record(obj, where) for where, obj in iter_jsonl(path)]
        else:
            data = _unwrap(_read_json(path), shown)
            if isinstance(data, dict) and not isinstance(data.get("rows"), list):
                details.append(_detail_record(data, shown))
            else:
                for i, obj in enumerate(_rows_of(data, shown)):
                    if not isinstance(obj, dict):
                        raise PortalDataError(f"{shown}", f"rows[{i}]", "expected an object")
                    rows.append(_row_record(obj, f"{shown}: rows[{i}]"))
    else:
        raise PortalDataError(str(path), "", "no such file or directory")
    return rows, details


def _row_record(obj: dict[str, Any], where: str) -> _Record:
    proc = map_row(obj, where)
    if proc is None:
        return _Record(where, None, False, SKIP_NO_CODE)
    return _Record(where, proc, False, raw_code=obj.get("code"))


def _detail_record(data: Any, where: str) -> _Record:
    if not isinstance(data, dict):
        raise PortalDataError(where, "data", f"expected a procedure object, got {type(data).__name__}")
    proc = map_detail(data, where)
    if proc is None:
        return _Record(where, None, True, SKIP_NO_CODE)
    return _Record(where, proc, True, raw_code=data.get("code"))


# ---------------------------------------------------------------- writing


def plan(
    rows: list[_Record], details: list[_Record], summary: ImportSummary
) -> tuple[dict[tuple[str, str], Procedure], dict[tuple[str, str], list[str]]]:
    """Merge rows and details into one procedure per (code, province).

    Returns the procedures and, per key, the input records it came from; records
    skipped here (no code, duplicates) and odd codes are noted in ``summary``.
    """
    summary.rows_read, summary.details_read = len(rows), len(details)
    out: dict[tuple[str, str], Procedure] = {}
    sources: dict[tuple[str, str], list[str]] = {}
    detail_key_by_id: dict[str, tuple[str, str]] = {}
    merged_ids: set[str] = set()
    for rec in [*details, *rows]:
        if rec.proc is None:
            summary.skipped.append(Skip(rec.source, None, None, rec.skip_reason or SKIP_NO_CODE))
            continue
        proc = rec.proc
        pid = proc.portal_id
        if not rec.detailed and pid and pid in detail_key_by_id and pid not in merged_ids:
            # The catalogue row of a detailed record: same portal id, one procedure.
            key = detail_key_by_id[pid]
            out[key] = _merge(out[key], proc)
            sources[key].append(rec.source)
            merged_ids.add(pid)
            continue
        key = key_of(proc.code, proc.province)
        if key in out:
            first = sources[key][0]
            summary.skipped.append(Skip(rec.source, proc.code, proc.province, f"{SKIP_DUPLICATE} ({first})"))
            continue
        out[key] = proc
        sources[key] = [rec.source]
        if rec.detailed and pid:
            detail_key_by_id[pid] = key
        if rec.raw_code != proc.code:
            summary.warnings.append(f"{rec.source}: code {rec.raw_code!r} trimmed to {proc.code!r}")
        if not CODE_RE.match(proc.code):
            summary.warnings.append(f"{rec.source}: code {proc.code!r} is not of the form N.NNNNNN (kept as given)")
    return out, sources


def import_portal(
    path: Path | str,
    engine: Engine | None = None,
    *,
    quiet: bool = False,
    progress: bool | None = None,
) -> ImportSummary:
    """Import a portal snapshot directory or file; one transaction, idempotent; returns a summary."""
    started = time.perf_counter()
    show = (not quiet and sys.stderr.isatty()) if progress is None else progress
    summary = ImportSummary()
    rows, details = read_portal(path, progress=show)
    procs, sources = plan(rows, details, summary)
    engine = engine or engine_for()
    Session = session_factory(engine)
    with Session.begin() as session:
        index = existing_index(session)
        for key, proc in tqdm(procs.items(), desc="importing", unit="proc", disable=not show, file=sys.stderr):
            found = index.get(key)
            digest = content_hash(proc)
            if found is None:
                session.add(fill_row(ProcedureRow(), proc, digest))
                summary.loaded += 1
                continue
            row_id, origin, old_digest = found
            if origin == "curated":
                summary.skipped.extend(Skip(src, proc.code, proc.province, SKIP_CURATED) for src in sources[key])
                continue
            if old_digest == digest:
                summary.unchanged += 1
                continue
            row = session.get(ProcedureRow, row_id)
            if proc.detail_level == "summary" and row.detail_level == "detail":
                summary.skipped.extend(
                    Skip(src, proc.code, proc.province, SKIP_SUMMARY_OVER_DETAIL) for src in sources[key]
                )
                continue
            fill_row(row, proc, digest)
            summary.updated += 1
        summary.procedures = len(procs)
    summary.seconds = time.perf_counter() - started
    logger.info("portal import: %s", str(summary).splitlines()[0])
    return summary
