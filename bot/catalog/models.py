"""SQLAlchemy models of the procedure catalogue (tables ``catalog_*``).

A procedure is keyed by (code, province); ``province`` is ``''`` for national
records because NULLs never collide in a unique constraint on either SQLite or
PostgreSQL. Children carry a ``position`` column and are deleted with their
parent (``delete-orphan``), so replacing a list replaces the rows.

Lists of plain strings (aliases, results, online portals, categories…) are JSON
columns: they are read whole and never queried by element.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from bot.db import Base
from bot.db.clock import naive_utc

NATIONAL = ""  # the province value of national (non-provincial) records


def _children(cls: str) -> object:
    return relationship(
        cls, order_by=f"{cls}.position", cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )


class ProcedureRow(Base):
    """One procedure: a curated record, a portal detail record, or a catalogue summary row."""

    __tablename__ = "catalog_procedures"
    __table_args__ = (
        UniqueConstraint("code", "province", name="uq_catalog_procedures_code_province"),
        CheckConstraint("origin IN ('curated', 'portal')", name="ck_catalog_procedures_origin"),
        CheckConstraint("detail_level IN ('summary', 'detail')", name="ck_catalog_procedures_detail_level"),
        CheckConstraint(
            "online_level IN ('full', 'partial', 'none', 'unknown')", name="ck_catalog_procedures_online_level"
        ),
    )

    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=False, index=True)
    province = Column(String(8), nullable=False, default=NATIONAL)
    name = Column(Text, nullable=False)
    aliases = Column(JSON, nullable=False, default=list)
    field = Column(Text)
    online_level = Column(String(16), nullable=False, default="none")
    online_portals = Column(JSON, nullable=False, default=list)
    results = Column(JSON, nullable=False, default=list)
    requirements = Column(Text)
    source_url = Column(Text)
    verified_on = Column(Date)
    origin = Column(String(16), nullable=False)
    detail_level = Column(String(16), nullable=False, default="detail")
    portal_id = Column(String(36), index=True)
    portal_type = Column(String(32))
    promulgated_by = Column(Text)
    categories = Column(JSON, nullable=False, default=list)
    departments = Column(JSON, nullable=False, default=list)
    target_types = Column(JSON, nullable=False, default=list)
    crosscheck_notes = Column(JSON, nullable=False, default=list)
    # sha256 of the normalised input record: lets a re-import tell "unchanged" without diffing children.
    content_hash = Column(String(64), nullable=False, default="")
    updated_at = Column(DateTime, nullable=False, default=naive_utc, onupdate=naive_utc)

    agencies = _children("AgencyRow")
    cases = _children("CaseRow")
    methods = _children("MethodRow")
    steps = _children("StepRow")
    legal_bases = _children("LegalBasisRow")

    def __repr__(self) -> str:
        return f"<ProcedureRow {self.code}/{self.province or '-'} {self.origin}>"


class AgencyRow(Base):
    """A competent (role 'competent') or implementing (role 'implementing') agency."""

    __tablename__ = "catalog_agencies"
    __table_args__ = (
        CheckConstraint("role IN ('competent', 'implementing')", name="ck_catalog_agencies_role"),
        CheckConstraint("level IN ('commune', 'province', 'central', 'other')", name="ck_catalog_agencies_level"),
    )

    id = Column(Integer, primary_key=True)
    procedure_id = Column(Integer, ForeignKey("catalog_procedures.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    role = Column(String(16), nullable=False)
    name = Column(Text, nullable=False)
    level = Column(String(16), nullable=False)


class CaseRow(Base):
    """A situation (trường hợp) with its own list of documents."""

    __tablename__ = "catalog_cases"

    id = Column(Integer, primary_key=True)
    procedure_id = Column(Integer, ForeignKey("catalog_procedures.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    name = Column(Text, nullable=False)
    common = Column(Boolean, nullable=False, default=False)

    documents = _children("DocumentRow")


class DocumentRow(Base):
    """A document of a case's dossier."""

    __tablename__ = "catalog_documents"

    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("catalog_cases.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    name = Column(Text, nullable=False)
    originals = Column(Integer, nullable=False, default=0)
    copies = Column(Integer, nullable=False, default=0)
    e_form = Column(Boolean, nullable=False, default=False)
    note = Column(Text)


class MethodRow(Base):
    """A submission method; the portal sometimes lists one kind twice, so no uniqueness here."""

    __tablename__ = "catalog_methods"
    __table_args__ = (
        CheckConstraint("kind IN ('online', 'direct', 'postal')", name="ck_catalog_methods_kind"),
        CheckConstraint("time_unit IN ('working_day', 'day', 'hour', 'other')", name="ck_catalog_methods_time_unit"),
    )

    id = Column(Integer, primary_key=True)
    procedure_id = Column(Integer, ForeignKey("catalog_procedures.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    kind = Column(String(16), nullable=False)  # online | direct | postal (migration 0006; was "channel")
    processing_time = Column(Float)
    time_unit = Column(String(16), nullable=False, default="working_day")
    time_note = Column(Text)
    description = Column(Text)

    fees = _children("FeeRow")


class FeeRow(Base):
    """A fee of a method, in VND (NULL when the portal states no figure)."""

    __tablename__ = "catalog_fees"
    __table_args__ = (
        CheckConstraint("amount IS NULL OR amount >= 0", name="ck_catalog_fees_amount"),
        CheckConstraint("source IN ('portal', 'legal_basis')", name="ck_catalog_fees_source"),
    )

    id = Column(Integer, primary_key=True)
    method_id = Column(Integer, ForeignKey("catalog_methods.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    amount = Column(BigInteger)
    kind = Column(String(16))
    description = Column(Text, nullable=False, default="")
    legal_basis = Column(Text)
    source = Column(String(16), nullable=False, default="portal")


class StepRow(Base):
    """One step of the procedure (trình tự thực hiện)."""

    __tablename__ = "catalog_steps"

    id = Column(Integer, primary_key=True)
    procedure_id = Column(Integer, ForeignKey("catalog_procedures.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    text = Column(Text, nullable=False)


class LegalBasisRow(Base):
    """A legal document (căn cứ pháp lý)."""

    __tablename__ = "catalog_legal_bases"

    id = Column(Integer, primary_key=True)
    procedure_id = Column(Integer, ForeignKey("catalog_procedures.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False, default=0)
    code = Column(Text, nullable=False, default="")
    title = Column(Text, nullable=False, default="")


__all__ = [
    "NATIONAL",
    "AgencyRow",
    "CaseRow",
    "DocumentRow",
    "FeeRow",
    "LegalBasisRow",
    "MethodRow",
    "ProcedureRow",
    "StepRow",
]
