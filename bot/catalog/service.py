"""Read API of the catalogue for actions: :class:`ProcedureCatalog`.

Returns immutable :mod:`bot.catalog.domain` objects, never ORM rows, so callers cannot
touch the database by accident and results are safe to cache and share across threads.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.catalog.domain import CatalogEntry, Procedure
from bot.catalog.models import NATIONAL, CaseRow, DocumentRow, ProcedureRow
from bot.catalog.provinces import PROVINCES, province_in
from bot.catalog.store import to_domain
from bot.db import engine_for, session_factory
from bot.settings import settings

if TYPE_CHECKING:
    from bot.catalog.resolve import Resolution
    from bot.catalog.search import Candidate, SearchIndex


def resolve_province(value: str | None) -> str | None:
    """A province code from a code ("01") or a name ("Hà Nội", "tỉnh Bắc Ninh"); None if unknown."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value in PROVINCES:
        return value
    return province_in(value) or province_in(f"tỉnh {value}")


def _rank(row: Any) -> tuple[bool, bool, str]:
    # Curated first, then detailed records, then by province code for a stable order.
    return (row.origin != "curated", row.detail_level != "detail", row.province)


# What choosing among a code's records needs, and what tells whether a record changed.
_VARIANT_KEY = (
    ProcedureRow.id, ProcedureRow.province, ProcedureRow.origin, ProcedureRow.detail_level,
    ProcedureRow.content_hash, ProcedureRow.updated_at,
)  # fmt: skip
#: Procedure records each process keeps, checked against the database at every use.
RECORD_CACHE_SIZE = 512


