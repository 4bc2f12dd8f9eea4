"""Answer-level evaluation (``make answer-eval``): realistic citizens' questions through the real bot.

Each question in ``tests/eval/realistic_questions.yml`` goes through what a conversation goes
through: the trained NLU model (intent and entities), the dialogue policies of the same model
(which action comes next), and the custom actions themselves, run by rasa-sdk's executor the way
the action server runs them (``actions`` is loaded by name, as :mod:`bot.runtime.action_server`
does), against a scratch catalogue database holding the curated catalogue and, when
``../shared/portal-snapshot`` is present, the portal import. Two-turn follow-ups keep the
tracker (slots such as ``procedure_code``) between turns.

Scores per question:

* **procedure**: ``answer`` — the reply cites a mã TTHC in ``expect.codes``; ``choices`` — a
  button (or a cited answer) names one of them; ``unknown`` — no code cited or offered and the
  portal (dichvucong.gov.vn) pointed to; ``handoff`` — the conversation goes to a person.
* **facts**: every ``expect.facts`` string appears in the reply (case and spacing ignored).
* **follow-ups** are scored on their last turn.

The table is printed and ``reports/answer_eval.json`` lists every miss; :func:`gate` fails the run
below the bars of :data:`BARS` (``make eval`` runs it beside the NLU evaluation).
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot.settings import PROJECT_ROOT

EVAL_SET = PROJECT_ROOT / "tests" / "eval" / "realistic_questions.yml"
REPORTS_DIR = PROJECT_ROOT / "reports"
REPORT = REPORTS_DIR / "answer_eval.json"
DEFAULT_SNAPSHOT = PROJECT_ROOT.parent / "shared" / "portal-snapshot"  # or --snapshot
TAGS = ("no_diacritics", "teencode", "imported", "conditions", "english", "follow_up", "multi_ask")
KINDS = ("answer", "choices", "unknown", "handoff")
# Rows of the printed table: (label, tag or None for every question).
ROWS = (
    ("overall", None),
    ("no_diacritics", "no_diacritics"),
    ("teencode", "teencode"),
    ("imported", "imported"),
    ("conditions", "conditions"),
    ("english", "english"),
    ("follow_up", "follow_up"),
    ("multi_ask", "multi_ask"),
)
PROCEDURE_CODE = re.compile(r"(?<![\d.])\d\.\d{6}(?![\d.])")
PORTAL = "dichvucong.gov.vn"
MAX_ACTIONS_PER_TURN = 5


# ---------------------------------------------------------------- the question set


@dataclass(frozen=True)
class Item:
    """One question (or conversation) with what an honest, correct answer must contain."""

    id: str
    turns: tuple[str, ...]
    tags: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    kind: str = "answer"


def parse_items(raw: Any) -> list[Item]:
    """Items from the YAML document (a list, or a mapping with ``questions``); ValueError on a bad shape."""
    if isinstance(raw, dict):
        raw = raw.get("questions")
    if not isinstance(raw, list):
        raise ValueError("the question set must be a list of items (or a mapping with 'questions')")
    items: list[Item] = []
    seen: set[str] = set()
    for n, entry in enumerate(raw):
        where = f"item {n}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: not a mapping")
        ident = str(entry.get("id") or "").strip()
        if not ident:
            raise ValueError(f"{where}: no id")
        where = f"item {ident!r}"
        if ident in seen:
            raise ValueError(f"{where}: duplicate id")
        seen.add(ident)
        if ("text" in entry) == ("turns" in entry):
            raise ValueError(f"{where}: give exactly one of 'text' and 'turns'")
        turns = [entry["text"]] if "text" in entry else entry["turns"]
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
            raise ValueError(f"{where}: 'text' must be a non-empty string, 'turns' a list of them")
        tags = entry.get("tags") or []
        unknown_tags = [t for t in tags if t not in TAGS]
        if unknown_tags:
            raise ValueError(f"{where}: unknown tags {unknown_tags}")
        if ("follow_up" in tags) != (len(turns) > 1):
            raise ValueError(f"{where}: 'follow_up' goes with two or more turns, and only with them")
        expect = entry.get("expect") or {}
        if not isinstance(expect, dict):
            raise ValueError(f"{where}: 'expect' must be a mapping")
        kind = str(expect.get("kind") or "answer")
        if kind not in KINDS:
            raise ValueError(f"{where}: unknown kind {kind!r}")
        codes = expect.get("codes") or []
        codes = [codes] if isinstance(codes, str) else codes
        if not all(isinstance(c, str) and PROCEDURE_CODE.fullmatch(c) for c in codes):
            raise ValueError(f"{where}: every expected code looks like 1.004222")
        if kind in ("answer", "choices") and not codes:
            raise ValueError(f"{where}: kind {kind} needs expect.codes")
        if kind == "unknown" and codes:
            raise ValueError(f"{where}: kind unknown expects no code")
        facts = expect.get("facts") or []
        if not all(isinstance(f, str) and f.strip() for f in facts):
            raise ValueError(f"{where}: facts must be non-empty strings")
        items.append(Item(ident, tuple(turns), tuple(tags), tuple(codes), tuple(facts), kind))
    return items


def load_items(path: Path = EVAL_SET) -> list[Item]:
    """Read and check the question set."""
    return parse_items(yaml.safe_load(path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- what the bot did


@dataclass
class Turn:
    """One user message and everything the bot did with it."""

    text: str
    intent: str = ""
    confidence: float = 0.0
    entities: list[dict[str, Any]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    buttons: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)

    @property
    def reply(self) -> str:
        return "\n".join(self.texts)


class Conversation(Protocol):
    async def say(self, text: str) -> Turn: ...


class Bot(Protocol):
    def conversation(self, sender_id: str) -> Conversation: ...


# ---------------------------------------------------------------- scoring


def _norm(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def cited_codes(turn: Turn) -> list[str]:
    """Procedure codes the reply's text names (the citation line, or a step that names the code)."""
    return list(dict.fromkeys(PROCEDURE_CODE.findall(turn.reply)))


