"""Immutable domain objects for the procedure catalogue.

Actions and the search index import these without pulling in SQLAlchemy:
:class:`bot.catalog.service.ProcedureCatalog` turns database rows into them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

AGENCY_LEVELS = ("commune", "province", "central", "other")
ONLINE_LEVELS = ("full", "partial", "none")
ONLINE_PORTALS = ("dichvucong", "vneid", "bocongan", "other")
SUBMISSION_METHOD_KINDS = ("online", "direct", "postal")  # the portal's submissionMethod
TIME_UNITS = ("working_day", "day", "hour", "other")
FEE_SOURCES = ("portal", "legal_basis")
ORIGINS = ("curated", "portal")
DETAIL_LEVELS = ("summary", "detail")


@dataclass(frozen=True)
class Agency:
    """A competent or implementing agency and its tier of government."""

    name: str
    level: str  # commune | province | central | other


@dataclass(frozen=True)
class Document:
    """One document of a case's dossier (thành phần hồ sơ)."""

    name: str
    originals: int = 0
    copies: int = 0
    e_form: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Case:
    """A situation the citizen can be in, with the documents it requires."""

    name: str
    documents: tuple[Document, ...] = ()
    common: bool = False


@dataclass(frozen=True)
class Fee:
    """A fee or charge; ``amount`` is in VND, ``None`` when the portal gives no figure."""

    amount: int | None
    description: str = ""
    legal_basis: str | None = None
    source: str = "portal"  # portal | legal_basis
    kind: str | None = None  # portal's type: fee | service_fee | price_level


@dataclass(frozen=True)
class SubmissionMethod:
    """A way to file (cách thức nộp): ``kind`` online | direct | postal, with its processing time and fees.

    Not to be confused with a channel, which is the chat platform a citizen writes from.
    """

    kind: str
    processing_time: float | None = None
    time_unit: str = "working_day"
    time_note: str | None = None
    fees: tuple[Fee, ...] = ()
    description: str | None = None

    @property
    def is_free(self) -> bool:
        """True when no fee with a positive amount applies."""
        return all(f.amount is not None and f.amount == 0 for f in self.fees)


@dataclass(frozen=True)
class LegalBasis:
    """A legal document the procedure rests on."""

    code: str
    title: str = ""


@dataclass(frozen=True)
class CrosscheckNote:
    """An intentional difference between a curated record and the portal."""

    field: str
    note: str
    legal_basis: str | None = None


@dataclass(frozen=True)
class Procedure:
    """Everything the assistant knows about one procedure (thủ tục hành chính)."""

    code: str
    name: str
    province: str | None = None
    aliases: tuple[str, ...] = ()
    field: str | None = None
    competent: Agency | None = None
    implementing: tuple[Agency, ...] = ()
    online_level: str = "none"  # full | partial | none; "unknown" on catalogue summary rows
    online_portals: tuple[str, ...] = ()
    cases: tuple[Case, ...] = ()
    methods: tuple[SubmissionMethod, ...] = ()
    steps: tuple[str, ...] = ()
    legal_basis: tuple[LegalBasis, ...] = ()
    results: tuple[str, ...] = ()
    requirements: str | None = None
    source_url: str | None = None
    verified_on: date | None = None
    origin: str = "portal"  # curated | portal
    detail_level: str = "detail"  # summary | detail
    portal_id: str | None = None
    portal_type: str | None = None  # STANDARD | SPECIFIC | STANDARD_INTERNAL
    promulgated_by: str | None = None
    categories: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    target_types: tuple[str, ...] = ()
    crosscheck_notes: tuple[CrosscheckNote, ...] = ()
    updated_at: datetime | None = None

    def method(self, kind: str) -> SubmissionMethod | None:
        """The first submission method of ``kind`` (online | direct | postal), if any."""
        return next((m for m in self.methods if m.kind == kind), None)

    @property
    def common_case(self) -> Case | None:
        """The case to show first: the one flagged common, else the first."""
        return next((c for c in self.cases if c.common), self.cases[0] if self.cases else None)

    @property
    def is_detailed(self) -> bool:
        """False for catalogue rows that carry only summary fields."""
        return self.detail_level == "detail"


class CatalogEntry(NamedTuple):
    """What the search index needs about one procedure."""

    code: str
    province: str | None
    name: str
    aliases: tuple[str, ...]
    origin: str
    detail_level: str
