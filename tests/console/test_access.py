"""Who may call what: every route of the app, for every role and for an anonymous caller."""

from __future__ import annotations

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.console.app import ROUTES
from bot.helpdesk.callbacks import CallbackBook
from tests.console.conftest import ROLES, Console, csrf_of
from tests.console.fakes import turn

ALL = set(ROLES)
STAFF = {"agent", "supervisor", "admin"}
READERS = {"agent", "trainer", "supervisor", "admin"}
TRAINERS = {"trainer", "supervisor", "admin"}
SUPERVISORS = {"supervisor", "admin"}
# Written from the brief, independently of bot.console.app.ROUTES: (kind, roles allowed); None = public.
EXPECTED: dict[tuple[str, str], tuple[str, set[str] | None]] = {
    ("GET", "/health"): ("public", None),
    ("GET", "/static/{name}"): ("public", None),
    ("GET", "/login"): ("public", None),
    ("POST", "/login"): ("public", None),
    ("POST", "/logout"): ("action", ALL),
    ("GET", "/account/password"): ("page", ALL),
    ("POST", "/account/password"): ("action", ALL),
    ("GET", "/"): ("page", STAFF),
    ("GET", "/queue/fragment"): ("fragment", STAFF),
    ("GET", "/handoffs/{handoff_id:int}"): ("page", STAFF),
    ("GET", "/handoffs/{handoff_id:int}/turns"): ("fragment", STAFF),
    ("POST", "/handoffs/{handoff_id:int}/claim"): ("action", STAFF),
    ("POST", "/handoffs/{handoff_id:int}/take-over"): ("action", {"supervisor", "admin"}),
    ("POST", "/handoffs/{handoff_id:int}/reply"): ("action", STAFF),
    ("POST", "/handoffs/{handoff_id:int}/note"): ("action", STAFF),
    ("POST", "/handoffs/{handoff_id:int}/transfer"): ("action", STAFF),
    ("POST", "/handoffs/{handoff_id:int}/close"): ("action", STAFF),
    ("GET", "/callbacks"): ("page", STAFF),
    ("POST", "/callbacks/{callback_id:int}/mark"): ("action", STAFF),
    ("GET", "/conversations"): ("page", READERS),
    ("GET", "/conversations/{sender_id}"): ("page", READERS),
    ("POST", "/conversations/{sender_id}/unmask"): ("action", {"supervisor", "admin"}),
    ("POST", "/conversations/{sender_id}/flag"): ("action", READERS),
    ("GET", "/training"): ("page", TRAINERS),
    ("POST", "/training/items/{key}/confirm"): ("action", TRAINERS),
    ("POST", "/training/items/{key}/change"): ("action", TRAINERS),
    ("POST", "/training/items/{key}/procedure"): ("action", TRAINERS),
    ("POST", "/training/items/{key}/ignore"): ("action", TRAINERS),
    ("GET", "/training/procedures"): ("fragment", TRAINERS),
    ("GET", "/training/intents/new"): ("page", TRAINERS),
    ("POST", "/training/intents"): ("action", TRAINERS),
    ("GET", "/training/export"): ("page", TRAINERS),
    ("POST", "/training/export"): ("action", TRAINERS),
    ("GET", "/training/runs"): ("page", TRAINERS),
    ("POST", "/training/runs"): ("action", TRAINERS),
    ("GET", "/training/runs/{run_id:int}"): ("page", TRAINERS),
    ("GET", "/training/runs/{run_id:int}/progress"): ("fragment", TRAINERS),
    ("GET", "/training/models"): ("page", TRAINERS),
    ("GET", "/training/models/{model_id:int}"): ("page", TRAINERS),
    ("POST", "/training/models/{model_id:int}/promote"): ("action", TRAINERS),
    ("POST", "/training/models/{model_id:int}/override"): ("action", SUPERVISORS),
    ("POST", "/training/models/{model_id:int}/reject"): ("action", TRAINERS),
    ("POST", "/training/models/{model_id:int}/rollback"): ("action", TRAINERS),
    ("GET", "/analytics"): ("page", {"supervisor", "admin"}),
    ("GET", "/analytics/csv/{chart}"): ("page", {"supervisor", "admin"}),
    ("GET", "/admin/users"): ("page", {"admin"}),
    ("POST", "/admin/users"): ("action", {"admin"}),
    ("POST", "/admin/users/{user_id:int}/disabled"): ("action", {"admin"}),
    ("POST", "/admin/users/{user_id:int}/password"): ("action", {"admin"}),
    ("POST", "/admin/users/{user_id:int}/role"): ("action", {"admin"}),
    ("GET", "/admin/calendar"): ("page", {"admin"}),
    ("POST", "/admin/calendar"): ("action", {"admin"}),
    ("POST", "/admin/calendar/remove"): ("action", {"admin"}),
    ("GET", "/admin/privacy"): ("page", {"admin"}),
    ("POST", "/admin/privacy/find"): ("action", {"admin"}),
    ("POST", "/admin/privacy/export"): ("action", {"admin"}),
    ("POST", "/admin/privacy/erase"): ("action", {"admin"}),
    ("POST", "/admin/privacy/hold"): ("action", {"admin"}),
    ("POST", "/admin/privacy/release"): ("action", {"admin"}),
    ("GET", "/metrics"): ("public", None),
}
# Served outside ROUTES (no session, no role): Prometheus' /metrics, guarded by METRICS_TOKEN alone.
OUTSIDE_TABLE = {("GET", "/metrics")}


