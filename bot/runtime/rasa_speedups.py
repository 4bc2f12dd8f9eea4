"""Make a turn's cost independent of the conversation's length, with Rasa's results unchanged.

Rasa 3.6 walks the whole conversation several times per turn: every policy's prediction replays
every event of the session to compute the dialogue states (``Domain.states_for_tracker_history``,
through ``DialogueStateTracker.applied_events``), and every action runs on a copy of the tracker
that replays every event again (``DialogueStateTracker.copy``). Measured with py-spy on one
conversation of 300 turns, that was 27 % and 16 % of the Rasa server's time, and turn 100 took
3.3 times turn 2.

- :func:`incremental_dialogue_states`: a tracker remembers its applied events and, per kind of
  call, the dialogue states it computed and the replayed tracker they came from; the next call
  applies only the events added since. Anything that rewrites history (a restart, a session start,
  a reverted utterance or action, a loop that undoes its own turns, a new loop) recomputes from the
  start, as Rasa does.
- :func:`fast_tracker_copy`: ``copy()`` copies the tracker's state instead of replaying its events,
  which gives the same tracker (the state *is* the result of the events).
- :func:`send_recent_events_to_actions`: the action server gets the tracker's state (slots, latest
  message, active loop…) with the events of the last :data:`ACTION_EVENT_TURNS` citizen messages,
  not the whole conversation (its JSON was 20 % of Rasa's time at turn 300). Our actions read slots,
  the latest message and the latest input channel; rasa-sdk's form validation reads the slot events
  since the last message: all inside the window (``tests/runtime/test_rasa_speedups.py``).
- :func:`reuse_http_connections`: calls to the action server reuse keep-alive connections.

``tests/runtime/test_rasa_speedups.py`` checks both against Rasa's own code on generated
conversations (Hypothesis) and on the test stories.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

# Our attributes on a tracker object (never copied to another tracker).
_HISTORY = "_dvc_history"
_STATES = "_dvc_states"
#: Where a tracker keeps its remembered dialogue states (the tracker store drops them when redaction
#: changed a message they were computed from).
DIALOGUE_STATES_ATTR = _STATES
_OWN_PREFIX = "_dvc_"


@dataclass
class _History:
    """A tracker's applied events, valid while its event deque is what it was plus new events."""

    length: int
    last: Any
    applied: list[Any]
    loops: set[str]
    version: int


@dataclass
class _States:
    """Dialogue states of the applied events up to ``done`` (excluding the current, last state)."""

    domain: Any
    rule_only_data: Any
    version: int
    done: int
    replay: Any
    states: list[Any] = field(default_factory=list)
    last_ml_action: Any = None
    turn_was_hidden: bool = False


def _rewrites_history(event: Any, loops: set[str]) -> bool:
    """Whether applying ``event`` may remove or reorder events already applied (Rasa's applied_events)."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
    )

    if isinstance(event, (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted, ActiveLoop)):
        return True
    return isinstance(event, ActionExecuted) and event.action_name in loops


def incremental_dialogue_states() -> None:
    """Patch ``applied_events`` and ``states_for_tracker_history`` to work on the new events only."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, ActiveLoop
    from rasa.shared.core.trackers import DialogueStateTracker

    if getattr(Domain.states_for_tracker_history, "_incremental", False):
        return
    full_applied = DialogueStateTracker.applied_events

    def history(tracker: DialogueStateTracker) -> _History:
        events = tracker.events
        known: _History | None = tracker.__dict__.get(_HISTORY)
        length = len(events)
        last = events[-1] if length else None
        if known is not None and known.length == length and known.last is last:
            return known
        if known is not None and length > known.length and known.length and events[known.length - 1] is known.last:
            new = list(events)[known.length :]
            if not any(_rewrites_history(e, known.loops) for e in new):
                known.applied.extend(new)
                known.length, known.last = length, last
                return known
        version = known.version + 1 if known is not None else 0
        loops = {e.name for e in events if isinstance(e, ActiveLoop) and e.name}
        fresh = _History(length, last, full_applied(tracker), loops, version)
        tracker.__dict__[_HISTORY] = fresh
        return fresh

    def applied_events(self: DialogueStateTracker) -> list[Any]:
        return list(history(self).applied)

    def states_for_tracker_history(
        self: Domain,
        tracker: DialogueStateTracker,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[Any]:
        known = history(tracker)
        memos: dict[tuple[bool, bool], _States] = tracker.__dict__.setdefault(_STATES, {})
        key = (omit_unset_slots, ignore_rule_only_turns)
        memo = memos.get(key)
        if (
            memo is None
            or memo.domain is not self
            or memo.rule_only_data != rule_only_data  # RulePolicy builds a new dict for each call
            or memo.version != known.version
            or memo.done > len(known.applied)
        ):
            memo = _States(self, copy.deepcopy(rule_only_data), known.version, 0, tracker.init_copy())
            memos[key] = memo

        def step(tr: DialogueStateTracker, hide_rule_turn: bool, states: list[Any], m: _States) -> None:
            # Rasa's loop body of Domain.states_for_tracker_history, on one prior tracker.
            if ignore_rule_only_turns:
                if not m.turn_was_hidden:
                    m.last_ml_action = self._get_prev_action_sub_state(tr)
                if not tr.followup_action and tr.latest_action_name != tr.active_loop_name:
                    m.turn_was_hidden = hide_rule_turn
                if m.turn_was_hidden:
                    return
            state = self.get_active_state(tr, omit_unset_slots=omit_unset_slots)
            if ignore_rule_only_turns:
                self._remove_rule_only_features(state, rule_only_data)
                if states:
                    self._substitute_rule_only_user_input(state, states[-1])
                    if "user" in state:
                        # A copy: a caller may edit the last state's user part (the featurizer does).
                        state["user"] = dict(state["user"])
                if m.last_ml_action:
                    state["prev_action"] = m.last_ml_action
            states.append(self._clean_state(state))

        replay = memo.replay
        for event in known.applied[memo.done :]:
            if isinstance(event, ActionExecuted):
                step(replay, event.hide_rule_turn, memo.states, memo)
            replay.update(event)
        memo.done = len(known.applied)
        # The current state changes with the next event: computed on a scratch copy of the memo's flags.
        states = list(memo.states)
        final = _States(self, rule_only_data, memo.version, memo.done, replay, [], memo.last_ml_action,
                        memo.turn_was_hidden)  # fmt: skip
        step(replay, False, states, final)
        return states

    states_for_tracker_history._incremental = True  # type: ignore[attr-defined]
    states_for_tracker_history._original = Domain.states_for_tracker_history  # type: ignore[attr-defined]
    applied_events._original = full_applied  # type: ignore[attr-defined]
    DialogueStateTracker.applied_events = applied_events  # type: ignore[method-assign]
    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]


