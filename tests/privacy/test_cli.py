"""python -m bot privacy …: export, erase, holds and the purge from the command line (in-process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.db import make_engine
from bot.privacy.models import TRACKER_EVENTS
from tests.privacy.seeding import ANNA, BINH, seed, traces

SEEDED = datetime(2026, 3, 1, 3, 0, tzinfo=timezone.utc)  # long idle by the time the tests run


@pytest.fixture
def stores(engine: Engine, sqlite_url: str, tmp_path: Path, no_process_wide_masking: None) -> Iterator[list[str]]:
    """The seeded databases; yields the options every command takes."""
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    tracker = make_engine(tracker_url)
    TRACKER_EVENTS.create(tracker)
    seed(engine, tracker, ANNA, SEEDED)
    seed(engine, tracker, BINH, SEEDED)
    tracker.dispose()
    yield ["--tracker-url", tracker_url]


def _run(sqlite_url: str, *args: str) -> int:
    return main(["--database-url", sqlite_url, "privacy", *args])


def test_export_then_erase(
    stores: list[str], sqlite_url: str, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export.json"
    assert (
        _run(sqlite_url, "export", "--phone", "+84912345678", "--reference", "PYC-7", "--out", str(out), *stores) == 0
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["sender_ids"] == [ANNA.sender]
    assert out.stat().st_mode & 0o077 == 0  # the export is readable by its owner only

    assert (
        _run(sqlite_url, "erase", "--sender", ANNA.sender, "--reference", "PYC-7", "--by", "thu", "--yes", *stores) == 0
    )
    printed = capsys.readouterr().out
    assert "1 conversation(s)" in printed and "events: 7" in printed
    tracker = make_engine(stores[1])
    assert traces(ANNA, engine, tracker) == []
    assert traces(BINH, engine, tracker)
    tracker.dispose()


def test_erase_without_a_terminal_needs_yes(
    stores: list[str], sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(sqlite_url, "erase", "--sender", ANNA.sender, "--reference", "PYC-8", *stores) == 2
    assert "--yes" in capsys.readouterr().err


def test_holds(stores: list[str], sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        _run(sqlite_url, "hold", "--sender", ANNA.sender, "--reference", "KN-1", "--reason", "khiếu nại", *stores) == 0
    )
    assert _run(sqlite_url, "holds", *stores) == 0
    assert "KN-1" in capsys.readouterr().out
    assert _run(sqlite_url, "erase", "--sender", ANNA.sender, "--reference", "PYC-9", "--yes", *stores) == 2
    assert "on hold (KN-1)" in capsys.readouterr().err
    assert _run(sqlite_url, "release", "--sender", ANNA.sender, *stores) == 0
    assert _run(sqlite_url, "release", "--sender", ANNA.sender, *stores) == 1


def test_purge_dry_run(stores: list[str], sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(sqlite_url, "purge", "--dry-run", "--list", *stores) == 0
    out = capsys.readouterr().out
    assert "would erase 2 conversations" in out
    assert ANNA.sender in out and BINH.sender in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["erase", "--phone", "12345", "--reference", "R", "--yes"], "not a Vietnamese phone number"),
        (["export", "--dossier", "HS-1", "--reference", "R"], "national format"),
        (["purge", "--batch", "0"], "--batch must be at least 1"),
    ],
)
def test_bad_input_is_one_line(
    stores: list[str], sqlite_url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert _run(sqlite_url, *args, *stores) == 2
    assert message in capsys.readouterr().err