def offered_codes(turn: Turn) -> list[str]:
    """Procedure codes carried by the reply's buttons (their payloads)."""
    found = [c for b in turn.buttons for c in PROCEDURE_CODE.findall(str(b.get("payload") or ""))]
    return list(dict.fromkeys(found))


def is_handoff(turn: Turn) -> bool:
    """The conversation goes to a person: the handoff action ran, or the only way offered is a person."""
    if "action_request_human" in turn.actions:
        return True
    payloads = [str(b.get("payload") or "") for b in turn.buttons]
    return bool(payloads) and not cited_codes(turn) and all(p.startswith("/request_human") for p in payloads)


@dataclass
class Score:
    """The verdict on one item."""

    id: str
    tags: tuple[str, ...]
    kind: str
    procedure_ok: bool
    facts_ok: bool | None  # None: the item expects no facts
    missing_facts: list[str]
    cited: list[str]
    offered: list[str]
    skipped: str | None = None


def score(item: Item, turns: Sequence[Turn]) -> Score:
    """Score the bot's turns for ``item`` (the last turn decides)."""
    last = turns[-1]
    cited, offered = cited_codes(last), offered_codes(last)
    expected = set(item.codes)
    if item.kind == "answer":
        ok = bool(expected & set(cited))
    elif item.kind == "choices":
        ok = bool(expected & (set(offered) | set(cited)))
    elif item.kind == "unknown":
        ok = not cited and not offered and PORTAL in last.reply
    else:  # handoff
        ok = is_handoff(last)
    reply = _norm(last.reply)
    missing = [f for f in item.facts if _norm(f) not in reply]
    return Score(item.id, item.tags, item.kind, ok, (not missing) if item.facts else None, missing, cited, offered)


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def summarise(scores: Sequence[Score]) -> dict[str, dict[str, Any]]:
    """n and accuracy (procedure, facts) per row of :data:`ROWS`; skipped items are left out."""
    out: dict[str, dict[str, Any]] = {}
    for label, tag in ROWS:
        chosen = [s for s in scores if s.skipped is None and (tag is None or tag in s.tags)]
        with_facts = [s for s in chosen if s.facts_ok is not None]
        out[label] = {
            "n": len(chosen),
            "procedure": _rate(sum(s.procedure_ok for s in chosen), len(chosen)),
            "facts_n": len(with_facts),
            "facts": _rate(sum(bool(s.facts_ok) for s in with_facts), len(with_facts)),
        }
    return out


