"""The catalogue tables as migrated: constraints on SQLite, the writer and the reader on PostgreSQL.

That the chain yields exactly the models (every table) is checked in test_db_schema.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.catalog.importer import SKIP_CURATED, import_portal
from bot.catalog.loader import load_curated
from bot.catalog.service import ProcedureCatalog
from tests.catalog.helpers import PORTAL_MINI, curated_record, write_record


def test_unique_code_province_on_sqlite(engine: Engine) -> None:
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


def test_import_and_read_on_postgresql(pg_schema_engine: Engine, tmp_path: Path) -> None:
    """The writer and the reader work on PostgreSQL too (JSON, booleans, big integers, cascades)."""
    write_record(tmp_path / "cat", curated_record("9.000001"))
    assert load_curated(tmp_path / "cat", pg_schema_engine).loaded == 1
    s = import_portal(PORTAL_MINI, pg_schema_engine, progress=False)
    assert (s.loaded, s.procedures) == (3, 4) and s.reasons()[SKIP_CURATED] == 2
    again = import_portal(PORTAL_MINI, pg_schema_engine, progress=False)
    assert (again.loaded, again.updated, again.unchanged) == (0, 0, 3)
    catalog = ProcedureCatalog(pg_schema_engine)
    assert catalog.get("9.000001").origin == "curated"
    assert catalog.get("9.000002", "Bắc Ninh").methods[0].processing_time == 7.5
