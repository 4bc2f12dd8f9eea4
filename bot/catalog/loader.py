"""Load the curated catalogue (``data/catalog/*.yml``, format in docs/CATALOG_FORMAT.md).

Every file is validated strictly before anything is written; then all of them are
upserted by (code, province) in one transaction with ``origin = 'curated'``.
Curated records always win over portal records with the same key.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Engine

from bot.catalog.domain import (
    AGENCY_LEVELS,
    FEE_SOURCES,
    ONLINE_LEVELS,
    ONLINE_PORTALS,
    SUBMISSION_METHOD_KINDS,
    TIME_UNITS,
    Agency,
    Case,
    CrosscheckNote,
    Document,
    Fee,
    LegalBasis,
    Procedure,
    SubmissionMethod,
)
from bot.catalog.errors import CatalogErrors, CatalogValidationError
from bot.catalog.models import ProcedureRow
from bot.catalog.provinces import PROVINCES
from bot.catalog.store import content_hash, existing_index, fill_row, key_of
from bot.db import engine_for, session_factory
from bot.settings import PROJECT_ROOT, settings

logger = logging.getLogger(__name__)

CODE_RE = re.compile(r"^\d\.\d{6}$")
FILE_PATTERNS = ("*.yml", "*.yaml")


@dataclass
class LoadSummary:
    """What a load did: counts of procedures inserted, changed and left as they were."""

    files: int = 0
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0
    replaced_portal: int = 0  # of ``updated``: portal records a curated file took over

    def __str__(self) -> str:
        return (
            f"{self.files} file(s): {self.loaded} loaded, {self.updated} updated "
            f"({self.replaced_portal} portal record(s) replaced), {self.unchanged} unchanged"
        )


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def display_path(path: Path) -> str:
    """``path`` relative to the project when possible, as in error messages."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