def _excerpt(value: str, limit: int = 400) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _turn_record(turn: Turn) -> dict[str, Any]:
    return {
        "intent": turn.intent,
        "confidence": round(turn.confidence, 3),
        "entities": [{"entity": e.get("entity"), "value": e.get("value")} for e in turn.entities],
        "actions": turn.actions,
        "slots": {k: v for k, v in turn.slots.items() if v not in (None, 0.0)},
    }


def miss_record(item: Item, result: Score, turns: Sequence[Turn]) -> dict[str, Any]:
    """What the report says about one miss: the question, what was expected and what the bot did."""
    return {
        "id": item.id,
        "tags": list(item.tags),
        "turns": list(item.turns),
        "expected": {"kind": item.kind, "codes": list(item.codes), "facts": list(item.facts)},
        "got": {
            "procedure_ok": result.procedure_ok,
            "missing_facts": result.missing_facts,
            "cited": result.cited,
            "offered": result.offered,
            "per_turn": [_turn_record(t) for t in turns],
            "reply": _excerpt(turns[-1].reply),
        },
    }


# ---------------------------------------------------------------- running


async def run_items(
    bot: Bot, items: Iterable[Item], *, skip: Callable[[Item], str | None] = lambda item: None
) -> tuple[list[Score], list[dict[str, Any]]]:
    """Run every item through ``bot`` (one fresh conversation each); the scores and the misses."""
    scores: list[Score] = []
    misses: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        reason = skip(item)
        if reason:
            scores.append(Score(item.id, item.tags, item.kind, False, None, [], [], [], skipped=reason))
            continue
        conversation = bot.conversation(f"answer-eval-{n}")
        turns = [await conversation.say(text) for text in item.turns]
        result = score(item, turns)
        scores.append(result)
        if not result.procedure_ok or result.facts_ok is False:
            misses.append(miss_record(item, result, turns))
    return scores, misses


ActionRunner = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any] | None]]


def sdk_action_runner(package: str = "actions") -> tuple[ActionRunner, frozenset[str]]:
    """Run custom actions as the action server does (rasa-sdk's executor over ``package``, loaded by name)."""
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package(package)

    async def run(name: str, tracker: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any] | None:
        return await executor.run({"next_action": name, "sender_id": tracker.get("sender_id"),
                                   "tracker": tracker, "domain": domain, "version": "eval"})  # fmt: skip

    return run, frozenset(executor.actions)


def _collect(turn: Turn, response: dict[str, Any] | None, domain: dict[str, Any]) -> list[dict[str, Any]]:
    """Record an action's messages on ``turn`` (domain responses by name filled in from ``domain``); its events."""
    if not response:
        return []
    for message in response.get("responses") or []:
        if message.get("text"):
            turn.texts.append(str(message["text"]))
        elif message.get("response"):  # a domain response by name, which Rasa fills in
            turn.texts.append(_response_text(domain, str(message["response"])))
        turn.buttons += [b for b in message.get("buttons") or [] if isinstance(b, dict)]
    return list(response.get("events") or [])


def _response_text(domain: dict[str, Any], name: str) -> str:
    variants = (domain.get("responses") or {}).get(name) or []
    return str(variants[0].get("text") or "") if variants else ""


class RuleConversation:
    """A conversation routed by ``data/rules.yml`` (intent → action) with a given NLU: for tests, no model needed."""

    def __init__(self, bot: RuleBot, sender_id: str) -> None:
        self.bot = bot
        self.sender_id = sender_id
        self.slots: dict[str, Any] = {"fallback_count": 0.0}

    async def say(self, text: str) -> Turn:
        parse = await self.bot.parse(text)
        intent = parse.get("intent") or {}
        turn = Turn(text, str(intent.get("name") or ""), float(intent.get("confidence") or 0.0),
                    list(parse.get("entities") or []))  # fmt: skip
        action = self.bot.rules.get(turn.intent)
        if action:
            turn.actions.append(action)
            if action in self.bot.custom_actions:
                tracker = {"sender_id": self.sender_id, "slots": dict(self.slots), "latest_message": parse,
                           "events": [], "paused": False, "followup_action": None, "active_loop": {},
                           "latest_action_name": "action_listen"}  # fmt: skip
                response = await self.bot.run_action(action, tracker, self.bot.domain)
                for event in _collect(turn, response, self.bot.domain):
                    if event.get("event") == "slot":
                        self.slots[event["name"]] = event.get("value")
            elif action.startswith("utter_"):
                turn.texts.append(_response_text(self.bot.domain, action))
        turn.slots = dict(self.slots)
        return turn


