"""Migration 0006: catalog_methods.channel -> kind, on SQLite and PostgreSQL, data kept both ways."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from bot.db.schema import upgrade

BEFORE = "0005_hashed_phone_digits"
AFTER = "0006_submission_method_kind"


def _seed(engine: Engine, column: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO catalog_procedures (id, code, province, name, aliases, online_level, online_portals,"
                " results, origin, detail_level, categories, departments, target_types, crosscheck_notes,"
                " content_hash, updated_at) VALUES (1, '1.000001', '', 'x', '[]', 'none', '[]', '[]', 'curated',"
                " 'detail', '[]', '[]', '[]', '[]', '', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO catalog_methods (id, procedure_id, position, {column}, time_unit)"
                " VALUES (7, 1, 0, 'online', 'working_day'), (8, 1, 1, 'postal', 'day')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO catalog_fees (id, method_id, position, amount, description, source)"
                " VALUES (3, 7, 0, 15000, 'lệ phí', 'portal'), (4, 8, 0, 0, '', 'legal_basis')"
            )
        )


def _state(engine: Engine, column: str) -> dict[str, Any]:
    inspector = inspect(engine)
    with engine.connect() as conn:
        methods = conn.execute(text(f"SELECT id, {column} FROM catalog_methods ORDER BY id")).all()
        fees = conn.execute(text("SELECT id, method_id, amount FROM catalog_fees ORDER BY id")).all()
    return {
        "columns": [c["name"] for c in inspector.get_columns("catalog_methods")],
        "checks": sorted(c["name"] for c in inspector.get_check_constraints("catalog_methods")),
        "indexes": [i["name"] for i in inspector.get_indexes("catalog_methods")],
        "methods": [tuple(r) for r in methods],
        "fees": [tuple(r) for r in fees],
    }


def _downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    from bot.db.schema import alembic_config

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _round_trip(engine: Engine) -> None:
    upgrade(engine, BEFORE)
    _seed(engine, "channel")
    upgrade(engine, AFTER)
    after = _state(engine, "kind")
    assert after["columns"] == [
        "id",
        "procedure_id",
        "position",
        "kind",
        "processing_time",
        "time_unit",
        "time_note",
        "description",
    ]
    assert after["checks"] == ["ck_catalog_methods_kind", "ck_catalog_methods_time_unit"]
    assert after["indexes"] == ["ix_catalog_methods_procedure_id"]
    assert after["methods"] == [(7, "online"), (8, "postal")]
    assert after["fees"] == [(3, 7, 15000), (4, 8, 0)]  # not cascade-deleted by SQLite's table copy
    with pytest.raises(Exception, match=r"(?i)check"), engine.begin() as conn:
        conn.execute(text("UPDATE catalog_methods SET kind = 'telegram' WHERE id = 7"))
    with engine.begin() as conn:  # the foreign key still cascades
        conn.execute(text("DELETE FROM catalog_methods WHERE id = 8"))
    assert _state(engine, "kind")["fees"] == [(3, 7, 15000)]

    _downgrade(engine, BEFORE)
    before = _state(engine, "channel")
    assert "channel" in before["columns"] and "kind" not in before["columns"]
    assert before["checks"] == ["ck_catalog_methods_channel", "ck_catalog_methods_time_unit"]
    assert before["methods"] == [(7, "online")] and before["fees"] == [(3, 7, 15000)]


def test_sqlite_round_trip(empty_engine: Engine) -> None:
    _round_trip(empty_engine)


def test_postgresql_round_trip(pg_empty_engine: Engine) -> None:
    _round_trip(pg_empty_engine)
