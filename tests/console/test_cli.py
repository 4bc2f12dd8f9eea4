"""``python -m bot console`` account commands (bot.console.cli.main)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy.engine import Engine

from bot.console.auth import Accounts
from bot.console.cli import main


@pytest.fixture
def db(engine: Engine, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The CLI works on DATABASE_URL: point it at the test database."""
    from bot.db import engine_for
    from bot.settings import settings

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    settings.cache_clear()
    engine_for.cache_clear()
    yield engine
    engine_for.cache_clear()


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_add_user_with_password_stdin(db: Engine, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    _stdin(monkeypatch, "mat-khau-rat-dai\n")
    assert main(["add-user", "lan", "--role", "supervisor", "--display-name", "Chị Lan", "--password-stdin"]) == 0
    user = Accounts(db).by_name("lan")
    assert user is not None and (user.role, user.display_name) == ("supervisor", "Chị Lan")
    assert Accounts(db).login("lan", "mat-khau-rat-dai").outcome == "ok"
    assert "created lan" in capsys.readouterr().out


def test_add_user_refuses_a_duplicate_and_a_weak_password(db: Engine, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    _stdin(monkeypatch, "mat-khau-rat-dai\n")
    assert main(["add-user", "lan", "--role", "agent", "--password-stdin"]) == 0
    _stdin(monkeypatch, "mat-khau-khac-nua\n")
    assert main(["add-user", "lan", "--role", "agent", "--password-stdin"]) == 2
    assert "exists already" in capsys.readouterr().err
    _stdin(monkeypatch, "short\n")
    assert main(["add-user", "hoa", "--role", "agent", "--password-stdin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert Accounts(db).by_name("hoa") is None
    assert main(["add-user", "hoa", "--role", "boss", "--password-stdin"]) == 2  # argparse: unknown role


def test_add_user_asks_twice_with_getpass(db: Engine, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    answers = iter(["mat-khau-rat-dai", "mat-khau-khac-han"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["add-user", "lan", "--role", "agent"]) == 2
    assert "differ" in capsys.readouterr().err
    answers = iter(["mat-khau-rat-dai", "mat-khau-rat-dai"])
    assert main(["add-user", "lan", "--role", "agent"]) == 0


def test_set_password_and_disable(db: Engine, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    Accounts(db).create("lan", "mat-khau-rat-dai", "agent")
    _stdin(monkeypatch, "mat-khau-moi-dai\n")
    assert main(["set-password", "lan", "--password-stdin"]) == 0
    assert Accounts(db).login("lan", "mat-khau-moi-dai").outcome == "ok"
    assert main(["disable-user", "lan"]) == 0
    assert Accounts(db).by_name("lan").disabled
    assert main(["disable-user", "nobody"]) == 2
    _stdin(monkeypatch, "mat-khau-moi-dai\n")
    assert main(["set-password", "nobody", "--password-stdin"]) == 2
    assert main(["list-users"]) == 0
    assert "lan\tagent\tdisabled" in capsys.readouterr().out
