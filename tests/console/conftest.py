"""Fixtures of the console tests: a migrated temp database, fake services, users of every role, a clock."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from bot.console.app import create_app
from bot.console.auth import Accounts
from bot.console.training import TrainingDesk
from bot.db import make_engine
from bot.helpdesk.calendar_days import CalendarDays
from bot.helpdesk.callbacks import CallbackBook
from bot.helpdesk.handoff import HandoffDesk
from bot.privacy.lifecycle import DataLifecycle
from bot.privacy.models import TRACKER_EVENTS
from bot.settings import PROJECT_ROOT
from bot.training.data import TrainingIndex
from bot.training.inbox import Inbox
from bot.training.registry import ModelRegistry
from tests.browser import wait_for
from tests.console.fakes import T0, FakeCatalog, FakeLoader, FakeRecord, FakeRuns, FakeStaffDesk, fake_unseal
from tests.fakes import free_port

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
    training: TrainingDesk
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


def project_copy(target: Path) -> Path:
    """The parts of the project tree the trainer's pages read and write: domain.yml and data/nlu."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "domain.yml", target / "domain.yml")
    shutil.copytree(PROJECT_ROOT / "data" / "nlu", target / "data" / "nlu")
    return target


def training_desk(engine: Engine, root: Path, names: tuple[str, ...] = ("Trần Thị Bình",)) -> TrainingDesk:
    """The real inbox and registry over ``engine`` and ``root``, with a fake catalogue, runs and loader."""
    catalog = FakeCatalog()
    return TrainingDesk(engine=engine, root=root, inbox=Inbox(engine, TrainingIndex(root), catalog),
                        registry=ModelRegistry(engine), catalog=catalog, known_names=lambda: names,
                        runs_store=FakeRuns(), model_loader=FakeLoader())  # fmt: skip


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
    training = training_desk(engine, project_copy(tmp_path / "project"))
    app = create_app(engine=engine, staff_desk=staff, record=record, clock=clock, accounts=accounts,
                     callbacks=CallbackBook(engine), calendar=CalendarDays(engine), unseal=fake_unseal,
                     privacy=DataLifecycle(engine, tracker), training=training)  # fmt: skip
    client = TestClient(app, follow_redirects=False)
    con = Console(engine, client, accounts, desk, staff, record, clock, training)
    yield con
    for c in [client, *con.extra_clients]:
        c.close()
    tracker.dispose()


@pytest.fixture
def served(console: Console) -> Iterator[str]:
    """The console app of the ``console`` fixture on a real port."""
    port = free_port()
    config = uvicorn.Config(console.client.app, host="127.0.0.1", port=port, log_level="warning", ws="none",
                            access_log=False)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 10, "the console server")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
