"""Logins, lockout, sessions and CSRF of the console."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.console.auth import AccountError, Accounts
from bot.console.models import AuditRow, UserRow
from tests.console.conftest import FAST_HASHER, PASSWORD, Console, csrf_of


def _audit(console: Console) -> list[tuple[str, str, str | None]]:
    with console.engine.connect() as conn:
        rows = conn.execute(select(AuditRow.username, AuditRow.action, AuditRow.target).order_by(AuditRow.id))
        return [tuple(r) for r in rows]


def _try(console: Console, username: str, password: str) -> str:
    client = console.client
    response = client.post("/login", data={"username": username, "password": password, "csrf": csrf_of(client)})
    if response.status_code == 303:
        return "ok"
    assert response.status_code == 200
    if "tạm thời bị khoá" in response.text:
        return "locked"
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.text
    return "failed"


def test_login_ok_goes_home_and_a_trainer_to_the_conversations(console: Console) -> None:
    client = console.new_client()
    response = client.post("/login", data={"username": "agent", "password": PASSWORD, "csrf": csrf_of(client),
                                           "next": "/callbacks"})  # fmt: skip
    assert (response.status_code, response.headers["location"]) == (303, "/callbacks")
    assert client.get("/callbacks").status_code == 200
    trainer = console.new_client()
    response = trainer.post("/login", data={"username": "trainer", "password": PASSWORD, "csrf": csrf_of(trainer),
                                            "next": "//evil.example/"})  # fmt: skip
    assert response.headers["location"] == "/conversations"
    assert ("agent", "login_ok", None) in _audit(console)


def test_wrong_user_and_wrong_password_read_the_same(console: Console) -> None:
    assert _try(console, "agent", "wrong password") == "failed"
    assert _try(console, "nobody", "wrong password") == "failed"
    assert [a for _, a, _ in _audit(console)] == ["login_failed", "login_failed"]


def test_lockout_then_unlock_after_the_time(console: Console) -> None:
    # max_failed=3 in the fixture
    assert [_try(console, "agent", "nope nope nope") for _ in range(3)] == ["failed", "failed", "locked"]
    assert _try(console, "agent", PASSWORD) == "locked"  # right password, still locked: says nothing more
    console.clock.advance(minutes=14)
    assert _try(console, "agent", PASSWORD) == "locked"
    console.clock.advance(minutes=2)
    assert _try(console, "agent", PASSWORD) == "ok"
    # the counter starts again from zero after a success
    assert [_try(console, "agent", "nope nope nope") for _ in range(2)] == ["failed", "failed"]
    assert "login_locked" in [a for _, a, _ in _audit(console)]


def test_unknown_users_lock_too_so_locking_reveals_nothing(console: Console) -> None:
    assert [_try(console, "ghost", "nope nope nope") for _ in range(4)] == ["failed", "failed", "locked", "locked"]


def test_a_disabled_account_cannot_log_in(console: Console) -> None:
    console.accounts.set_disabled("agent", True)
    assert _try(console, "agent", PASSWORD) == "failed"


def test_session_dies_after_logout_everywhere(console: Console) -> None:
    client = console.login("agent")
    other = console.login("agent")
    stolen = dict(client.cookies)
    assert client.post("/logout", data={"csrf": csrf_of(client)}).headers["location"] == "/login"
    assert client.get("/").status_code == 303
    assert other.get("/").status_code == 303  # logout bumps the session version
    replay = console.new_client()
    replay.cookies.update(stolen)
    assert replay.get("/").status_code == 303
    assert replay.get("/queue/fragment").status_code == 401


def test_session_dies_after_a_password_change_but_this_browser_stays(console: Console) -> None:
    client = console.login("agent")
    other = console.login("agent")
    response = client.post("/account/password", data={
        "csrf": csrf_of(client), "current_password": PASSWORD,
        "new_password": "mat-khau-moi-22", "new_password_again": "mat-khau-moi-22",
    })  # fmt: skip
    assert response.status_code == 200 and "Đã đổi mật khẩu." in response.text
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 303
    assert _try(console, "agent", PASSWORD) == "failed"
    assert _try(console, "agent", "mat-khau-moi-22") == "ok"


def test_password_change_needs_the_current_one_and_ten_chars(console: Console) -> None:
    client = console.login("agent")
    new = {"new_password": "abcdefghijk", "new_password_again": "abcdefghijk"}
    bad = client.post("/account/password", data={"csrf": csrf_of(client), "current_password": "x", **new})
    assert bad.status_code == 400 and "Mật khẩu hiện tại không đúng." in bad.text
    short = client.post("/account/password", data={"csrf": csrf_of(client), "current_password": PASSWORD,
                                                   "new_password": "short", "new_password_again": "short"})  # fmt: skip
    assert short.status_code == 400 and "quá ngắn" in short.text


def test_admin_password_reset_ends_the_users_sessions(console: Console) -> None:
    agent = console.login("agent")
    admin = console.login("admin")
    user = console.accounts.by_name("agent")
    assert user is not None
    response = admin.post(f"/admin/users/{user.id}/password", data={"csrf": csrf_of(admin), "password": "x" * 12})
    assert response.status_code == 200
    assert agent.get("/").status_code == 303
    assert ("admin", "user_password", "agent") in _audit(console)


def test_post_without_or_with_a_wrong_csrf_token_is_refused(console: Console) -> None:
    client = console.login("agent")
    h = console.desk.open("socketio:csrf", "socketio")
    assert client.post(f"/handoffs/{h.id}/claim").status_code == 403
    assert client.post(f"/handoffs/{h.id}/claim", data={"csrf": "forged"}).status_code == 403
    assert client.post(f"/handoffs/{h.id}/claim", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert console.desk.current("socketio:csrf").state == "waiting"
    token = csrf_of(client)
    claimed = client.post(f"/handoffs/{h.id}/claim", headers={"X-CSRF-Token": token})
    assert (claimed.status_code, claimed.headers["location"]) == (303, f"/handoffs/{h.id}")
    assert console.desk.current("socketio:csrf").state == "active"
    # a login form posted without the session's token (another site) is refused too
    fresh = console.new_client()
    assert fresh.post("/login", data={"username": "agent", "password": PASSWORD}).status_code == 403


def test_the_cookie_is_httponly_and_strict(console: Console) -> None:
    client = console.new_client()
    response = client.get("/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "console_session=" in cookie


def test_a_hash_with_old_parameters_is_upgraded_at_login(console: Console) -> None:
    strong = Accounts(console.engine, clock=console.clock, hasher=PasswordHasher(time_cost=2, memory_cost=2048,
                                                                                 parallelism=1))  # fmt: skip
    assert strong.login("supervisor", PASSWORD).outcome == "ok"
    with console.engine.connect() as conn:
        stored = conn.execute(select(UserRow.password_hash).where(UserRow.username == "supervisor")).scalar_one()
    assert "m=2048,t=2,p=1" in stored


def test_a_login_lasts_console_session_hours(console: Console) -> None:
    client = console.login("agent")  # CONSOLE_SESSION_HOURS defaults to 10
    console.clock.advance(hours=9, minutes=59)
    assert client.get("/").status_code == 200
    console.clock.advance(minutes=2)
    assert client.get("/").status_code == 303


@pytest.mark.parametrize("name", ["an\x00", "x\u200by", "có dấu", "<script>", "-dash", "a b"])
def test_look_alike_or_odd_usernames_are_refused(engine: Engine, name: str) -> None:
    with pytest.raises(AccountError):
        Accounts(engine, hasher=FAST_HASHER).create(name, "mật khẩu đủ dài 123", "agent")


def test_usernames_are_lower_case_and_login_ignores_case(engine: Engine) -> None:
    accounts = Accounts(engine, hasher=FAST_HASHER)
    assert accounts.create("Boss", "mật khẩu đủ dài 123", "admin").username == "boss"
    with pytest.raises(AccountError):
        accounts.create("BOSS", "mật khẩu đủ dài 456", "agent")
    assert accounts.login("BOSS", "mật khẩu đủ dài 123").user is not None
