"""Issue 12, item 4 end to end: personal data is masked at rest, proven by a scan.

The real bot (``running_bot_parts``) goes through the dossier flow (a wrong try, then the right 4
digits), a message with an ID number, a phone and an e-mail, a handoff on Telegram (an agent replies
through the staff desk, the citizen writes a phone and an e-mail while handed off) and a call-back
request with a phone. Then every table and column of the tracker store and of the application
database (found by introspection, not from a list), every file the running processes wrote under the
bot's folder (logs, databases byte by byte, WAL files included), is scanned for the clear values and
their usual re-formattings ("0912 345 678", "+84912345678", "84912345678", digits without their
leading zeros). The sealed originals are Fernet ciphertext: the scan reads them like any other text,
so clear text hidden in one would be found, and one of them is opened to show it holds the original.
"""

from __future__ import annotations

import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import MetaData, Table, create_engine, inspect, select, text
from sqlalchemy.engine import Engine

from bot.channels.store import ChannelStore
from bot.helpdesk.handoff import HandoffDesk
from bot.helpdesk.service import StaffDesk
from bot.privacy import unseal
from bot.rasa_client import RasaClient
from bot.settings import overridden
from tests.browser import wait_for
from tests.e2e.test_handoff_channels import TelegramCitizen
from tests.fakes import RASA_TOKEN, RunningBot, holds_digits, joined

pytestmark = pytest.mark.slow

# Not a dossier other end-to-end tests use: the overdue one (README's table).
CODE = "000.00.00.H99-261015-0003"
LAST4 = "1357"
WRONG4 = "8642"
CCCD = "001099012345"
PHONE = "0912345678"
EMAIL = "nguyen.van.a@gmail.com"
HANDOFF_PHONE = "0987654321"
HANDOFF_EMAIL = "tran.thi.b@yahoo.com.vn"
CALLBACK_PHONE = "0978123456"
AGENT = "agent-pii"



@dataclass(frozen=True)
class Secret:
    """A clear value the scan looks for: ``digits`` inside any run of digits (separators dropped), or
    ``words`` as text (case-insensitive), or ``token`` as a number of its own (only where ``scope`` says)."""

    label: str
    digits: str = ""
    words: tuple[str, ...] = ()
    token: str = ""

    def found_in(self, value: str, runs: list[str]) -> bool:
        if self.digits and any(self.digits in run for run in runs):
            return True
        if self.words:
            folded = value.casefold()
            if any(w.casefold() in folded for w in self.words):
                return True
        return bool(self.token) and holds_digits(value, self.token)


def _phone(label: str, number: str) -> Secret:
    # The 9 digits after the trunk 0: found in 0912345678, +84 912 345 678, 84912345678, 091.234.5678 ...
    return Secret(label, digits=number[1:])


def _email(label: str, address: str) -> Secret:
    # The whole address, and its local part alone (an address cut or re-encoded around the "@").
    return Secret(label, words=(address, address.partition("@")[0]))


EVERYWHERE = (
    Secret("CCCD", digits=CCCD.lstrip("0")),  # also a number that lost its leading zeros
    _phone("phone", PHONE),
    _email("e-mail", EMAIL),
    _phone("phone written while handed off", HANDOFF_PHONE),
    _email("e-mail written while handed off", HANDOFF_EMAIL),
    _phone("call-back phone", CALLBACK_PHONE),
)
# "1357" alone would match innocent numbers anywhere: the 4 digits are looked for as a number of
# their own in what belongs to the dossier conversation (its rows), and in the log files.
DIGITS = (Secret("the 4 verification digits", token=LAST4), Secret("the wrong 4 digits", token=WRONG4))

_RUN = re.compile(r"\d(?:[\s.\-()+/]{0,2}\d)*")


def digit_runs(value: str) -> list[str]:
    """Every run of digits in ``value`` with the separators people type dropped, in ASCII digits."""
    return ["".join(str(unicodedata.digit(ch)) for ch in m.group() if ch.isdigit()) for m in _RUN.finditer(value)]


def findings_in(value: str, secrets: tuple[Secret, ...], where: str) -> list[str]:
    runs = digit_runs(value)
    return [f"{s.label} in {where}" for s in secrets if s.found_in(value, runs)]


def _as_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


@dataclass
class Flows:
    """What the conversations were and what the bot said."""

    bot: RunningBot
    dossier_sender: str
    pii_sender: str
    handoff_sender: str
    callback_sender: str
    asked: str
    wrong: str
    status: str
    pii_reply: str
    callback_reply: str
    handoff_texts: list[str]
    sent_by_citizens: dict[str, list[str]]


