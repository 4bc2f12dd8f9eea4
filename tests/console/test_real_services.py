"""The console over the real services (no fakes): it starts, and never loads Rasa."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from bot.console.app import create_app
from bot.console.auth import Accounts
from bot.helpdesk.handoff import HandoffDesk
from bot.privacy import seal
from bot.settings import PROJECT_ROOT
from tests.console.conftest import FAST_HASHER, PASSWORD, csrf_of


def test_the_console_never_imports_rasa() -> None:
    code = ("import sys, bot.console.app, bot.console.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rasa', 'rasa_sdk', 'sanic')))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_with_the_real_services(engine: Engine) -> None:
    accounts = Accounts(engine, hasher=FAST_HASHER)
    accounts.create("sup", PASSWORD, "supervisor")
    h = HandoffDesk(engine).open("socketio:real", "socketio")
    with TestClient(create_app(engine=engine, accounts=accounts), follow_redirects=False) as client:
        client.post("/login", data={"username": "sup", "password": PASSWORD, "csrf": csrf_of(client)})
        for path in ("/", "/queue/fragment", f"/handoffs/{h.id}", f"/handoffs/{h.id}/turns?after=0",
                     "/conversations", "/conversations?channel=zalo&fallback=1", "/callbacks"):  # fmt: skip
            assert client.get(path).status_code == 200, path
        assert client.get("/conversations/socketio:real").status_code == 404  # nothing recorded yet
        assert "sup" in client.get("/queue/fragment").text  # presence through the real StaffDesk
        for path in ("/conversations?cursor=garbage", "/conversations?date_from=0001-01-01",
                     "/conversations?date_to=9999-12-31", "/handoffs/99999999999999999999999",
                     f"/handoffs/{h.id}/turns?after=99999999999999999999999"):  # fmt: skip
            assert client.get(path).status_code in (400, 404), path  # a value no page can use, never a 500
    app = create_app(engine=engine)
    assert app.state.console.unseal(seal("0912345678")) == "0912345678"
