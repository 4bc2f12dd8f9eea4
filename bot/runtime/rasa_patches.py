"""Fixes to Rasa 3.6 that our runtime applies before Rasa starts.

Each patch keeps Rasa's behaviour and says why it is needed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextvars import ContextVar
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any


def cache_action_result_validation() -> None:
    """Validate action-server responses with a validator built once, not once per response.

    ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, which checks
    the (constant) schema itself and builds a new validator on every call: measured
    with py-spy, a third of the Rasa server's CPU under load. This does the same checks,
    raising the same best-match ``ValidationError`` with the same message.
    """
    from jsonschema import exceptions
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    if getattr(RemoteAction._validate_action_result, "_cached", False):
        return
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        error = exceptions.best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error

    _validate_action_result._cached = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


_SQLITE_TUNED = False


def tune_sqlite_tracker_store() -> None:
    """WAL journal and ``synchronous=NORMAL`` for SQLite connections in the Rasa process.

    Rasa's SQL tracker store commits after every turn; with SQLite's default rollback
    journal and ``synchronous=FULL`` each commit waits for the disk twice. WAL with
    NORMAL keeps the database consistent after a crash of the process (a power cut may
    lose the last turns), which suits the embedded default; production uses PostgreSQL.
    """
    global _SQLITE_TUNED
    if _SQLITE_TUNED:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        if type(dbapi_conn).__module__.startswith("sqlite3"):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    _SQLITE_TUNED = True


def bound_nlu_input() -> None:
    """Cut a message to ``MAX_MESSAGE_CHARS`` before the NLU parses it, whatever path it came by.

    The channels already answer an over-long message politely without calling Rasa
    (:mod:`bot.channels.inbound`); this also covers the authenticated HTTP API
    (``/model/parse``, ``/conversations/…/messages``), so no input can hold the event
    loop for long.
    """
    from rasa.core.processor import MessageProcessor

    from bot.settings import settings

    if getattr(MessageProcessor.parse_message, "_bounded", False):
        return
    original = MessageProcessor.parse_message
    limit = settings().core.max_message_chars

    async def parse_message(self: MessageProcessor, message: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if isinstance(message.text, str) and len(message.text) > limit:
            message.text = message.text[:limit]
        return await original(self, message, *args, **kwargs)

    parse_message._bounded = True  # type: ignore[attr-defined]
    MessageProcessor.parse_message = parse_message  # type: ignore[method-assign]


#: Run when a citizen withdraws a waiting request for a person (says so, resumes the bot).
LEFT_QUEUE_ACTION = "action_left_queue"


@lru_cache(maxsize=1)
def _citizen_desk() -> Any:
    from bot.helpdesk.service import CitizenDesk

    return CitizenDesk()


def _typed(tracker: Any) -> str:
    latest = tracker.latest_message
    return latest.text if latest is not None and isinstance(latest.text, str) else ""


def _wants_to_leave(tracker: Any) -> bool:
    from bot.helpdesk.service import is_leave_request

    typed = _typed(tracker)
    return typed.strip() == "/cancel" or is_leave_request(typed)


def _is_external(tracker: Any) -> bool:
    latest = tracker.latest_message
    name = (latest.intent or {}).get("name") if latest is not None else None
    return isinstance(name, str) and name.startswith("EXTERNAL_")


def hold_paused_conversations() -> None:
    """While a person has the conversation (Rasa's ``ConversationPaused``), the bot answers nothing.

    Rasa 3.6 still answers a paused conversation's ``/restart`` (``_should_handle_message``), runs
    slot extraction on every message, and a 60-minute session expiry resets the pause; a citizen
    waiting longer than that would get the bot back in the middle of the handoff. Here, on every
    replica (the state is the tracker's and the database's, never this process's):

    - a paused conversation is never answered and never expires, ``/restart`` and buttons included;
      its messages are still stored (the staff read them from the record of conversations);
    - "thôi" / "hủy" (:func:`bot.helpdesk.service.is_leave_request`, or the leave button's
      ``/cancel``) while the handoff is still *waiting* leaves the queue: the bot resumes and
      :data:`LEFT_QUEUE_ACTION` says so; a waiting citizen who writes when no agent is online any
      more leaves it the same way, and is offered a call-back;
    - a paused conversation whose handoff is closed in the database (the console closed it but
      Rasa could not be told) resumes and is answered as usual.
    """
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, ConversationResumed

    if getattr(MessageProcessor._run_prediction_loop, "_holds_paused", False):
        return
    run_loop = MessageProcessor._run_prediction_loop
    extract = MessageProcessor.run_action_extract_slots
    expired = MessageProcessor._has_session_expired

    async def _run_prediction_loop(self: MessageProcessor, output_channel: Any, tracker: Any) -> None:
        if not tracker.is_paused():
            await run_loop(self, output_channel, tracker)
            return
        if _is_external(tracker):
            return  # a dossier notice (say) waits: the person has the conversation
        desk = _citizen_desk()
        if not await asyncio.to_thread(desk.still_open, tracker.sender_id):
            # Closed in the database while Rasa could not be told: answer as usual. The listen
            # puts the dialogue where the rules expect a citizen's message.
            tracker.update(ConversationResumed())
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            await run_loop(self, output_channel, tracker)
        elif (_wants_to_leave(tracker) and await asyncio.to_thread(desk.leave, tracker.sender_id)) or (
            await asyncio.to_thread(desk.give_up_if_unstaffed, tracker.sender_id)
        ):
            tracker.update(ConversationResumed())
            action = self._get_action(LEFT_QUEUE_ACTION)
            prediction = PolicyPrediction.for_action_name(self.domain, LEFT_QUEUE_ACTION)
            await self._run_action(action, tracker, output_channel, self.nlg, prediction)
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        else:
            # Kept for the staff; the bot "listened" and says nothing, so each message is a turn of its own.
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))

    async def run_action_extract_slots(self: MessageProcessor, output_channel: Any, tracker: Any) -> Any:
        if tracker.is_paused():
            return tracker
        return await extract(self, output_channel, tracker)

    def _has_session_expired(self: MessageProcessor, tracker: Any) -> bool:
        return False if tracker.is_paused() else expired(self, tracker)

    _run_prediction_loop._holds_paused = True  # type: ignore[attr-defined]
    MessageProcessor._run_prediction_loop = _run_prediction_loop  # type: ignore[method-assign]
    MessageProcessor.run_action_extract_slots = run_action_extract_slots  # type: ignore[method-assign]
    MessageProcessor._has_session_expired = _has_session_expired  # type: ignore[method-assign]
    MessageProcessor._should_handle_message = staticmethod(lambda tracker: not tracker.is_paused())  # type: ignore[method-assign]


def _turn_intent_and_actions(tracker: Any) -> tuple[str | None, list[str]]:
    """The intent of the tracker's last citizen message and the actions that ran after it."""
    from rasa.shared.core.events import ActionExecuted, UserUttered

    actions: list[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return event.intent_name, actions
        if isinstance(event, ActionExecuted) and event.action_name:
            actions.append(event.action_name)
    return None, actions


#: The tracker of the turn the current task is handling (set by ``log_message``, read by ``handle_message``).
_TURN_TRACKER: ContextVar[list[Any] | None] = ContextVar("dvc_turn_tracker", default=None)


def expose_metrics() -> None:
    """``GET /metrics`` on the Rasa server, and the turn, fallback, error and model metrics of
    :mod:`bot.runtime.metrics`.

    - ``rasa.core.run.configure_app`` builds the Sanic app with and without ``--enable-api``: the route
      is added there (outside Rasa's ``--auth-token``; ``METRICS_TOKEN`` guards it), with the handoff
      gauges read from the shared database;
    - ``MessageProcessor.handle_message`` is one citizen message (every channel; ``trigger_intent``
      and ``/model/parse`` are not turns): counted and timed by ``message.input_channel``, a fallback
      when the record of conversations would call it one, an exception counted by its class;
    - an action-server call that fails (Rasa logs it and goes on without the action's events) counts
      as ``rasa_action_call`` errors, by the underlying exception's class;
    - each ``MessageProcessor`` (start, ``PUT /model``) sets ``dvc_model_info``.
    """
    import rasa.core.run
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
    from rasa.core.processor import MessageProcessor

    from bot.runtime import metrics

    if getattr(MessageProcessor.handle_message, "_metered", False):
        return
    configure_app = rasa.core.run.configure_app
    handle_message = MessageProcessor.handle_message
    log_message = MessageProcessor.log_message
    init = MessageProcessor.__init__
    remote_run = RemoteAction.run

    @wraps(configure_app)
    def metered_configure_app(*args: Any, **kwargs: Any) -> Any:
        app = configure_app(*args, **kwargs)
        metrics.add_sanic_route(app)
        metrics.watch_handoffs()
        return app

    async def metered_handle_message(self: MessageProcessor, message: Any) -> Any:
        holder: list[Any] = []
        token = _TURN_TRACKER.set(holder)
        start = time.perf_counter()
        try:
            return await handle_message(self, message)
        except Exception as exc:
            metrics.count_error("rasa", exc)
            raise
        finally:
            _TURN_TRACKER.reset(token)
            seconds = time.perf_counter() - start
            try:
                fallback = bool(holder) and metrics.is_fallback_turn(*_turn_intent_and_actions(holder[0]))
            except Exception as exc:  # counting must never break a turn
                metrics.count_error("metrics", exc)
                fallback = False
            metrics.observe_turn(message.input_channel, seconds, fallback=fallback)

    async def metered_log_message(self: MessageProcessor, message: Any, *args: Any, **kwargs: Any) -> Any:
        tracker = await log_message(self, message, *args, **kwargs)
        holder = _TURN_TRACKER.get()
        if holder is not None:
            holder[:] = [tracker]  # the same object the turn's actions are then logged on
        return tracker

    def metered_init(self: MessageProcessor, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        model_file = getattr(self, "model_filename", None)
        metrics.set_model(getattr(self.model_metadata, "model_id", None), Path(model_file).name if model_file else None)

    async def metered_remote_run(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        try:
            return await remote_run(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise  # a form's validation rejecting a value: not an error
        except Exception as exc:
            # Rasa wraps the HTTP error in a RasaException: the cause says what went wrong.
            metrics.count_error("rasa_action_call", exc.__cause__ or exc.__context__ or exc)
            raise

    metered_handle_message._metered = True  # type: ignore[attr-defined]
    rasa.core.run.configure_app = metered_configure_app
    MessageProcessor.handle_message = metered_handle_message  # type: ignore[method-assign]
    MessageProcessor.log_message = metered_log_message  # type: ignore[method-assign]
    MessageProcessor.__init__ = metered_init  # type: ignore[method-assign]
    RemoteAction.run = metered_remote_run  # type: ignore[method-assign]


_log = logging.getLogger(__name__)
#: Marks the "busy" reply of a turn whose action failed: a retry of that message is processed again.
BUSY_ACTION = "action_busy"


def _busy_text() -> str:
    from bot.wording import text

    return text("common.busy")


def answer_when_actions_fail() -> None:
    """A turn whose custom action could not run (the action server down, restarting, answering 5xx)
    answers the citizen with the polite "busy" sentence instead of silence.

    Rasa logs the failure and goes on without the action's events, so the citizen got no reply at all.
    The sentence is returned as the action's one event: Rasa sends it through the channel and stores
    it, the conversation goes on from there, and the next message runs the action again. A form's
    validation rejecting a value (``ActionExecutionRejection``) is not a failure and is left to Rasa.
    """
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
    from rasa.shared.core.events import BotUttered
    from rasa.shared.exceptions import RasaException

    if getattr(RemoteAction.run, "_answers_failures", False):
        return
    remote_run = RemoteAction.run

    from bot.settings import settings

    timeout = settings().runtime.action_timeout

    @wraps(remote_run)
    async def run(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        try:
            # A hung action server must not outlast the conversation lock (another turn would start)
            # nor the balancer (the citizen would get its error page).
            return await asyncio.wait_for(remote_run(self, *args, **kwargs), timeout)
        except ActionExecutionRejection:
            raise
        except (RasaException, asyncio.TimeoutError) as exc:
            cause = exc.__cause__ or exc.__context__ or exc
            _log.error("custom action %s failed (%s): the citizen is asked to try again", self.name(),
                       type(cause).__name__)  # fmt: skip
            return [BotUttered(_busy_text(), metadata={"utter_action": BUSY_ACTION})]

    run._answers_failures = True  # type: ignore[attr-defined]
    RemoteAction.run = run  # type: ignore[method-assign]


def answer_when_stores_fail() -> None:
    """The tracker store or the lock store failing makes the turn fail, visibly, with the "busy" sentence.

    Rasa wraps its tracker store in ``FailSafeTrackerStore``: a database error made it answer from an
    empty conversation and keep the turn in this process's memory only, where no other replica sees it
    and a restart loses it. Here the error reaches the turn instead: nothing is stored half-way, the
    citizen is told to try again (the channel's output), the log names the store and the error class
    (no message text), and the next message, once the store is back, continues the stored conversation.
    """
    from rasa.core.agent import Agent
    from rasa.core.lock_store import LockError
    from sqlalchemy.exc import SQLAlchemyError

    from bot.runtime import metrics

    if getattr(Agent.handle_message, "_answers_failures", False):
        return
    store_errors: tuple[type[BaseException], ...] = (SQLAlchemyError, LockError, ConnectionError, TimeoutError)
    try:
        from redis.exceptions import RedisError

        store_errors += (RedisError,)
    except ImportError:  # pragma: no cover - redis comes with Rasa
        pass
    handle_message = Agent.handle_message

    def _create_tracker_store(store: Any, domain: Any) -> Any:
        from rasa.core.tracker_store import InMemoryTrackerStore

        if store is None:
            return InMemoryTrackerStore(domain)
        store.domain = domain
        return store

    @wraps(handle_message)
    async def answer_or_busy(self: Agent, message: Any) -> Any:
        try:
            return await handle_message(self, message)
        except store_errors as exc:
            metrics.count_error("rasa_store", exc)
            _log.error("turn not processed, a store failed (%s: %s); the citizen is asked to try again",
                       type(exc).__module__, type(exc).__name__)  # fmt: skip
            output = getattr(message, "output_channel", None)
            if output is not None:
                try:
                    await output.send_text_message(message.sender_id, _busy_text())
                except Exception as send_error:  # the channel may be down too; the log says so
                    _log.error("the busy reply could not be sent either (%s)", type(send_error).__name__)
            return None

    answer_or_busy._answers_failures = True  # type: ignore[attr-defined]
    Agent.handle_message = answer_or_busy  # type: ignore[method-assign]
    Agent._create_tracker_store = staticmethod(_create_tracker_store)  # type: ignore[method-assign,assignment]


class _AlreadyAnswered(Exception):
    """Raised inside a turn whose message the conversation already holds (a redelivery)."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        super().__init__("message already answered")
        self.replies = replies


# How far back a redelivered message is looked for: its citizen messages, newest first.
_REDELIVERY_WINDOW = 50


def _same_message(stored: Any, text: str) -> bool:
    """Whether the stored (redacted) text is ``text`` as the tracker store would have stored it."""
    from bot.privacy import mask_text
    from bot.runtime.tracker_store import hide_digits

    return stored in (text, mask_text(text), mask_text(hide_digits(text)))


def _replies_to(tracker: Any, message_id: str, text: str) -> list[dict[str, Any]] | None:
    """The bot messages that answered the user message ``message_id``; None when the tracker lacks it,
    when the stored message says something else (a client that reused an id), or when its only answer
    was the "busy" sentence (the retry is processed again)."""
    from rasa.shared.core.events import BotUttered, UserUttered

    # Newest first, without copying the conversation: the bot messages seen since the last user message
    # scanned are the replies to the one scanned next.
    later: list[Any] = []
    seen = 0
    for event in reversed(tracker.events):
        if isinstance(event, BotUttered):
            later.append(event)
            continue
        if not isinstance(event, UserUttered):
            continue
        if event.message_id == message_id:
            if not _same_message(event.text, text):
                _log.warning("a message reused the id of another message of the conversation: processed as new")
                return None
            replies = [bot.message() for bot in reversed(later)]
            busy = all((bot.metadata or {}).get("utter_action") == BUSY_ACTION for bot in later)
            return None if replies and busy else replies
        later = []
        seen += 1
        if seen >= _REDELIVERY_WINDOW:
            break
    return None


def answer_each_message_once() -> None:
    """A message the conversation already holds (same ``message_id``) is answered again with the replies
    it got, not processed a second time.

    A client that lost the answer (a replica stopped after saving the turn, a timeout) sends the same
    message again with the same id: REST's ``message_id``, Telegram's update id, Zalo's ``msg_id``.
    The check runs inside Rasa's conversation lock, on the tracker the turn loads anyway, before the
    NLU; the replies are re-sent from the stored events (masked as stored).
    """
    from rasa.core.processor import MessageProcessor

    if getattr(MessageProcessor._handle_message_with_tracker, "_once", False):
        return
    with_tracker = MessageProcessor._handle_message_with_tracker
    handle_message = MessageProcessor.handle_message

    @wraps(with_tracker)
    async def check_then_handle(self: MessageProcessor, message: Any, tracker: Any) -> None:
        message_id = getattr(message, "message_id", None)
        if message_id and getattr(message, "text", None) is not None:
            replies = _replies_to(tracker, message_id, message.text)
            if replies is not None:
                raise _AlreadyAnswered(replies)
        await with_tracker(self, message, tracker)

    # wraps: the metrics' own marker (and any other patch's) stays visible on the outer function.
    @wraps(handle_message)
    async def handle_once(self: MessageProcessor, message: Any) -> Any:
        try:
            return await handle_message(self, message)
        except _AlreadyAnswered as again:
            _log.info("a redelivered message was answered from the stored turn (%d replies)", len(again.replies))
            output = message.output_channel
            for reply in again.replies:
                await output.send_response(message.sender_id, dict(reply))
            return None

    check_then_handle._once = True  # type: ignore[attr-defined]
    MessageProcessor._handle_message_with_tracker = check_then_handle  # type: ignore[method-assign]
    MessageProcessor.handle_message = handle_once  # type: ignore[method-assign]


def apply_all() -> None:
    """Apply every patch (idempotent)."""
    from bot.runtime import rasa_speedups
    from bot.runtime.conversation_lock import serve_waiters_whose_ticket_expired

    rasa_speedups.apply_all()
    serve_waiters_whose_ticket_expired()
    cache_action_result_validation()
    tune_sqlite_tracker_store()
    bound_nlu_input()
    hold_paused_conversations()
    expose_metrics()
    # After the metrics: the failure is counted there before it is answered here.
    answer_when_actions_fail()
    answer_when_stores_fail()
    answer_each_message_once()