class RuleBot:
    """The dialogue of ``data/rules.yml`` (one intent → one action) over a given NLU and the real actions."""

    def __init__(self, parse: Callable[[str], Awaitable[dict[str, Any]]], domain: dict[str, Any] | None = None) -> None:
        self.parse = parse
        self.domain = domain if domain is not None else yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text("utf-8"))
        self.rules = rules_map()
        self.run_action, self.custom_actions = sdk_action_runner()

    def conversation(self, sender_id: str) -> RuleConversation:
        return RuleConversation(self, sender_id)


def rules_map(path: Path = PROJECT_ROOT / "data" / "rules.yml") -> dict[str, str]:
    """intent → action for every two-step rule (an intent, then one action)."""
    rules = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("rules") or []
    out: dict[str, str] = {}
    for rule in rules:
        steps = rule.get("steps") or []
        if len(steps) == 2 and "intent" in steps[0] and "action" in steps[1] and not rule.get("condition"):
            out.setdefault(steps[0]["intent"], steps[1]["action"])
    return out


class ModelConversation:
    """A conversation through the trained model: NLU, the dialogue policies, then the actions."""

    def __init__(self, bot: ModelBot, sender_id: str) -> None:
        from rasa.shared.core.events import ActionExecuted, SessionStarted
        from rasa.shared.core.trackers import DialogueStateTracker

        self.bot = bot
        domain = bot.agent.processor.domain
        self.tracker = DialogueStateTracker(sender_id, domain.slots)
        for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
            self.tracker.update(event, domain)

    async def say(self, text: str) -> Turn:
        from rasa.shared.core.events import ActionExecuted, Event, UserUttered
        from rasa.shared.core.trackers import EventVerbosity

        processor = self.bot.agent.processor
        domain = processor.domain
        parse = await self.bot.agent.parse_message(text)
        intent = parse.get("intent") or {}
        turn = Turn(text, str(intent.get("name") or ""), float(intent.get("confidence") or 0.0),
                    list(parse.get("entities") or []))  # fmt: skip
        self.tracker.update(UserUttered(text, intent, parse.get("entities") or [], parse), domain)
        for _ in range(MAX_ACTIONS_PER_TURN):
            prediction = processor._predict_next_with_tracker(self.tracker)
            action = domain.action_names_or_texts[prediction.max_confidence_index]
            if action == "action_listen":
                break  # logged below, as Rasa does before it waits for the next message
            turn.actions.append(action)
            executed = ActionExecuted(action, prediction.policy_name, prediction.max_confidence)
            if action in self.bot.custom_actions:
                state = self.tracker.current_state(EventVerbosity.AFTER_RESTART)
                response = await self.bot.run_action(action, state, self.bot.domain_dict)
                events = _collect(turn, response, self.bot.domain_dict)
                self.tracker.update(executed, domain)
                for event in events:
                    self.tracker.update(Event.from_parameters(event), domain)
            elif action.startswith("utter_"):
                turn.texts.append(_response_text(self.bot.domain_dict, action))
                self.tracker.update(executed, domain)
            else:  # a form or one of Rasa's own actions: it runs inside Rasa, not here
                break
        self.tracker.update(ActionExecuted("action_listen"), domain)
        turn.slots = {name: self.tracker.get_slot(name) for name in ("procedure_code", "offered_intent",
                                                                      "fallback_count")}  # fmt: skip
        return turn


class ModelBot:
    """The trained model (loaded once) and the actions package."""

    def __init__(self, model: Path) -> None:
        import logging

        from rasa.core.agent import Agent
        from rasa.utils.log_utils import configure_structlog

        logging.getLogger("rasa").setLevel(logging.WARNING)
        configure_structlog(logging.WARNING)
        self.agent = Agent.load(str(model))
        self.domain_dict = self.agent.processor.domain.as_dict()
        self.run_action, self.custom_actions = sdk_action_runner()

    def conversation(self, sender_id: str) -> ModelConversation:
        return ModelConversation(self, sender_id)


