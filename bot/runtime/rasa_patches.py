"""Fixes to Rasa 3.6 that our runtime applies before Rasa starts.

Each patch keeps Rasa's behaviour and says why it is needed.
"""

from __future__ import annotations

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


def apply_all() -> None:
    """Apply every patch (idempotent)."""
    cache_action_result_validation()
    tune_sqlite_tracker_store()
    bound_nlu_input()