def _app_routes(console: Console) -> list[tuple[str, str]]:
    out = []
    for route in console.client.app.routes:  # type: ignore[attr-defined]
        assert isinstance(route, Route)
        out += [(method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return out


def test_every_route_is_in_the_table_and_the_expectations(console: Console) -> None:
    routes = _app_routes(console)
    assert len(routes) == len(set(routes))
    assert set(routes) == set(EXPECTED)
    assert {(a.method, a.path) for a in ROUTES} == set(EXPECTED) - OUTSIDE_TABLE
    for access in ROUTES:
        kind, roles = EXPECTED[(access.method, access.path)]
        assert (access.kind, set(access.roles) or None) == (kind, roles), access.path


def _concrete(console: Console, path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


@pytest.fixture
def ids(console: Console) -> dict[str, str]:
    h = console.desk.open("socketio:matrix", "socketio")
    console.record.add("socketio:matrix", turn(1, "citizen", "xin chào"))
    callback = CallbackBook(console.engine).add("socketio:matrix", "socketio", "0912345678")
    agent2 = console.accounts.by_name("agent2")
    assert agent2 is not None
    model = console.training.registry.register("models/m1.tar.gz", "hash-1", "trainer", {"overall": 0.9})
    run = console.training.runs().start("trainer")
    console.training.runs().advance(run.id, state="done", phase="done", progress=1.0)
    return {"handoff_id:int": str(h.id), "callback_id:int": str(callback.id), "user_id:int": str(agent2.id),
            "sender_id": "socketio:matrix", "name": "console.css", "chart": "volume", "key": "0" * 40,
            "run_id:int": str(run.id), "model_id:int": str(model.id)}  # fmt: skip


def _call(client: TestClient, method: str, path: str) -> int:
    response = client.get(path) if method == "GET" else client.post(path, data={"csrf": csrf_of(client)})
    location = response.headers.get("location", "")
    return -1 if response.status_code == 303 and location.startswith("/login?next=") else response.status_code


@pytest.mark.parametrize("caller", ["anonymous", *ROLES])
def test_route_by_role_matrix(console: Console, ids: dict[str, str], caller: str) -> None:
    problems = []
    for method, template in _app_routes(console):
        kind, roles = EXPECTED[(method, template)]
        path = _concrete(console, template, ids)
        client = console.new_client() if caller == "anonymous" else console.login(caller)
        status = _call(client, method, path)
        client.close()
        if roles is None:
            ok = status not in (-1, 401, 403, 500)
        elif caller == "anonymous":
            ok = status == (-1 if kind == "page" else 401)
        elif caller not in roles:
            ok = status == 403
        else:
            ok = status not in (-1, 401, 403, 500)
        if not ok:
            problems.append(f"{caller} {method} {path}: {status}")
    assert problems == []


def test_anonymous_page_redirect_keeps_the_target(console: Console) -> None:
    response = console.client.get("/conversations?q=abc")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/conversations%3Fq%3Dabc"


def test_security_headers(console: Console) -> None:
    client = console.login("agent")
    page = client.get("/")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text.replace('<script src="/static/htmx.min.js" defer></script>', "").replace(
        '<script src="/static/console.js" defer></script>', ""
    )
    js = client.get("/static/htmx.min.js")
    assert (
        js.status_code == 200
        and "htmx" in js.text[:2000]
        and js.headers["content-type"].startswith("application/javascript")
    )
    assert client.get("/static/../settings.py").status_code == 404
    assert client.get("/static/nothing.js").status_code == 404
    assert console.client.get("/health").json() == {"ok": True}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/conversations?cursor=garbage"), ("GET", "/conversations?date_from=0001-01-01"),
     ("GET", "/conversations?date_to=9999-12-31"), ("GET", "/handoffs/99999999999999999999999"),
     ("GET", "/handoffs/1/turns?after=99999999999999999999999"),
     ("POST", "/callbacks/999999999999999999999/mark"), ("POST", "/admin/users/999999999999999999999/role")],
)  # fmt: skip
def test_values_no_page_can_use_are_a_400_not_a_500(console: Console, method: str, path: str) -> None:
    client = console.login("admin")
    headers = {"X-CSRF-Token": csrf_of(client)}
    resp = client.request(method, path, headers=headers, data={"reached": "1", "role": "agent"})
    assert resp.status_code < 500, (path, resp.status_code)