@contextmanager
def scratch_catalogue(snapshot: Path | None) -> Iterator[dict[str, Any]]:
    """A temporary database with the curated catalogue (and the portal import), used as ``DATABASE_URL``.

    The actions build their advisor over the configured database, as they do in production; this
    points that configuration at the scratch database for the duration and restores it afterwards.
    """
    from bot.catalog.importer import import_portal
    from bot.catalog.loader import load_curated
    from bot.db import engine_for, make_engine
    from bot.db.schema import ensure_schema
    from bot.settings import overridden

    info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="answer-eval-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'catalogue.db'}"
        engine = make_engine(url)
        ensure_schema(engine)
        info["curated"] = str(load_curated(engine=engine))
        if snapshot is not None:
            info["imported"] = str(import_portal(snapshot, engine, quiet=True))
        engine.dispose()
        engine_for.cache_clear()
        with overridden(DATABASE_URL=url):
            try:
                yield info
            finally:
                engine_for(url).dispose()
                engine_for.cache_clear()


def snapshot_or_none(path: Path | None = None) -> Path | None:
    """The portal snapshot directory when present (``../shared/portal-snapshot``), else None."""
    path = path or DEFAULT_SNAPSHOT
    return path if (path / "catalog.jsonl").is_file() else None


def build_report(items: Sequence[Item], scores: Sequence[Score], misses: list[dict[str, Any]],
                 **extra: Any) -> dict[str, Any]:  # fmt: skip
    skipped = [s for s in scores if s.skipped]
    return {
        **extra,
        "set": str(EVAL_SET.relative_to(PROJECT_ROOT)),
        "items": len(items),
        "skipped": [{"id": s.id, "reason": s.skipped} for s in skipped],
        "table": summarise(scores),
        "misses": misses,
        "scores": [asdict(s) for s in scores],
    }


def evaluate(model: Path, *, path: Path = EVAL_SET, snapshot: Path | None = None,
             ids: Sequence[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Run the question set through ``model`` and the actions; write and return the report."""
    started = time.perf_counter()
    items = load_items(path)
    if ids:
        wanted = set(ids)
        items = [i for i in items if i.id in wanted]
    snapshot = snapshot_or_none(snapshot)

    def skip(item: Item) -> str | None:
        absent = snapshot is None and "imported" in item.tags
        return "imported procedure: the portal snapshot is absent" if absent else None

    with scratch_catalogue(snapshot) as catalogue:
        bot = ModelBot(model)
        loaded = time.perf_counter()
        scores, misses = asyncio.run(run_items(bot, items, skip=skip))
    report = build_report(
        items, scores, misses, model=model.name, catalogue=catalogue,
        snapshot=str(snapshot) if snapshot else None,
        seconds={"setup": round(loaded - started, 1), "questions": round(time.perf_counter() - loaded, 1)},
    )  # fmt: skip
    REPORTS_DIR.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def format_table(table: dict[str, dict[str, Any]]) -> str:
    """The summary table as text."""

    def pct(value: float | None) -> str:
        return "   –  " if value is None else f"{value:6.1%}"

    lines = [f"{'subset':<14} {'n':>4}  {'procedure':>9}  {'facts n':>7}  {'facts':>6}"]
    for label, row in table.items():
        lines.append(f"{label:<14} {row['n']:>4}  {pct(row['procedure']):>9}  {row['facts_n']:>7}  {pct(row['facts'])}")
    return "\n".join(lines)


#: The bars CI holds the answers to (issue 10): (row of the table, measure, lowest passing share).
BARS: tuple[tuple[str, str, float], ...] = (
    ("overall", "procedure", 0.90),
    ("overall", "facts", 0.90),
    ("follow_up", "procedure", 0.90),
)


def gate(report: dict[str, Any]) -> list[str]:
    """One line per bar of :data:`BARS` the report falls below (a row with no items passes)."""
    failures = []
    for row, measure, bar in BARS:
        value = report["table"][row][measure]
        if value is not None and value < bar:
            failures.append(f"{row} {measure} {value:.1%} < {bar:.0%}")
    return failures


def print_report(report: dict[str, Any]) -> None:
    """Human-readable summary of :func:`evaluate`'s report."""
    print(f"Answer-level evaluation of {report.get('model')} on {report['set']} ({report['items']} items)")
    if report.get("snapshot") is None:
        print(f"  portal snapshot absent: {len(report['skipped'])} imported items skipped")
    print(format_table(report["table"]))
    print(f"  misses: {len(report['misses'])} (details in {REPORT.relative_to(PROJECT_ROOT)})")
    if report.get("seconds"):
        print(f"  time: setup {report['seconds']['setup']} s, questions {report['seconds']['questions']} s")
