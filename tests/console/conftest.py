"""Fixtures of the console tests: a migrated temp database, fake services, users of every role, a clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from bot.console.app import create_app
from bot.console.auth import Accounts
from bot.db import make_engine
from bot.helpdesk.calendar_days import CalendarDays
from bot.helpdesk.callbacks import CallbackBook
from bot.helpdesk.handoff import HandoffDesk
from bot.privacy.lifecycle import DataLifecycle
from bot.privacy.models import TRACKER_EVENTS
from tests.console.fakes import T0, FakeRecord, FakeStaffDesk, fake_unseal

PASSWORD = "mat-khau-dai-1"
ROLES = ("agent", "trainer", "supervisor", "admin")
# Cheap argon2 parameters: tests hash often.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass
class Clock:
    """A settable naive-UTC clock."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Console:
    """The app under test and its fakes."""

    engine: Engine
    client: TestClient
    accounts: Accounts
    desk: HandoffDesk
    staff: FakeStaffDesk
    record: FakeRecord
    clock: Clock
    extra_clients: list[TestClient] = field(default_factory=list)

    def new_client(self) -> TestClient:
        """Another browser (its own cookies)."""
        client = TestClient(self.client.app, follow_redirects=False)
        self.extra_clients.append(client)
        return client

    def login(self, username: str, client: TestClient | None = None, password: str = PASSWORD) -> TestClient:
        """Log ``username`` in on ``client`` (a new browser by default)."""
        client = client or self.new_client()
        response = client.post("/login", data={"username": username, "password": password,
                                                "csrf": csrf_of(client)})  # fmt: skip
        assert response.status_code == 303, response.text
        return client


def csrf_of(client: TestClient, path: str = "/login") -> str:
    """The CSRF token the page at ``path`` carries (from its <meta>); a logged-in browser reads it from
    the password page, since /login sends it home."""
    page = client.get(path)
    if page.status_code == 303:
        page = client.get("/account/password")
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert match, page.text[:500]
    return match.group(1)


@pytest.fixture
def console(engine: Engine, tmp_path: Path) -> Iterator[Console]:
    clock = Clock()
    tracker = make_engine(f"sqlite:///{tmp_path / 'tracker.db'}")  # Rasa's tracker store, for the privacy page
    TRACKER_EVENTS.create(tracker)
    accounts = Accounts(engine, clock=clock, hasher=FAST_HASHER, max_failed=3, lockout_minutes=15)
    for role in ROLES:
        accounts.create(role, PASSWORD, role, f"Cán bộ {role}")
    accounts.create("agent2", PASSWORD, "agent", "Cán bộ hai")
    desk = HandoffDesk(engine)
    staff = FakeStaffDesk(desk)
    record = FakeRecord()
    app = create_app(engine=engine, staff_desk=staff, record=record, clock=clock, accounts=accounts,
                     callbacks=CallbackBook(engine), calendar=CalendarDays(engine), unseal=fake_unseal,
                     privacy=DataLifecycle(engine, tracker))  # fmt: skip
    client = TestClient(app, follow_redirects=False)
    con = Console(engine, client, accounts, desk, staff, record, clock)
    yield con
    for c in [client, *con.extra_clients]:
        c.close()
    tracker.dispose()