def fast_tracker_copy() -> None:
    """``DialogueStateTracker.copy()`` by copying the state, not by replaying every event."""
    from rasa.shared.core.trackers import DialogueStateTracker

    if getattr(DialogueStateTracker.copy, "_fast", False):
        return

    def fast_copy(self: DialogueStateTracker) -> DialogueStateTracker:
        new = DialogueStateTracker.__new__(DialogueStateTracker)
        new.__dict__.update({k: v for k, v in self.__dict__.items() if not k.startswith(_OWN_PREFIX)})
        new.events = copy.copy(self.events)
        new.slots = copy.copy(self.slots)  # AnySlotDict stays one
        for name, slot in self.slots.items():
            new.slots[name] = copy.copy(slot)
        new.active_loop = copy.copy(self.active_loop)
        new.latest_action = copy.copy(self.latest_action)
        # As Rasa's copy (init_copy, then the events): the processor's ids are not carried over.
        new.model_id = None
        new.assistant_id = None
        return new

    fast_copy._fast = True  # type: ignore[attr-defined]
    fast_copy._original = DialogueStateTracker.copy  # type: ignore[attr-defined]
    DialogueStateTracker.copy = fast_copy  # type: ignore[method-assign]


#: Citizen messages whose events (and everything after them) go to the action server.
ACTION_EVENT_TURNS = 5


def recent_events(tracker: Any, turns: int = ACTION_EVENT_TURNS) -> list[Any]:
    """The tracker's events from its ``turns``-th last user message on (all of them if it has fewer)."""
    from rasa.shared.core.events import UserUttered

    taken: list[Any] = []
    seen = 0
    for event in reversed(tracker.events):
        taken.append(event)
        if isinstance(event, UserUttered):
            seen += 1
            if seen >= turns:
                break
    taken.reverse()
    return taken


def send_recent_events_to_actions() -> None:
    """Patch ``RemoteAction._action_call_format`` to send the recent events only (module docstring)."""
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction._action_call_format, "_recent", False):
        return
    call_format = RemoteAction._action_call_format

    def _action_call_format(self: RemoteAction, tracker: Any, domain: Any) -> dict[str, Any]:
        body = call_format(self, _WithoutEvents(tracker), domain)
        body["tracker"]["events"] = [event.as_dict() for event in recent_events(tracker)]
        return body

    _action_call_format._recent = True  # type: ignore[attr-defined]
    RemoteAction._action_call_format = _action_call_format  # type: ignore[method-assign]


class _WithoutEvents:
    """A tracker whose ``current_state`` leaves out the events (everything else is the tracker's)."""

    def __init__(self, tracker: Any) -> None:
        self._tracker = tracker

    def current_state(self, event_verbosity: Any = None) -> dict[str, Any]:
        from rasa.shared.core.trackers import EventVerbosity

        return self._tracker.current_state(EventVerbosity.NONE)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracker, name)


class _KeptSession:
    """``async with`` on a kept aiohttp session: enters it, never closes it."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *exc: object) -> None:
        return None


def reuse_http_connections() -> None:
    """Rasa's endpoint calls (the action server's above all) reuse one HTTP session per endpoint.

    ``EndpointConfig.request`` opened a new aiohttp session, so a new TCP connection, for every call:
    three per turn to the action server. The kept session pools keep-alive connections; a connection
    the action server dropped (a restart) fails that call as before, and the next call opens a new one.
    One session per endpoint and event loop, with the endpoint's own headers, auth and timeout.
    """
    from rasa.utils.endpoints import EndpointConfig

    if getattr(EndpointConfig.session, "_kept", False):
        return
    make_session = EndpointConfig.session
    kept: dict[tuple[int, int], Any] = {}

    def session(self: EndpointConfig) -> Any:
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return make_session(self)
        key = (id(loop), id(self))
        held = kept.get(key)
        if held is None or held.closed or held._loop is not loop:
            held = kept[key] = make_session(self)
        return _KeptSession(held)

    session._kept = True  # type: ignore[attr-defined]
    EndpointConfig.session = session  # type: ignore[method-assign]


def apply_all() -> None:
    """Apply every speed-up (idempotent)."""
    incremental_dialogue_states()
    fast_tracker_copy()
    send_recent_events_to_actions()
    reuse_http_connections()