def _rest(bot: RunningBot, client: str) -> Callable[[str, str], list[dict[str, Any]]]:
    """``say(sender, text)`` over the REST channel from the client address ``client`` (its own lockout)."""

    def say(sender: str, message: str) -> list[dict[str, Any]]:
        resp = requests.post(f"{bot.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                             headers={"X-Forwarded-For": client}, timeout=60)  # fmt: skip
        resp.raise_for_status()
        return resp.json()

    return say


def _citizen_turns(engine: Engine, sender_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM conv_turns WHERE sender_id = :s AND author = 'citizen'"),
                                {"s": sender_id}).scalar_one())  # fmt: skip


@pytest.fixture(scope="module")
def flows(running_bot_parts: RunningBot) -> Iterator[Flows]:
    """Run every flow once for the module's tests (unique conversation ids: the bot is shared)."""
    bot = running_bot_parts
    tag = uuid.uuid4().hex[:8]
    say = _rest(bot, f"198.51.100.{int(tag, 16) % 200 + 20}")
    sent: dict[str, list[str]] = {}

    def said(sender: str, message: str) -> list[dict[str, Any]]:
        sent.setdefault(f"rest:{sender}", []).append(message)
        return say(sender, message)

    # (a) The dossier flow: ask, give the code, a wrong try, the right 4 digits.
    dossier = f"pii-dossier-{tag}"
    said(dossier, "tôi muốn tra cứu hồ sơ")
    asked = joined(said(dossier, CODE))
    wrong = joined(said(dossier, WRONG4))
    status = joined(said(dossier, LAST4))
    # (b) An ID number, a phone and an e-mail in one message.
    pii = f"pii-message-{tag}"
    # A question the NLU reads as a question (1.0 here): a bare "my CCCD is …, my phone …" may be read as
    # the dossier's 4 digits, and then every digit is hidden and no original is sealed (that path is (a)).
    pii_reply = joined(said(pii, f"đăng ký tạm trú cần giấy tờ gì? cccd {CCCD}, sđt {PHONE}, email {EMAIL}"))
    # (d) A call-back request with a phone, written the international way.
    callback = f"pii-callback-{tag}"
    said(callback, "/request_callback")
    callback_reply = joined(said(callback, "số của tôi là +84 978 123 456 ạ"))

    # (c) A handoff on Telegram: the agent replies, the citizen writes a phone and an e-mail meanwhile.
    engine = create_engine(bot.database_url, future=True)
    staff = StaffDesk(rasa=RasaClient(bot.rasa_url, RASA_TOKEN), engine=engine,
                      last_message_at=ChannelStore(engine).last_user_message)  # fmt: skip
    citizen = TelegramCitizen(bot)

    def tg_say(message: str) -> None:
        sent.setdefault(citizen.sender_id, []).append(message)
        citizen.say(message)

    staff.seen(AGENT)
    tg_say("cho tôi gặp cán bộ")
    wait_for(lambda: any("hàng chờ" in t for t in citizen.sent()), 60, "the queue position")
    handoff = wait_for(lambda: HandoffDesk(engine).current(citizen.sender_id), 30, "the handoff")
    staff.claim(handoff.id, AGENT)
    wait_for(lambda: any("đã tiếp nhận" in t for t in citizen.sent()), 30, "'a person has joined'")
    assert staff.reply(handoff.id, AGENT, "Chào anh, anh cho em xin số điện thoại và email để liên hệ ạ.").sent
    tg_say(f"số của tôi là {HANDOFF_PHONE[:4]} {HANDOFF_PHONE[4:7]} {HANDOFF_PHONE[7:]}, email {HANDOFF_EMAIL}")
    # The agent repeats the number: a staff message is stored like any bot message.
    assert staff.reply(handoff.id, AGENT, f"Em đã ghi số {HANDOFF_PHONE} và email {HANDOFF_EMAIL} ạ.").sent
    wait_for(lambda: any("Em đã ghi số" in t for t in citizen.sent()), 30, "the staff reply")
    staff.seen(AGENT)
    staff.close(handoff.id, AGENT, "answered")
    wait_for(lambda: any("kết thúc" in t for t in citizen.sent()), 30, "the closing message")

    # The record of conversations is written by the event broker's worker thread: wait for it.
    for sender_id, messages in sent.items():
        count = len(messages)
        wait_for(lambda s=sender_id, n=count: _citizen_turns(engine, s) >= n, 30, f"the record of {sender_id}")
    time.sleep(1)  # the logs of the last turns
    try:
        yield Flows(
            bot, f"rest:{dossier}", f"rest:{pii}", citizen.sender_id, f"rest:{callback}", asked, wrong, status,
            pii_reply, callback_reply, citizen.sent(), sent,
        )  # fmt: skip
    finally:
        engine.dispose()