class _Validator:
    """Walks one file's data, collecting errors with their field paths."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shown = display_path(path)
        self.errors: list[CatalogValidationError] = []

    def fail(self, field: str, problem: str) -> None:
        self.errors.append(CatalogValidationError(self.shown, field, problem))

    # --- primitive checks; each returns the value, or None after recording an error ---

    def mapping(self, value: Any, field: str, required: set[str], optional: set[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(field or "(top level)", f"must be a mapping, got {_kind(value)}")
            return None
        prefix = f"{field}." if field else ""
        for key in value:
            if key not in required and key not in optional:
                allowed = ", ".join(sorted(required | optional))
                self.fail(f"{prefix}{key}", f"unknown key (allowed: {allowed})")
        for key in sorted(required):
            if key not in value:
                self.fail(f"{prefix}{key}", "required key is missing")
        return value

    def string(self, value: Any, field: str, *, nullable: bool = False, allow_empty: bool = False) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            self.fail(field, f"must be a string{' or null' if nullable else ''}, got {_kind(value)}")
            return None
        if not allow_empty and not value.strip():
            self.fail(field, "must not be empty")
            return None
        return value.strip()

    def enum(self, value: Any, field: str, allowed: Iterable[str]) -> str | None:
        allowed = tuple(allowed)
        if not isinstance(value, str) or value not in allowed:
            self.fail(field, f"must be one of {' | '.join(allowed)}, got {value!r}")
            return None
        return value

    def boolean(self, value: Any, field: str) -> bool | None:
        if not isinstance(value, bool):
            self.fail(field, f"must be true or false, got {_kind(value)}")
            return None
        return value

    def integer(self, value: Any, field: str, *, minimum: int = 0) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"must be an integer, got {_kind(value)}")
            return None
        if value < minimum:
            self.fail(field, f"must be >= {minimum}, got {value}")
            return None
        return value

    def number(self, value: Any, field: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"must be a number or null, got {_kind(value)}")
            return None
        if value < 0:
            self.fail(field, f"must be >= 0, got {value}")
            return None
        return float(value)

    def listof(self, value: Any, field: str, *, min_items: int = 0) -> list[Any]:
        if not isinstance(value, list):
            self.fail(field, f"must be a list, got {_kind(value)}")
            return []
        if len(value) < min_items:
            self.fail(field, f"must have at least {min_items} item(s)")
        return value

    def strings(self, value: Any, field: str) -> tuple[str, ...]:
        out = [self.string(v, f"{field}[{i}]") for i, v in enumerate(self.listof(value, field))]
        return tuple(s for s in out if s is not None)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}
    shown = repr(value) if isinstance(value, (bool, int, float, str)) else ""
    return f"{names.get(type(value), type(value).__name__)} {shown}".strip()


TOP_REQUIRED = {"code", "name", "cases", "methods", "verified_on"}
TOP_OPTIONAL = {
    "province",
    "aliases",
    "field",
    "agencies",
    "online_level",
    "online_portals",
    "steps",
    "legal_basis",
    "results",
    "requirements",
    "source_url",
    "crosscheck_notes",
}


def _agency(v: _Validator, value: Any, field: str) -> Agency | None:
    data = v.mapping(value, field, {"name", "level"}, set())
    if data is None:
        return None
    name = v.string(data.get("name"), f"{field}.name") if "name" in data else None
    level = v.enum(data.get("level"), f"{field}.level", AGENCY_LEVELS) if "level" in data else None
    return Agency(name, level) if name and level else None


def _document(v: _Validator, value: Any, field: str) -> Document | None:
    data = v.mapping(value, field, {"name"}, {"originals", "copies", "e_form", "note"})
    if data is None:
        return None
    name = v.string(data.get("name"), f"{field}.name") if "name" in data else None
    originals = v.integer(data.get("originals", 1), f"{field}.originals")
    copies = v.integer(data.get("copies", 0), f"{field}.copies")
    e_form = v.boolean(data.get("e_form", False), f"{field}.e_form")
    note = v.string(data.get("note"), f"{field}.note", nullable=True)
    if name is None or originals is None or copies is None or e_form is None:
        return None
    return Document(name=name, originals=originals, copies=copies, e_form=e_form, note=note)


def _case(v: _Validator, value: Any, field: str) -> Case | None:
    data = v.mapping(value, field, {"name"}, {"common", "documents"})
    if data is None:
        return None
    name = v.string(data.get("name"), f"{field}.name") if "name" in data else None
    common = v.boolean(data.get("common", False), f"{field}.common")
    docs = [
        _document(v, d, f"{field}.documents[{i}]")
        for i, d in enumerate(v.listof(data.get("documents", []), f"{field}.documents"))
    ]
    if name is None or common is None:
        return None
    return Case(name=name, common=common, documents=tuple(d for d in docs if d is not None))


def _fee(v: _Validator, value: Any, field: str) -> Fee | None:
    data = v.mapping(value, field, {"amount", "legal_basis"}, {"description", "source"})
    if data is None:
        return None
    # amount: null states "a fee applies, but its figure is set elsewhere" (a provincial council,
    # the vehicle's value); the description must then say how it is set. Never read as free.
    varies = "amount" in data and data["amount"] is None
    amount = v.integer(data.get("amount"), f"{field}.amount") if "amount" in data and not varies else None
    basis = v.string(data.get("legal_basis"), f"{field}.legal_basis") if "legal_basis" in data else None
    description = v.string(data.get("description", ""), f"{field}.description", allow_empty=not varies)
    source = v.enum(data.get("source", "portal"), f"{field}.source", FEE_SOURCES)
    if (amount is None and not varies) or basis is None or description is None or source is None:
        return None
    return Fee(amount=amount, description=description, legal_basis=basis, source=source)


def _method(v: _Validator, value: Any, field: str) -> SubmissionMethod | None:
    if isinstance(value, dict) and "channel" in value:
        # The key was renamed: "channel" now means only a chat platform. Curated files are ours, so no fallback.
        v.fail(f"{field}.channel", "renamed: write `kind: online | direct | postal` (the submission method)")
        return None
    data = v.mapping(value, field, {"kind", "fees"}, {"processing_time", "time_unit", "time_note"})
    if data is None:
        return None
    kind = v.enum(data.get("kind"), f"{field}.kind", SUBMISSION_METHOD_KINDS) if "kind" in data else None
    raw_time = data.get("processing_time")
    time = None if raw_time is None else v.number(raw_time, f"{field}.processing_time")
    unit = v.enum(data.get("time_unit", "working_day"), f"{field}.time_unit", TIME_UNITS)
    note = v.string(data.get("time_note"), f"{field}.time_note", nullable=True)
    fees = [_fee(v, f, f"{field}.fees[{i}]") for i, f in enumerate(v.listof(data.get("fees", []), f"{field}.fees"))]
    if kind is None or unit is None:
        return None
    return SubmissionMethod(
        kind=kind, processing_time=time, time_unit=unit, time_note=note, fees=tuple(f for f in fees if f)
    )


def _date(v: _Validator, value: Any, field: str) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    v.fail(field, f"must be a date YYYY-MM-DD, got {_kind(value)}")
    return None


def validate_data(data: Any, path: Path) -> tuple[Procedure | None, list[CatalogValidationError]]:
    """Check one file's parsed YAML; return the procedure (None on error) and every error found."""
    v = _Validator(path)
    top = v.mapping(data, "", TOP_REQUIRED, TOP_OPTIONAL)
    if top is None:
        return None, v.errors

    code = v.string(top.get("code"), "code") if "code" in top else None
    if code is not None and not CODE_RE.match(code):
        v.fail("code", f"must look like N.NNNNNN (e.g. 1.004222), got {code!r}")
        code = None
    province = top.get("province")
    if province is not None:
        province = str(province) if isinstance(province, int) and not isinstance(province, bool) else province
        if not isinstance(province, str) or province not in PROVINCES:
            v.fail("province", f'must be null or a province code such as "01" (Hà Nội), got {province!r}')
            province = None
    if code is not None:
        expected = code.replace(".", "_") + (f"-{province}" if province else "")
        if path.stem != expected:
            v.fail("code", f"file name must be {expected}{path.suffix} for code {code!r} and province {province!r}")

    name = v.string(top.get("name"), "name") if "name" in top else None
    aliases = v.strings(top.get("aliases", []), "aliases")
    field = v.string(top.get("field"), "field", nullable=True)

    competent: Agency | None = None
    implementing: list[Agency] = []
    if "agencies" in top:
        agencies = v.mapping(top["agencies"], "agencies", set(), {"competent", "implementing"})
        if agencies is not None:
            if agencies.get("competent") is not None:
                competent = _agency(v, agencies["competent"], "agencies.competent")
            impl = v.listof(agencies.get("implementing", []), "agencies.implementing")
            implementing = [a for i, x in enumerate(impl) if (a := _agency(v, x, f"agencies.implementing[{i}]"))]

    portals = tuple(
        p
        for i, x in enumerate(v.listof(top.get("online_portals", []), "online_portals"))
        if (p := v.enum(x, f"online_portals[{i}]", ONLINE_PORTALS))
    )
    cases = [_case(v, c, f"cases[{i}]") for i, c in enumerate(v.listof(top.get("cases", []), "cases", min_items=1))]
    methods = [
        _method(v, m, f"methods[{i}]") for i, m in enumerate(v.listof(top.get("methods", []), "methods", min_items=1))
    ]
    seen: dict[str, int] = {}
    for i, m in enumerate(methods):
        if m is None:
            continue
        if m.kind in seen:
            v.fail(f"methods[{i}].kind", f"duplicate kind {m.kind!r} (already in methods[{seen[m.kind]}])")
        seen.setdefault(m.kind, i)
    online_level = (
        v.enum(top["online_level"], "online_level", ONLINE_LEVELS)
        if "online_level" in top
        else ("partial" if "online" in seen else "none")
    )

    steps = v.strings(top.get("steps", []), "steps")
    bases = []
    for i, b in enumerate(v.listof(top.get("legal_basis", []), "legal_basis")):
        lb = v.mapping(b, f"legal_basis[{i}]", {"code"}, {"title"})
        if lb is not None and "code" in lb:
            c = v.string(lb["code"], f"legal_basis[{i}].code")
            t = v.string(lb.get("title", ""), f"legal_basis[{i}].title", allow_empty=True)
            if c is not None and t is not None:
                bases.append(LegalBasis(c, t))
    results = v.strings(top.get("results", []), "results")
    requirements = v.string(top.get("requirements"), "requirements", nullable=True)
    source_url = v.string(top.get("source_url"), "source_url", nullable=True)
    if source_url is not None and not source_url.startswith(("https://", "http://")):
        v.fail("source_url", f"must be an http(s) URL, got {source_url!r}")
    verified_on = _date(v, top.get("verified_on"), "verified_on") if "verified_on" in top else None
    if verified_on is not None and verified_on > dt.date.today():
        v.fail("verified_on", f"must not be in the future, got {verified_on.isoformat()}")

    notes = []
    for i, n in enumerate(v.listof(top.get("crosscheck_notes", []), "crosscheck_notes")):
        nd = v.mapping(n, f"crosscheck_notes[{i}]", {"field", "note"}, {"legal_basis"})
        if nd is not None and "field" in nd and "note" in nd:
            f = v.string(nd["field"], f"crosscheck_notes[{i}].field")
            t = v.string(nd["note"], f"crosscheck_notes[{i}].note")
            b = v.string(nd.get("legal_basis"), f"crosscheck_notes[{i}].legal_basis", nullable=True)
            if f and t:
                notes.append(CrosscheckNote(f, t, b))

    if v.errors or code is None or name is None:
        return None, v.errors
    proc = Procedure(
        code=code,
        province=province,
        name=name,
        aliases=aliases,
        field=field,
        competent=competent,
        implementing=tuple(implementing),
        online_level=online_level or "none",
        online_portals=portals,
        cases=tuple(c for c in cases if c),
        methods=tuple(m for m in methods if m),
        steps=steps,
        legal_basis=tuple(bases),
        results=results,
        requirements=requirements,
        source_url=source_url,
        verified_on=verified_on,
        origin="curated",
        detail_level="detail",
        crosscheck_notes=tuple(notes),
    )
    return proc, []


