"""The admin's personal-data page: find, export and erase a person's data, hold a conversation."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from bot.console.store import ConsoleStore
from tests.console.conftest import Console, csrf_of
from tests.privacy.seeding import ANNA, BINH, seed, traces

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)


def _seeded(console: Console) -> Console:
    tracker = console.client.app.state.console.privacy.tracker  # type: ignore[attr-defined]
    seed(console.engine, tracker, ANNA, NOW)
    seed(console.engine, tracker, BINH, NOW, start=NOW.timestamp() + 100)
    return console


def _post(client, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf": csrf_of(client), **data})


def test_find_then_export_then_erase_by_phone(console: Console) -> None:
    _seeded(console)
    tracker = console.client.app.state.console.privacy.tracker  # type: ignore[attr-defined]
    admin = console.login("admin")
    found = _post(admin, "/admin/privacy/find", kind="phone", value="+84 912 345 678", reference="YC-01")
    assert found.status_code == 200 and ANNA.sender in found.text and BINH.sender not in found.text
    assert ANNA.phone not in found.text
    export = _post(admin, "/admin/privacy/export", kind="phone", value="0912345678", reference="YC-01")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    data = json.loads(export.text)
    assert ANNA.sender in data["sender_ids"] and BINH.sender not in export.text
    refused = _post(admin, "/admin/privacy/erase", kind="phone", value="0912345678", reference="YC-01")
    assert refused.status_code == 400 and "xác nhận" in refused.text
    assert traces(ANNA, console.engine, tracker)  # nothing erased without the confirmation
    erased = _post(admin, "/admin/privacy/erase", kind="phone", value="0912345678", reference="YC-01", confirm="1")
    assert erased.status_code == 200 and "Đã xóa 1 hội thoại" in erased.text
    left = [t for t in traces(ANNA, console.engine, tracker) if t[0] != "console_audit"]
    assert left == []
    assert traces(BINH, console.engine, tracker)
    actions = [(e.action, e.reason) for e in ConsoleStore(console.engine).audit_log()]
    assert ("privacy_erase", "YC-01") in actions and ("privacy_export", "YC-01") in actions


def test_a_held_conversation_needs_the_override(console: Console) -> None:
    _seeded(console)
    admin = console.login("admin")
    held = _post(admin, "/admin/privacy/hold", sender_id=ANNA.sender, reference="KN-7", reason="khiếu nại số 7")
    assert held.status_code == 200 and "KN-7" in held.text
    refused = _post(admin, "/admin/privacy/erase", kind="sender", value=ANNA.sender, reference="YC-2", confirm="1")
    assert refused.status_code == 409 and "KN-7" in refused.text
    done = _post(admin, "/admin/privacy/erase", kind="sender", value=ANNA.sender, reference="YC-2", confirm="1",
                 override="1")  # fmt: skip
    assert done.status_code == 200


def test_release_and_bad_input(console: Console) -> None:
    _seeded(console)
    admin = console.login("admin")
    _post(admin, "/admin/privacy/hold", sender_id=BINH.sender, reference="KN-8", reason="khiếu nại")
    assert _post(admin, "/admin/privacy/release", sender_id=BINH.sender).status_code == 200
    assert _post(admin, "/admin/privacy/release", sender_id=BINH.sender).status_code == 404
    assert _post(admin, "/admin/privacy/find", kind="phone", value="12345").status_code == 400
    assert _post(admin, "/admin/privacy/find", kind="passport", value="x").status_code == 400
    assert _post(admin, "/admin/privacy/export", kind="sender", value=ANNA.sender, reference="").status_code == 400
    assert _post(admin, "/admin/privacy/erase", kind="dossier", value="không phải mã", reference="R",
                 confirm="1").status_code == 400  # fmt: skip
    assert admin.get("/admin/privacy").status_code == 200
