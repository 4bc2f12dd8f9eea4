"""Alembic chain: upgrading an empty database yields exactly the catalogue tables of the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from catalog_helpers import PORTAL_MINI, curated_record, write_record
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

import bot.catalog.models  # noqa: F401 - registers the tables on Base
from bot.catalog.importer import SKIP_CURATED, import_portal
from bot.catalog.loader import load_curated
from bot.catalog.schema import current_revision, head_revision, is_up_to_date, upgrade
from bot.catalog.service import ProcedureCatalog
from bot.db import Base

CATALOG_TABLES = {t for t in Base.metadata.tables if t.startswith("catalog_")}


def _catalog_only(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return bool(table and table.startswith("catalog_"))


def _catalog_diffs(engine: Engine) -> list[object]:
    """Differences between the migrated database and the models, for catalogue tables only.

    Tables of other services (dossiers…) are left to their own migrations and tests.
    """
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_object": _catalog_only}
        return list(compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata))


def test_upgrade_empty_sqlite_matches_models(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = create_engine(sqlite_url, future=True)
    try:
        assert set(inspect(engine).get_table_names()) >= CATALOG_TABLES
        assert current_revision(engine) == head_revision()
        assert is_up_to_date(engine)
        assert _catalog_diffs(engine) == []
        upgrade(engine)  # a second run is a no-op
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_unique_code_province_on_sqlite(engine: Engine) -> None:
    upgrade(engine)
    insert = text(
        "INSERT INTO catalog_procedures (code, province, name, aliases, online_level, online_portals, results,"
        " origin, detail_level, categories, departments, target_types, crosscheck_notes, content_hash, updated_at)"
        " VALUES ('1.000001', :p, 'x', '[]', 'none', '[]', '[]', 'portal', 'summary', '[]', '[]', '[]', '[]', '',"
        " CURRENT_TIMESTAMP)"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"p": ""})
        conn.execute(insert, {"p": "01"})
    with pytest.raises(Exception, match="UNIQUE"), engine.begin() as conn:
        conn.execute(insert, {"p": ""})


def test_upgrade_postgresql_matches_models(pg_schema_engine: Engine) -> None:
    upgrade(pg_schema_engine)
    tables = set(inspect(pg_schema_engine).get_table_names())
    assert tables >= CATALOG_TABLES
    assert current_revision(pg_schema_engine) == head_revision()
    assert _catalog_diffs(pg_schema_engine) == []


def test_import_and_read_on_postgresql(pg_schema_engine: Engine, tmp_path: Path) -> None:
    """The writer and the reader work on PostgreSQL too (JSON, booleans, big integers, cascades)."""
    upgrade(pg_schema_engine)
    write_record(tmp_path / "cat", curated_record("9.000001"))
    assert load_curated(tmp_path / "cat", pg_schema_engine).loaded == 1
    s = import_portal(PORTAL_MINI, pg_schema_engine, progress=False)
    assert (s.loaded, s.procedures) == (3, 4) and s.reasons()[SKIP_CURATED] == 2
    again = import_portal(PORTAL_MINI, pg_schema_engine, progress=False)
    assert (again.loaded, again.updated, again.unchanged) == (0, 0, 3)
    catalog = ProcedureCatalog(pg_schema_engine)
    assert catalog.get("9.000001").origin == "curated"
    assert catalog.get("9.000002", "Bắc Ninh").methods[0].processing_time == 7.5