def validate_file(path: Path) -> tuple[Procedure | None, list[CatalogValidationError]]:
    """Parse and check one curated file."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [CatalogValidationError(shown, "", f"cannot read file: {exc}")]
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        return None, [CatalogValidationError(shown, "", f"malformed YAML: {problem}")]
    return validate_data(data, path)


def catalog_files(directory: Path) -> list[Path]:
    """The curated files in ``directory``, sorted."""
    return sorted({p for pattern in FILE_PATTERNS for p in directory.glob(pattern) if p.is_file()})


def validate_dir(directory: Path | str | None = None) -> list[Procedure]:
    """Validate every curated file; raise :class:`CatalogErrors` listing all problems found."""
    directory = Path(directory) if directory else settings().catalog.catalog_dir
    if not directory.is_dir():
        raise CatalogErrors([CatalogValidationError(display_path(directory), "", "catalogue directory not found")])
    procs: list[Procedure] = []
    errors: list[CatalogValidationError] = []
    first_file: dict[tuple[str, str], Path] = {}
    for path in catalog_files(directory):
        proc, errs = validate_file(path)
        errors += errs
        if proc is None:
            continue
        key = key_of(proc.code, proc.province)
        if key in first_file:
            errors.append(
                CatalogValidationError(
                    display_path(path), "code", f"duplicate of {display_path(first_file[key])} (same code and province)"
                )
            )
            continue
        first_file[key] = path
        procs.append(proc)
    if errors:
        raise CatalogErrors(errors)
    return procs


def load_curated(directory: Path | str | None = None, engine: Engine | None = None) -> LoadSummary:
    """Validate all curated files, then upsert them in one transaction; nothing is written on error."""
    procs = validate_dir(directory)
    directory = Path(directory) if directory else settings().catalog.catalog_dir
    summary = LoadSummary(files=len(catalog_files(directory)))
    engine = engine or engine_for()
    Session = session_factory(engine)
    with Session.begin() as session:
        index = existing_index(session)
        for proc in procs:
            digest = content_hash(proc)
            key = key_of(proc.code, proc.province)
            found = index.get(key)
            if found is None:
                session.add(fill_row(ProcedureRow(), proc, digest))
                summary.loaded += 1
                continue
            row_id, origin, old_digest = found
            if origin == "curated" and old_digest == digest:
                summary.unchanged += 1
                continue
            fill_row(session.get(ProcedureRow, row_id), proc, digest)
            summary.updated += 1
            if origin != "curated":
                summary.replaced_portal += 1
    logger.info("curated catalogue: %s", summary)
    return summary
