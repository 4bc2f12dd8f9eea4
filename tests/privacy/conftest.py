"""Fixtures of the privacy tests: Rasa's tracker store as a scratch SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.db import make_engine
from bot.privacy.models import TRACKER_EVENTS


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[Engine]:
    """A tracker database with Rasa's ``events`` table (the columns the lifecycle reads)."""
    eng = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    TRACKER_EVENTS.create(eng)
    yield eng
    eng.dispose()