# -- the dialogue still works ------------------------------------------------------------------


def _tracker(flows: Flows, sender_id: str) -> dict[str, Any]:
    return RasaClient(flows.bot.rasa_url, RASA_TOKEN).get_tracker(sender_id, include_events="ALL")


def _parse(flows: Flows, message: str) -> dict[str, Any]:
    resp = requests.post(f"{flows.bot.rasa_url}/model/parse", params={"token": RASA_TOKEN},
                         json={"text": message}, timeout=30)  # fmt: skip
    resp.raise_for_status()
    return resp.json()


def test_the_dialogue_still_works(flows: Flows) -> None:
    assert "4 chữ số cuối" in flows.asked
    assert "chưa khớp" in flows.wrong
    assert "Đang xử lý" in flows.status and "quá hạn" in flows.status, flows.status
    assert "091*****78" not in flows.pii_reply and PHONE not in flows.pii_reply
    assert "ghi nhận số" in flows.callback_reply and "097*****56" in flows.callback_reply, flows.callback_reply
    assert any("Em đã ghi số" in t for t in flows.handoff_texts)  # the citizen got the agent's words as typed

    slots = _tracker(flows, flows.dossier_sender)["slots"]
    assert slots["dossier_code"] == CODE
    assert slots["phone_last4"] in ("received", None)
    assert _tracker(flows, flows.callback_sender)["slots"]["callback_phone"] in ("received", None)


def test_stored_intents_and_entities_are_the_nlus(flows: Flows) -> None:
    """Masking changed the texts, never what the dialogue runs on: each stored message's intent and
    entity names are what the NLU gives for the message as typed."""
    for sender_id in (flows.dossier_sender, flows.pii_sender, flows.callback_sender):
        stored = [e for e in _tracker(flows, sender_id)["events"] if e["event"] == "user"]
        typed = flows.sent_by_citizens[sender_id]
        assert len(stored) == len(typed), (sender_id, [e["text"] for e in stored])
        for event, message in zip(stored, typed, strict=True):
            nlu = _parse(flows, message)
            assert event["parse_data"]["intent"]["name"] == nlu["intent"]["name"], (message, event["text"])
            names = sorted(e["entity"] for e in event["parse_data"]["entities"])
            if sender_id != flows.dossier_sender:  # there an entity holding the digits is dropped on purpose
                assert names == sorted(e["entity"] for e in nlu["entities"]), (message, event["text"])
            codes = [e["value"] for e in event["parse_data"]["entities"] if e["entity"] == "dossier_code"]
            assert all(c == CODE for c in codes), codes


# -- the scan ------------------------------------------------------------------------------------


@dataclass
class Scan:
    """What a database scan found (``where`` strings), what it found where it is allowed, what it read."""

    findings: list[str]
    allowed: list[str]
    rows: dict[str, int]


def _scan_database(url: str, name: str, scoped_to: tuple[str, ...], allowed: dict[tuple[str, str], set[str]]) -> Scan:
    """Every table and column of the database at ``url``: the clear values anywhere, and the 4 digits in
    the rows that mention one of ``scoped_to`` (the dossier conversation, the dossier's code: its lookups,
    attempts and audit). Findings name table, column and row."""
    engine = create_engine(url, future=True)
    scan = Scan([], [], {})
    try:
        meta = MetaData()
        tables = inspect(engine).get_table_names()
        with engine.connect() as conn:
            for table_name in tables:
                table = Table(table_name, meta, autoload_with=engine)
                keys = [c.name for c in table.primary_key.columns]
                query = select(table)
                if not keys and conn.dialect.name == "sqlite":
                    query = select(text("rowid"), table)
                scan.rows[table_name] = 0
                for row in conn.execute(query).mappings():
                    scan.rows[table_name] += 1
                    values = {k: _as_text(v) for k, v in row.items()}
                    ident = ",".join(f"{k}={values[k]}" for k in keys) or f"rowid={values.get('rowid')}"
                    scoped = any(marker in v for marker in scoped_to for v in values.values())
                    secrets = EVERYWHERE + DIGITS if scoped else EVERYWHERE
                    for column, value in values.items():
                        for finding in findings_in(value, secrets, f"{name} {table_name}.{column} row {ident}"):
                            label = finding.split(" in ", 1)[0]
                            ok = label in allowed.get((table_name, column), set())
                            (scan.allowed if ok else scan.findings).append(finding)
    finally:
        engine.dispose()
    return scan


def test_tracker_store_holds_no_clear_value(flows: Flows) -> None:
    scan = _scan_database(f"sqlite:///{flows.bot.var_dir / 'tracker.db'}", "tracker store", (flows.dossier_sender,), {})
    assert not scan.findings, "clear personal data in the tracker store:\n" + "\n".join(scan.findings)
    assert scan.rows.get("events", 0) > 50, scan.rows  # it did read the conversations