class ProcedureCatalog:
    """Look procedures up by code, list them for search, and search them by text."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine or engine_for()
        self._session = session_factory(self._engine)
        self._index: SearchIndex | None = None
        self._lock = threading.Lock()
        self._records: OrderedDict[int, tuple[tuple[Any, ...], Procedure]] = OrderedDict()

    def _with_url(self, proc: Procedure) -> Procedure:
        if proc.source_url:
            return proc
        return dataclasses.replace(proc, source_url=settings().catalog.portal_procedure_url.format(code=proc.code))

    def get(self, code: str, province: str | None = None) -> Procedure | None:
        """The procedure with ``code`` for ``province`` (a code like "01" or a name).

        With a province: its own variant, else the national record, else None (another
        province's variant would mislead). Without one: the national record, else the
        best provincial variant (curated first, then detailed); see :meth:`variants`.
        """
        code = (code or "").strip()
        if not code:
            return None
        with self._session() as session:
            # The variants' keys only; the chosen record is loaded in full unless this process holds it.
            rows = list(session.execute(select(*_VARIANT_KEY).where(ProcedureRow.code == code)))
            if not rows:
                return None
            by_province = {r.province: r for r in rows}
            wanted = resolve_province(province)
            if wanted and wanted in by_province:
                return self._loaded(session, by_province[wanted])
            if NATIONAL in by_province:
                return self._loaded(session, by_province[NATIONAL])
            if province:
                return None
            return self._loaded(session, min(rows, key=_rank))

    def _loaded(self, session: Session, key: Any) -> Procedure:
        """The record of ``key`` (a row of :data:`_VARIANT_KEY`): from this process's copy when the stored
        record's content hash and update time are still those it was read with, else from the database.

        A record with its children takes several queries to load and build; answers ask for the same
        few procedures again and again. Every use is checked against the database, so a re-import or an
        edit is seen at once by every process.
        """
        version = (key.content_hash, key.updated_at)
        with self._lock:
            held = self._records.get(key.id)
            if held is not None and held[0] == version:
                self._records.move_to_end(key.id)
                return held[1]
        proc = self._with_url(to_domain(session.get(ProcedureRow, key.id)))
        with self._lock:
            self._records[key.id] = (version, proc)
            while len(self._records) > RECORD_CACHE_SIZE:
                self._records.popitem(last=False)
        return proc

    def variants(self, code: str) -> list[Procedure]:
        """Every record of ``code``: the national one first, then provincial variants."""
        with self._session() as session:
            rows = session.execute(
                select(ProcedureRow).where(ProcedureRow.code == code.strip()).order_by(ProcedureRow.province)
            ).scalars()
            return [self._with_url(to_domain(r)) for r in rows]

    def count(self) -> int:
        """How many procedures are stored."""
        with self._session() as session:
            return int(session.execute(select(func.count(ProcedureRow.id))).scalar_one())

    def all_search_entries(self) -> Iterator[CatalogEntry]:
        """(code, province, name, aliases, origin, detail_level) for every procedure."""
        cols = (
            ProcedureRow.code,
            ProcedureRow.province,
            ProcedureRow.name,
            ProcedureRow.aliases,
            ProcedureRow.origin,
            ProcedureRow.detail_level,
        )
        with self._session() as session:
            for r in session.execute(select(*cols).order_by(ProcedureRow.code, ProcedureRow.province)):
                yield CatalogEntry(r.code, r.province or None, r.name, tuple(r.aliases or ()), r.origin, r.detail_level)

    def search_context(self) -> dict[tuple[str, str | None], tuple[tuple[str, ...], tuple[str, ...]]]:
        """(code, province) -> (case and result names, document names) of every detailed procedure.

        What the index reads besides names and aliases (which hold the portal's service groups
        and keywords). Case names that only head a list ("* Giấy tờ phải nộp:") are left out.
        """
        context: dict[int, list[str]] = {}
        documents: dict[int, list[str]] = {}
        with self._session() as session:
            keys = {
                r.id: (r.code, r.province or None)
                for r in session.execute(select(ProcedureRow.id, ProcedureRow.code, ProcedureRow.province))
            }
            for r in session.execute(select(ProcedureRow.id, ProcedureRow.results)):
                context.setdefault(r.id, []).extend(str(x) for x in r.results or () if x)
            for r in session.execute(select(CaseRow.procedure_id, CaseRow.name).order_by(CaseRow.position)):
                if r.name and not r.name.rstrip().endswith(":"):
                    context.setdefault(r.procedure_id, []).append(r.name)
            rows = session.execute(
                select(CaseRow.procedure_id, DocumentRow.name).join(DocumentRow, DocumentRow.case_id == CaseRow.id)
            )
            for r in rows:
                if r.name:
                    documents.setdefault(r.procedure_id, []).append(r.name)
        return {
            key: (tuple(dict.fromkeys(context.get(pid, ()))), tuple(dict.fromkeys(documents.get(pid, ()))))
            for pid, key in keys.items()
            if pid in context or pid in documents
        }

    def search_index(self) -> SearchIndex:
        """The :class:`bot.catalog.search.SearchIndex`, built on first use and then cached."""
        with self._lock:
            if self._index is None:
                from bot.catalog.search import SearchEntry, SearchIndex  # lazy: the index is only needed by find()

                extra = self.search_context()
                entries = []
                for e in self.all_search_entries():
                    context, documents = extra.get((e.code, e.province), ((), ()))
                    entries.append(
                        SearchEntry(e.code, e.province, e.name, e.aliases, e.origin == "curated", context, documents)
                    )
                self._index = SearchIndex(entries)
            return self._index

    def find(self, text: str, limit: int = 5, province: str | None = None) -> list[Candidate]:
        """Candidates for free text, best first (delegates to :mod:`bot.catalog.search`).

        ``province`` is a code or a name; an unknown one is passed on as it is.
        """
        wanted = None if province is None else (resolve_province(province) or province)
        return list(self.search_index().find(text, limit=limit, province=wanted))

    def resolve(self, text: str | None, mention: str | None = None, province: str | None = None) -> Resolution:
        """Which procedure a message is about: a decision and ranked candidates (:mod:`bot.catalog.resolve`)."""
        from bot.catalog.resolve import resolve

        wanted = None if province is None else (resolve_province(province) or province)
        return resolve(self.search_index(), text, mention=mention, province=wanted)

    def is_ambiguous(self, candidates: list[Candidate]) -> bool:
        """True when the top candidates are too close in score to pick one without asking."""
        return self.search_index().is_ambiguous(list(candidates))

    def invalidate(self) -> None:
        """Drop the cached search index (after a load or an import)."""
        with self._lock:
            self._index = None
