"""Conversion between domain :class:`~bot.catalog.domain.Procedure` objects and ORM rows.

The loader and the importer both build domain objects first, then write them here,
so there is one mapping to the tables and one content hash for "unchanged".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalog.domain import Agency, Case, CrosscheckNote, Document, Fee, LegalBasis, Procedure, SubmissionMethod
from bot.catalog.models import (
    NATIONAL,
    AgencyRow,
    CaseRow,
    DocumentRow,
    FeeRow,
    LegalBasisRow,
    MethodRow,
    ProcedureRow,
    StepRow,
)

Key = tuple[str, str]  # (code, province or '')


def key_of(code: str, province: str | None) -> Key:
    """The database key of a procedure: province ``None`` is stored as ``''``."""
    return (code, province or NATIONAL)


def content_hash(proc: Procedure) -> str:
    """A stable hash of everything a record says (``updated_at`` excluded)."""
    data = dataclasses.asdict(proc)
    data.pop("updated_at", None)
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def existing_index(session: Session) -> dict[Key, tuple[int, str, str]]:
    """(code, province) -> (id, origin, content_hash) for every stored procedure, in one query."""
    rows = session.execute(
        select(
            ProcedureRow.id, ProcedureRow.code, ProcedureRow.province, ProcedureRow.origin, ProcedureRow.content_hash
        )
    )
    return {(r.code, r.province): (r.id, r.origin, r.content_hash) for r in rows}


def fill_row(row: ProcedureRow, proc: Procedure, digest: str | None = None) -> ProcedureRow:
    """Write ``proc`` into ``row``, replacing all its children."""
    row.code = proc.code
    row.province = proc.province or NATIONAL
    row.name = proc.name
    row.aliases = list(proc.aliases)
    row.field = proc.field
    row.online_level = proc.online_level
    row.online_portals = list(proc.online_portals)
    row.results = list(proc.results)
    row.requirements = proc.requirements
    row.source_url = proc.source_url
    row.verified_on = proc.verified_on
    row.origin = proc.origin
    row.detail_level = proc.detail_level
    row.portal_id = proc.portal_id
    row.portal_type = proc.portal_type
    row.promulgated_by = proc.promulgated_by
    row.categories = list(proc.categories)
    row.departments = list(proc.departments)
    row.target_types = list(proc.target_types)
    row.crosscheck_notes = [dataclasses.asdict(n) for n in proc.crosscheck_notes]
    row.content_hash = digest or content_hash(proc)
    agencies = []
    if proc.competent is not None:
        agencies.append(AgencyRow(position=0, role="competent", name=proc.competent.name, level=proc.competent.level))
    agencies += [
        AgencyRow(position=i + 1, role="implementing", name=a.name, level=a.level)
        for i, a in enumerate(proc.implementing)
    ]
    row.agencies = agencies
    row.cases = [
        CaseRow(
            position=i,
            name=c.name,
            common=c.common,
            documents=[
                DocumentRow(
                    position=j, name=d.name, originals=d.originals, copies=d.copies, e_form=d.e_form, note=d.note
                )
                for j, d in enumerate(c.documents)
            ],
        )
        for i, c in enumerate(proc.cases)
    ]
    row.methods = [
        MethodRow(
            position=i,
            kind=m.kind,
            processing_time=m.processing_time,
            time_unit=m.time_unit,
            time_note=m.time_note,
            description=m.description,
            fees=[
                FeeRow(
                    position=j,
                    amount=f.amount,
                    kind=f.kind,
                    description=f.description,
                    legal_basis=f.legal_basis,
                    source=f.source,
                )
                for j, f in enumerate(m.fees)
            ],
        )
        for i, m in enumerate(proc.methods)
    ]
    row.steps = [StepRow(position=i, text=s) for i, s in enumerate(proc.steps)]
    row.legal_bases = [LegalBasisRow(position=i, code=lb.code, title=lb.title) for i, lb in enumerate(proc.legal_basis)]
    return row


def _tuple(items: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(items or ())


def to_domain(row: ProcedureRow) -> Procedure:
    """An immutable :class:`Procedure` from an ORM row (children loaded eagerly by ``selectin``)."""
    competent = next((Agency(a.name, a.level) for a in row.agencies if a.role == "competent"), None)
    return Procedure(
        code=row.code,
        name=row.name,
        province=row.province or None,
        aliases=_tuple(row.aliases),
        field=row.field,
        competent=competent,
        implementing=tuple(Agency(a.name, a.level) for a in row.agencies if a.role == "implementing"),
        online_level=row.online_level,
        online_portals=_tuple(row.online_portals),
        cases=tuple(
            Case(
                name=c.name,
                common=bool(c.common),
                documents=tuple(Document(d.name, d.originals, d.copies, bool(d.e_form), d.note) for d in c.documents),
            )
            for c in row.cases
        ),
        methods=tuple(
            SubmissionMethod(
                kind=m.kind,
                processing_time=m.processing_time,
                time_unit=m.time_unit,
                time_note=m.time_note,
                description=m.description,
                fees=tuple(Fee(f.amount, f.description, f.legal_basis, f.source, f.kind) for f in m.fees),
            )
            for m in row.methods
        ),
        steps=tuple(s.text for s in row.steps),
        legal_basis=tuple(LegalBasis(lb.code, lb.title) for lb in row.legal_bases),
        results=_tuple(row.results),
        requirements=row.requirements,
        source_url=row.source_url,
        verified_on=row.verified_on,
        origin=row.origin,
        detail_level=row.detail_level,
        portal_id=row.portal_id,
        portal_type=row.portal_type,
        promulgated_by=row.promulgated_by,
        categories=_tuple(row.categories),
        departments=_tuple(row.departments),
        target_types=_tuple(row.target_types),
        crosscheck_notes=tuple(CrosscheckNote(**n) for n in (row.crosscheck_notes or [])),
        updated_at=row.updated_at,
    )