def test_application_database_holds_no_clear_value(flows: Flows) -> None:
    """The record of conversations (``conv_*``, fed by the event broker), the help desk, the dossier
    audit, the console's tables: every table there is."""
    scan = _scan_database(flows.bot.database_url, "application database", (flows.dossier_sender, CODE), {})
    assert not scan.findings, "clear personal data in the application database:\n" + "\n".join(scan.findings)
    for table in ("conv_turns", "conv_conversations", "helpdesk_handoffs", "helpdesk_callbacks"):
        assert scan.rows.get(table, 0) > 0, (table, scan.rows)
    engine = create_engine(flows.bot.database_url, future=True)
    try:
        for sender_id in (flows.dossier_sender, flows.pii_sender, flows.handoff_sender, flows.callback_sender):
            assert _citizen_turns(engine, sender_id) > 0, sender_id
        # The call-back number, which staff must dial, is there, but sealed: it opens to the number given.
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT phone FROM helpdesk_callbacks WHERE sender_id = :s"),
                                  {"s": flows.callback_sender}).scalar_one()  # fmt: skip
    finally:
        engine.dispose()
    assert CALLBACK_PHONE not in stored
    with overridden(BOT_VAR_DIR=str(flows.bot.var_dir)):
        assert unseal(stored) == CALLBACK_PHONE


def test_the_scan_finds_every_re_formatting() -> None:
    """The detector itself: each way a value may be written is found, masked forms are not."""
    for written in (PHONE, "0912 345 678", "0912.345.678", "091-234-5678", "+84912345678", "84 912 345 678",
                    "(+84) 912345678", "０９１２３４５６７８", "sđt:0912345678."):  # fmt: skip
        assert findings_in(written, EVERYWHERE, "x") == ["phone in x"], written
    for written in (CCCD, "001 099 012 345", "001.099.012.345", "1099012345", "cccd001099012345"):
        assert findings_in(written, EVERYWHERE, "x") == ["CCCD in x"], written
    assert findings_in("NGUYEN.VAN.A@GMAIL.COM", EVERYWHERE, "x") == ["e-mail in x"]
    assert findings_in('{"text": "1357"}', DIGITS, "x") == ["the 4 verification digits in x"]
    for masked in ("091*****78", "+8491*****78", "*********345", "n***@gmail.com", "••••", "1796634655.1357",
                   "id 113579", "gAAAAABrFnghh00Ug_37kPyZ"):  # fmt: skip
        assert findings_in(masked, EVERYWHERE + DIGITS, "x") == [], masked


def test_sealed_original_is_ciphertext_of_the_message(flows: Flows) -> None:
    """The sealed original (the console's audited "unmask") opens to the message as typed, and was
    scanned above like any other text, so it does not hold the clear values in the clear."""
    engine = create_engine(flows.bot.database_url, future=True)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT text, sealed FROM conv_turns WHERE sender_id = :s AND author = 'citizen'"),
                               {"s": flows.pii_sender}).one()  # fmt: skip
    finally:
        engine.dispose()
    masked, sealed = row
    assert CCCD not in masked and PHONE not in masked and EMAIL not in masked
    assert "091*****78" in masked and "n***@gmail.com" in masked
    assert sealed and CCCD not in sealed and PHONE[1:] not in sealed
    with overridden(BOT_VAR_DIR=str(flows.bot.var_dir)):
        assert unseal(sealed) == flows.sent_by_citizens[flows.pii_sender][0]


def _files(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*")) if p.is_file())


def test_no_file_the_bot_wrote_holds_a_clear_value(flows: Flows) -> None:
    """Logs of every process, the databases byte by byte (free pages and WAL files too), and anything
    else under the bot's folder. The 4 digits are looked for in the logs (as a number of their own)."""
    files = list(_files(flows.bot.var_dir))
    logs = [p for p in files if p.suffix == ".log"]
    assert {p.name for p in logs} >= {"rasa.log", "actions.log", "console.log", "watcher.log"}, files
    findings: list[str] = []
    for path in files:
        raw = path.read_bytes().decode("utf-8", "replace")
        name = str(path.relative_to(flows.bot.var_dir))
        if path.suffix == ".log":
            for number, line in enumerate(raw.splitlines(), 1):
                findings += findings_in(line, EVERYWHERE + DIGITS, f"{name} line {number}")
            continue
        findings += findings_in(raw, EVERYWHERE, name)
    assert not findings, "clear personal data in the bot's files:\n" + "\n".join(findings)
