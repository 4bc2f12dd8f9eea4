"""The trainer's pages: the NLU inbox and its actions, personal data refused, new intents, writing the reviewed
data, training runs, the model registry and the comparison (real inbox and registry, temporary project copy)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.console.models import AuditRow
from bot.conversations.models import ConversationRow, TurnRow
from bot.db import session_factory
from bot.training.data import key_hash
from bot.training.models import ReviewRow
from tests.console.conftest import Console, csrf_of
from tests.console.fakes import T0, turn

HX = {"HX-Request": "true"}

# (sender, channel, rating, minute, text, intent, confidence, fallback)
MESSAGES = [
    ("socketio:a", "socketio", None, 1, "lệ phí làm hộ chiếu phổ thông bao nhiêu vậy", "ask_fee", 0.41, False),
    ("telegram_ptb:b", "telegram_ptb", 1, 2, "Lệ phí làm hộ chiếu phổ thông  bao nhiêu vậy", "ask_fee", 0.44, False),
    ("zalo:c", "zalo", None, 3, "bộ phận một cửa mấy giờ mở cửa", "ask_where", 0.3, True),
    ("socketio:a", "socketio", None, 4, "gọi cho tôi số 0912345678 nhé", "request_callback", 0.9, False),
    ("zalo:c", "zalo", None, 5, "chị Trần Thị Bình nộp hồ sơ ở đâu", "ask_where", 0.7, False),
    ("telegram_ptb:b", "telegram_ptb", 1, 6, "đăng ký thường trú cho con cần gì", "ask_documents", 0.8, False),
]


def seed(console: Console) -> dict[str, int]:
    """The record of conversations the inbox reads; returns turn ids by text."""
    sessions = session_factory(console.engine)
    ids: dict[str, int] = {}
    with sessions() as session, session.begin():
        for sender, channel, rating in {(m[0], m[1], m[2]) for m in MESSAGES}:
            session.add(ConversationRow(sender_id=sender, channel=channel, started_at=T0, last_at=T0, turns=3,
                                        fallbacks=0, handed_off=False, paused=False, rating=rating))  # fmt: skip
        for sender, _, _, minute, text, intent, confidence, fallback in MESSAGES:
            row = TurnRow(sender_id=sender, at=T0 + timedelta(minutes=minute), author="citizen", text=text,
                          intent=intent, confidence=confidence, fallback=fallback,
                          entities=[{"entity": "procedure", "value": "hộ chiếu", "start": 0, "end": 1}])  # fmt: skip
            session.add(row)
            session.flush()
            ids[text] = row.id
    return ids


def post(client: TestClient, path: str, htmx: bool = True, **data: Any):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf": csrf_of(client), **data}, headers=HX if htmx else {})


def review(console: Console, text: str) -> ReviewRow | None:
    with session_factory(console.engine)() as session:
        return session.execute(select(ReviewRow).where(ReviewRow.text_key == key_hash(text))).scalar_one_or_none()


def audit_actions(console: Console) -> list[tuple[str, str | None, str | None]]:
    with console.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(AuditRow.action, AuditRow.target, AuditRow.reason))]


FEE = "lệ phí làm hộ chiếu phổ thông bao nhiêu vậy"
HOURS = "bộ phận một cửa mấy giờ mở cửa"
PHONE = "gọi cho tôi số 0912345678 nhé"
NAMED = "chị Trần Thị Bình nộp hồ sơ ở đâu"
RESIDENCE = "đăng ký thường trú cho con cần gì"


# -- the inbox ---------------------------------------------------------------------------------


def test_inbox_rows_newest_first_grouped_with_count_and_filters(console: Console) -> None:
    seed(console)
    trainer = console.login("trainer")
    page = trainer.get("/training")
    assert page.status_code == 200
    text = page.text
    order = [text.index(s) for s in (RESIDENCE, "Trần Thị Bình", PHONE, HOURS, "Lệ phí làm hộ chiếu")]
    assert order == sorted(order)  # newest first
    row = text[text.index(f'id="item-{key_hash(FEE)}"') :].split("</tr>")[0]
    assert '<td class="count">2</td>' in row and "ask_fee" in row and "0.44" in row
    assert "procedure=hộ chiếu" in row and "Web" in row and "Telegram" in row
    fallback = trainer.get("/training", params={"fallback": "1"}).text
    assert HOURS in fallback and RESIDENCE not in fallback
    low = trainer.get("/training", params={"confidence_below": "0,5"}).text
    assert HOURS in low and "hộ chiếu" in low and RESIDENCE not in low
    assert RESIDENCE in trainer.get("/training", params={"intent": "ask_documents"}).text
    assert HOURS not in trainer.get("/training", params={"intent": "ask_documents"}).text
    zalo = trainer.get("/training", params={"channel": "zalo"}).text
    assert HOURS in zalo and RESIDENCE not in zalo
    rated = trainer.get("/training", params={"low_rating": "1"}).text
    assert RESIDENCE in rated and HOURS not in rated
    assert "Độ tin cậy: nhập một số từ 0 đến 1." in trainer.get("/training", params={"confidence_below": "x"}).text
    assert "Mô hình đang chạy: —" in text  # no model promoted yet


def test_confirm_change_and_ignore_by_htmx(console: Console) -> None:
    seed(console)
    trainer = console.login("trainer")
    confirmed = post(trainer, f"/training/items/{key_hash(FEE)}/confirm", start="3", end="29")
    assert confirmed.status_code == 200 and "Đã xác nhận: ask_fee" in confirmed.text
    assert confirmed.text.lstrip().startswith("<tr")  # the row, for htmx to swap
    row = review(console, FEE)
    assert row is not None and (row.decision, row.intent) == ("confirmed", "ask_fee")
    assert row.entities == [{"entity": "procedure", "start": 3, "end": 29, "value": "phí làm hộ chiếu phổ thông"}]
    changed = post(trainer, f"/training/items/{key_hash(HOURS)}/change", intent="ask_processing_time")
    assert changed.status_code == 200 and "Đã đổi ý định: ask_processing_time" in changed.text
    assert review(console, HOURS).decision == "changed"  # type: ignore[union-attr]
    ignored = post(trainer, f"/training/items/{key_hash(RESIDENCE)}/ignore")
    assert ignored.status_code == 200 and "Đã bỏ qua" in ignored.text
    inbox = trainer.get("/training").text
    assert FEE not in inbox and HOURS not in inbox and RESIDENCE not in inbox
    gone = post(trainer, f"/training/items/{key_hash(FEE)}/confirm")
    assert gone.status_code == 409 and "không còn trong hộp thư" in gone.text
    assert post(trainer, f"/training/items/{key_hash(PHONE)}/change", intent="").status_code == 400
    new = post(trainer, f"/training/items/{key_hash(PHONE)}/change", intent="__new__")
    assert new.status_code == 204 and new.headers["HX-Redirect"] == f"/training/intents/new?key={key_hash(PHONE)}"
    plain = post(trainer, f"/training/items/{key_hash(PHONE)}/change", htmx=False, intent="ask_office_hours")
    assert plain.status_code == 303 and "name=ask_office_hours" in plain.headers["location"]
    actions = [a for a, _, _ in audit_actions(console)]
    assert {"training_confirmed", "training_changed", "training_ignored"} <= set(actions)


def test_mark_procedure_by_selection_or_catalogue_search(console: Console) -> None:
    seed(console)
    trainer = console.login("trainer")
    search = trainer.get("/training/procedures", params={"q": "hộ chiếu"}, headers=HX)
    assert search.status_code == 200 and 'value="2.001941"' in search.text and "Cấp hộ chiếu phổ thông" in search.text
    assert console.training.catalog.searches == ["hộ chiếu"]
    assert 'name="procedure_code"' in trainer.get("/training/procedures", params={"q": "x"}).text
    key = key_hash(RESIDENCE)
    early = post(trainer, f"/training/items/{key}/procedure", start="0", end="18")
    assert early.status_code == 400 and "Cần xác nhận hoặc đổi ý định" in early.text
    post(trainer, f"/training/items/{key}/confirm")
    marked = post(trainer, f"/training/items/{key}/procedure", start="0", end="18", procedure_code="1.004222")
    assert marked.status_code == 200 and "Đã đánh dấu thủ tục." in marked.text
    row = review(console, RESIDENCE)
    assert row is not None and row.procedure_code == "1.004222"
    assert row.entities == [{"entity": "procedure", "start": 0, "end": 18, "value": "đăng ký thường trú"}]
    unknown = post(trainer, f"/training/items/{key}/procedure", procedure_code="9.999999")
    assert unknown.status_code == 400 and "Không có thủ tục này trong danh mục." in unknown.text
    outside = post(trainer, f"/training/items/{key}/procedure", start="5", end="500")
    assert outside.status_code == 400 and "không nằm trong câu" in outside.text
    assert post(trainer, f"/training/items/{key}/procedure").status_code == 400
    assert post(trainer, f"/training/items/{key}/procedure", start="a", end="b").status_code == 400


def test_personal_data_is_refused_then_replaced_by_placeholders(console: Console) -> None:
    seed(console)
    trainer = console.login("trainer")
    refused = post(trainer, f"/training/items/{key_hash(PHONE)}/confirm")
    assert refused.status_code == 400
    assert "Câu còn dữ liệu cá nhân nên chưa lưu." in refused.text
    assert "Số điện thoại: 091*****78" in refused.text and "0912345678" not in refused.text.split("<q>")[-1]
    assert "gọi cho tôi số 0900000000 nhé" in refused.text and 'name="use_placeholder"' in refused.text
    assert review(console, PHONE) is None
    named = post(trainer, f"/training/items/{key_hash(NAMED)}/change", intent="ask_where")
    assert named.status_code == 400 and "Họ tên người dân" in named.text
    retried = post(trainer, f"/training/items/{key_hash(PHONE)}/confirm", use_placeholder="1")
    assert retried.status_code == 200, retried.text
    original, kept = review(console, PHONE), review(console, "gọi cho tôi số 0900000000 nhé")
    assert original is not None and original.decision == "ignored"
    assert kept is not None and (kept.decision, kept.intent) == ("confirmed", "request_callback")
    renamed = post(trainer, f"/training/items/{key_hash(NAMED)}/change", intent="ask_where", use_placeholder="1")
    assert renamed.status_code == 200 and review(console, "chị Nguyen Van A nộp hồ sơ ở đâu") is not None
    assert ("training_placeholder", f"text:{key_hash(PHONE)[:12]}", "phone") in audit_actions(console)


def test_flag_for_trainer_from_a_transcript(console: Console) -> None:
    ids = seed(console)
    console.record.add("socketio:a", turn(ids[RESIDENCE], "citizen", RESIDENCE), turn(99, "bot", "Cần giấy tờ..."))
    for role in ("agent", "trainer", "supervisor"):
        client = console.login(role)
        page = client.get("/conversations/socketio:a")
        assert page.text.count("Gửi người huấn luyện") == 1  # on the citizen turn only
    agent = console.login("agent")
    flagged = post(agent, "/conversations/socketio:a/flag", turn_id=str(ids[RESIDENCE]))
    assert flagged.status_code == 200 and "Đã gửi câu này vào hộp thư huấn luyện." in flagged.text
    plain = post(agent, "/conversations/socketio:a/flag", htmx=False, turn_id=str(ids[RESIDENCE]))
    assert plain.status_code == 303 and plain.headers["location"].endswith(f"#turn-{ids[RESIDENCE]}")
    assert post(agent, "/conversations/socketio:a/flag", turn_id="999999").status_code == 400
    assert post(agent, "/conversations/socketio:a/flag", turn_id="x").status_code == 400
    trainer = console.login("trainer")
    only = trainer.get("/training", params={"flagged": "1"}).text
    assert RESIDENCE in only and HOURS not in only and "Cán bộ gửi" in only


def test_csrf_and_roles_on_the_actions(console: Console) -> None:
    seed(console)
    trainer = console.login("trainer")
    no_token = trainer.post(f"/training/items/{key_hash(FEE)}/confirm", headers=HX)
    assert no_token.status_code == 403 and review(console, FEE) is None
    agent = console.login("agent")
    assert post(agent, f"/training/items/{key_hash(FEE)}/confirm").status_code == 403
    assert agent.get("/training").status_code == 403
    assert "/training" not in agent.get("/conversations").text
    assert 'href="/training"' in trainer.get("/conversations").text


# -- new intents and the reviewed data ---------------------------------------------------------


def test_new_intent_writes_the_files_of_the_project_copy(console: Console) -> None:
    seed(console)
    root = console.training.root
    trainer = console.login("trainer")
    form = trainer.get("/training/intents/new", params={"key": key_hash(HOURS), "name": "ask_office_hours"})
    assert form.status_code == 200 and HOURS in form.text and 'value="ask_office_hours"' in form.text
    bad = post(trainer, "/training/intents", htmx=False, name="Giờ", response="x", examples="a b c")
    assert bad.status_code == 400 and "Tên ý định không hợp lệ" in bad.text
    exists = post(trainer, "/training/intents", htmx=False, name="ask_fee", response="x", examples="a b c")
    assert exists.status_code == 400 and "đã có trong domain.yml" in exists.text
    response = "Bộ phận một cửa làm việc từ 7 giờ 30 đến 17 giờ, thứ Hai đến thứ Sáu."
    examples = "giờ làm việc của bộ phận một cửa\ngọi 0912345678 hỏi giờ làm"
    pii = post(trainer, "/training/intents", htmx=False, name="ask_office_hours", response=response,
               examples=examples, key=key_hash(HOURS))  # fmt: skip
    assert pii.status_code == 400 and "Số điện thoại" in pii.text and not (root / "data/reviewed_rules.yml").exists()
    done = post(trainer, "/training/intents", htmx=False, name="ask_office_hours", response=response,
                examples=examples, key=key_hash(HOURS), use_placeholder="1")  # fmt: skip
    assert done.status_code == 200, done.text
    assert "Đã thêm ý định ask_office_hours với 3 câu mẫu." in done.text
    nlu = (root / "data/nlu/reviewed/ask_office_hours.yml").read_text(encoding="utf-8")
    assert "giờ làm việc của bộ phận một cửa" in nlu and HOURS in nlu and "0900000000" in nlu
    assert "0912345678" not in nlu
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))
    assert "ask_office_hours" in domain["intents"]
    assert domain["responses"]["utter_ask_office_hours"] == [{"text": response}]
    assert "answer ask_office_hours" in (root / "data/reviewed_rules.yml").read_text(encoding="utf-8")
    row = review(console, HOURS)
    assert row is not None and (row.decision, row.intent) == ("changed", "ask_office_hours")
    assert row.written_at is not None
    assert HOURS not in trainer.get("/training").text
    assert "ask_office_hours" in trainer.get("/training").text  # now an intent to choose


def test_export_writes_decided_reviews(console: Console) -> None:
    seed(console)
    root = console.training.root
    trainer = console.login("trainer")
    post(trainer, f"/training/items/{key_hash(FEE)}/confirm", start="11", end="29")
    post(trainer, f"/training/items/{key_hash(RESIDENCE)}/confirm")
    post(trainer, f"/training/items/{key_hash(HOURS)}/change", intent="ask_processing_time")
    page = trainer.get("/training/export")
    assert page.status_code == 200 and "ask_fee" in page.text and "ask_processing_time" in page.text
    written = post(trainer, "/training/export", htmx=False)
    assert written.status_code == 200 and "Đã ghi 3 câu của 3 ý định." in written.text
    fee = (root / "data/nlu/reviewed/ask_fee.yml").read_text(encoding="utf-8")
    assert "Lệ phí làm [hộ chiếu phổ thông](procedure) bao nhiêu vậy" in fee
    assert HOURS in (root / "data/nlu/reviewed/ask_processing_time.yml").read_text(encoding="utf-8")
    assert all(r.written_at is not None for r in console.training.inbox.reviews())
    assert "Không có câu nào chờ ghi." in trainer.get("/training/export").text


# -- runs ----------------------------------------------------------------------------------------


def test_training_runs_progress_polls_while_running(console: Console) -> None:
    trainer = console.login("trainer")
    assert "Bắt đầu huấn luyện" in trainer.get("/training/runs").text
    started = post(trainer, "/training/runs", htmx=False, kind="incremental")
    assert started.status_code == 303 and started.headers["location"] == "/training/runs/1"
    runs = console.training.runs()
    assert runs.started == [("trainer", True, console.training.root)]
    runs.advance(1, phase="training", progress=0.42, log_tail="Epochs: 42%|####\n")
    page = trainer.get("/training/runs/1")
    assert 'hx-trigger="every 2s"' in page.text and 'value="42"' in page.text and "Epochs: 42%" in page.text
    assert "Đang huấn luyện mô hình" in page.text
    busy = post(trainer, "/training/runs", htmx=False, kind="full")
    assert busy.status_code == 409 and "Đang có một lượt huấn luyện chạy" in busy.text
    runs.advance(1, state="done", phase="done", progress=1.0, model_id=7)
    fragment = trainer.get("/training/runs/1/progress", headers=HX)
    assert (
        "hx-trigger" not in fragment.text and 'value="100"' in fragment.text and "/training/models/7" in fragment.text
    )
    runs.advance(1, state="failed", error="abandoned")
    assert "bị bỏ dở" in trainer.get("/training/runs/1/progress").text
    assert trainer.get("/training/runs/5").status_code == 404
    listing = trainer.get("/training/runs").text
    assert "/training/runs/1" in listing and "Tăng dần" in listing


# -- the registry --------------------------------------------------------------------------------


def report(overall: float, no_diacritics: float, fee_f1: float, stories: bool = True) -> dict[str, Any]:
    return {
        "overall": overall,
        "no_diacritics": no_diacritics,
        "teencode": 0.8,
        "per_intent": {
            "ask_fee": {"precision": fee_f1, "recall": fee_f1, "f1": fee_f1, "support": 10},
            "ask_where": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 8},
        },
        "confusion": {"labels": ["ask_fee", "ask_where"], "matrix": [[9, 1], [2, 6]]},
        "reviewed": {"n": 5, "accuracy": 0.8},
        "stories": {"passed": stories, "failed": [] if stories else ["hỏi lệ phí hộ chiếu"]},
        "stories_passed": stories,
    }


def test_promote_gate_override_reject_and_rollback(console: Console) -> None:
    registry, loader = console.training.registry, console.training.model_loader
    first = registry.register("models/a.tar.gz", "a" * 64, "trainer", report(0.95, 0.93, 0.9))
    trainer, supervisor = console.login("trainer"), console.login("supervisor")
    promoted = post(trainer, f"/training/models/{first.id}/promote", htmx=False)
    assert promoted.status_code == 200 and f"Mô hình #{first.id} đã được đưa vào sử dụng." in promoted.text
    assert loader.loaded == ["models/a.tar.gz"] and registry.live().id == first.id
    assert f'id="live-model">Mô hình đang chạy: #{first.id}' in trainer.get("/training").text
    assert "live-model" not in console.login("agent").get("/").text
    worse = registry.register("models/b.tar.gz", "b" * 64, "trainer", report(0.90, 0.93, 0.7, stories=False))
    refused = post(trainer, f"/training/models/{worse.id}/promote", htmx=False)
    assert refused.status_code == 409 and "Mô hình chưa đạt ngưỡng kiểm tra chất lượng." in refused.text
    assert "Độ chính xác chung giảm quá 1 điểm: 95.0 % → 90.0 %." in refused.text
    assert "F1 của ý định ask_fee giảm quá 5 điểm: 90.0 % → 70.0 %." in refused.text
    assert "Có kịch bản kiểm thử không đạt." in refused.text
    assert "/override" not in refused.text and "Chỉ giám sát viên" in refused.text
    assert post(trainer, f"/training/models/{worse.id}/override", reason="đủ dài rồi nhé").status_code == 403
    sup_view = post(supervisor, f"/training/models/{worse.id}/promote", htmx=False)
    assert sup_view.status_code == 409 and f"/training/models/{worse.id}/override" in sup_view.text
    short = post(supervisor, f"/training/models/{worse.id}/override", htmx=False, reason="gấp")
    assert short.status_code == 400 and "ít nhất 10 ký tự" in short.text and registry.live().id == first.id
    reason = "Sửa lỗi khẩn cấp về lệ phí, đã kiểm tra tay"
    over = post(supervisor, f"/training/models/{worse.id}/override", htmx=False, reason=reason)
    assert over.status_code == 200 and registry.live().id == worse.id
    events = [(e.action, e.by, e.role, e.reason) for e in registry.events(worse.id)]
    assert ("override", "supervisor", "supervisor", reason) in events
    assert ("model_override", f"model:{worse.id}", reason) in audit_actions(console)
    models = trainer.get("/training/models").text
    assert "Vượt ngưỡng: " + reason in models and "a" * 12 in models
    assert f"/training/models/{first.id}/rollback" in models
    rolled = post(trainer, f"/training/models/{first.id}/rollback", htmx=False)
    assert rolled.status_code == 200 and registry.live().id == first.id and loader.loaded[-1] == "models/a.tar.gz"
    rejected = post(trainer, f"/training/models/{worse.id}/reject", htmx=False, reason="kém hơn")
    assert rejected.status_code == 200 and registry.get(worse.id).state == "rejected"
    assert post(trainer, f"/training/models/{first.id}/reject", htmx=False, reason="x").status_code == 400  # live
    assert post(trainer, f"/training/models/{first.id}/rollback", htmx=False).status_code == 400  # live now
    loader.fail = True
    third = registry.register("models/c.tar.gz", "c" * 64, "trainer", report(0.96, 0.94, 0.9))
    failed = post(trainer, f"/training/models/{third.id}/promote", htmx=False)
    assert failed.status_code == 409 and "Rasa không nạp được mô hình" in failed.text
    assert registry.live().id == first.id


def test_comparison_page_colours_the_differences(console: Console) -> None:
    registry = console.training.registry
    live = registry.register("models/a.tar.gz", "a" * 64, "trainer", report(0.90, 0.88, 0.80))
    registry.promote(live.id, "trainer")
    candidate = registry.register("models/b.tar.gz", "b" * 64, "trainer", report(0.94, 0.86, 0.92, stories=False))
    trainer = console.login("trainer")
    page = trainer.get(f"/training/models/{candidate.id}")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'<th>Độ chính xác chung</th><td>90\.0 %</td><td>94\.0 %</td><td class="delta better">\+4\.0</td>',
                     html)  # fmt: skip
    assert re.search(r'<th>Gõ không dấu</th><td>88\.0 %</td><td>86\.0 %</td><td class="delta worse">−2\.0</td>', html)
    assert '<td class="delta better">+12.0</td>' in html  # ask_fee's F1
    assert 'class="heat-4 diag">9</td>' in html and 'class="heat-1">1</td>' in html
    assert "hỏi lệ phí hộ chiếu" in html and "1 kịch bản không đạt:" in html
    assert f"So với</dt><dd>#{live.id}" in html
    assert "Có kịch bản kiểm thử không đạt." in html  # the gate, before promoting
    assert trainer.get("/training/models/999").status_code == 404
    live_page = trainer.get(f"/training/models/{live.id}").text
    assert "Đang chạy" in live_page and "/promote" not in live_page


@pytest.mark.parametrize("role", ["trainer", "supervisor", "admin"])
def test_every_training_page_renders_for_the_trainer_roles(console: Console, role: str) -> None:
    seed(console)
    model = console.training.registry.register("models/a.tar.gz", "a" * 64, "trainer", report(0.9, 0.9, 0.9))
    client = console.login(role)
    for path in ("/training", "/training/intents/new", "/training/export", "/training/runs", "/training/models",
                 f"/training/models/{model.id}"):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 200, path
        assert "Mô hình đang chạy" in page.text


def test_the_trainer_pages_over_the_real_services(engine: Any, tmp_path: Any) -> None:
    """create_app's default TrainingDesk: the real runs, loader and comparison of bot.training, on a project copy."""
    from bot.console.app import create_app
    from bot.console.auth import Accounts
    from bot.training.evaluation import compare
    from bot.training.loader import ReplicaLoader
    from bot.training.runs import TrainingRuns
    from tests.console.conftest import FAST_HASHER, PASSWORD, project_copy

    accounts = Accounts(engine, hasher=FAST_HASHER)
    accounts.create("coach", PASSWORD, "trainer")
    root = project_copy(tmp_path / "project")
    app = create_app(engine=engine, accounts=accounts, project_root=root)
    desk = app.state.console.training
    assert desk.root == root and desk.inbox.index.root == root
    assert isinstance(desk.runs(), TrainingRuns) and isinstance(desk.loader(), ReplicaLoader)
    assert desk.compare() is compare
    model = desk.registry.register("models/a.tar.gz", "a" * 64, "coach", report(0.9, 0.9, 0.9))
    with TestClient(app, follow_redirects=False) as client:
        client.post("/login", data={"username": "coach", "password": PASSWORD, "csrf": csrf_of(client)})
        for path in ("/training", "/training/intents/new", "/training/export", "/training/runs", "/training/models",
                     f"/training/models/{model.id}", "/training/procedures?q=h%E1%BB%99%20chi%E1%BA%BFu"):  # fmt: skip
            assert client.get(path).status_code == 200, path
        assert client.get("/training/runs/1").status_code == 404


def test_a_refused_mark_keeps_the_decided_row_and_its_form(console: Console) -> None:
    seed(console)
    trainer = console.login("trainer")
    key = key_hash(RESIDENCE)
    post(trainer, f"/training/items/{key}/confirm")
    for data in ({"start": "1", "end": ""}, {"start": "x", "end": "2"}, {}, {"procedure_code": "9.9"}):
        refused = post(trainer, f"/training/items/{key}/procedure", **data)
        assert refused.status_code == 400, data
        assert refused.text.lstrip().startswith("<tr") and f"/training/items/{key}/procedure" in refused.text
    bad_span = post(trainer, f"/training/items/{key_hash(FEE)}/confirm", start="3", end="")
    assert bad_span.status_code == 400 and "không nằm trong câu" in bad_span.text and "<tr" in bad_span.text
    assert review(console, FEE) is None
