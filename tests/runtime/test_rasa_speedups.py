"""The speed-ups of bot.runtime.rasa_speedups give exactly Rasa's own results.

Generated conversations (Hypothesis) mix every kind of event that rewrites history (restarts, session
starts, reverted utterances and actions, loops that undo their turns); after each event the
incremental dialogue states of a long-lived tracker must equal Rasa's, computed from scratch on a
fresh tracker, for each way the policies ask for them; and a fast copy must equal Rasa's replayed copy.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot.runtime import rasa_speedups
from bot.settings import PROJECT_ROOT

rasa_speedups.apply_all()
ORIGINAL_STATES = Domain.states_for_tracker_history._original  # type: ignore[attr-defined]
ORIGINAL_COPY = DialogueStateTracker.copy._original  # type: ignore[attr-defined]
RULE_ONLY = {"rule_only_slots": ["requested_slot"], "rule_only_loops": ["callback_form"]}


@lru_cache(maxsize=1)
def _domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


def _event_strategy() -> st.SearchStrategy[Any]:
    domain = _domain()
    intents = st.sampled_from(sorted(domain.intents))
    actions = st.sampled_from(["action_listen", "dossier_form", "callback_form", "utter_greet",
                               "action_answer_procedure", "action_dossier_status"])  # fmt: skip
    slots = st.sampled_from(["procedure_code", "dossier_code", "requested_slot", "phone_last4"])
    return st.one_of(
        st.builds(lambda i, t: UserUttered(t, {"name": i, "confidence": 0.9}), intents, st.sampled_from(["a", "b"])),
        st.builds(lambda a, h: ActionExecuted(a, hide_rule_turn=h), actions, st.booleans()),
        st.builds(lambda k, v: SlotSet(k, v), slots, st.sampled_from([None, "1.004194", "x"])),
        st.builds(ActiveLoop, st.sampled_from([None, "dossier_form", "callback_form"])),
        st.just(BotUttered("Dạ")),
        st.sampled_from([UserUtteranceReverted(), ActionReverted(), Restarted(), SessionStarted()]),
    )


def _fresh(events: list[Any]) -> DialogueStateTracker:
    tracker = DialogueStateTracker("fresh", _domain().slots)
    for event in events:
        tracker.update(event)
    return tracker


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_event_strategy(), min_size=1, max_size=40))
def test_incremental_states_equal_rasas_after_every_event(events: list[Any]) -> None:
    domain = _domain()
    live = DialogueStateTracker("live", domain.slots)
    for n, event in enumerate(events, start=1):
        live.update(event)
        reference = _fresh(events[:n])
        for omit in (False, True):
            for ignore in (False, True):
                rule_only = dict(RULE_ONLY) if ignore else None  # a new dict each time, as RulePolicy does
                got = domain.states_for_tracker_history(live, omit, ignore, rule_only)
                want = ORIGINAL_STATES(domain, reference, omit, ignore, rule_only)
                assert got == want, (n, omit, ignore)
                if got and "user" in got[-1]:
                    got[-1]["user"].pop("text", None)  # a featurizer edits the last state: no effect later
        assert live.applied_events() == reference.applied_events()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_event_strategy(), min_size=0, max_size=30), st.lists(_event_strategy(), max_size=5))
def test_a_fast_copy_is_rasas_copy(events: list[Any], later: list[Any]) -> None:
    tracker = _fresh(events)
    tracker.model_id = "m1"
    fast, slow = tracker.copy(), ORIGINAL_COPY(tracker)
    assert fast.current_state(EventVerbosity.ALL) == slow.current_state(EventVerbosity.ALL)
    assert fast.model_id is None and slow.model_id is None
    for event in later:  # the copy and the original go their own ways
        fast.update(event)
        slow.update(event)
    assert fast.current_state(EventVerbosity.ALL) == slow.current_state(EventVerbosity.ALL)
    assert len(tracker.events) == len(events), "the original is untouched"
    assert tracker.current_slot_values() == _fresh(events).current_slot_values()


def test_the_action_server_gets_the_state_and_the_last_five_messages_events() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    domain = _domain()
    tracker = DialogueStateTracker("long", domain.slots)
    for n in range(40):
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(f"câu {n}", {"name": "ask_fee", "confidence": 0.9}, input_channel="rest"))
        tracker.update(SlotSet("procedure_code", f"1.00{n}"))
    action = RemoteAction("action_answer_procedure", EndpointConfig("http://127.0.0.1:1/webhook"))
    body = action._action_call_format(tracker, domain)
    full = tracker.current_state(EventVerbosity.ALL)
    sent = body["tracker"]
    assert {k: v for k, v in sent.items() if k != "events"} == {k: v for k, v in full.items() if k != "events"}
    texts = [e["text"] for e in sent["events"] if e["event"] == "user"]
    assert texts == [f"câu {n}" for n in range(35, 40)]
    assert sent["events"] == full["events"][-len(sent["events"]) :]
    assert sent["events"][-1] == {**full["events"][-1]}, "the trailing slot events, as form validation reads them"
