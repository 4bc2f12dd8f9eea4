"""Rasa's conversation lock and tracker store, as another process (the privacy command line) reaches them.

Rasa serialises a conversation's turns with its lock store: in memory on one machine
(``endpoints.yml``: no ``lock_store``), Redis in production (``endpoints.prod.yml``), shared by every
replica. An erasure deletes a conversation's tracker events while holding that lock, so that no
turn is half-way through it (:class:`bot.privacy.lifecycle.DataLifecycle` takes ``lock=``).

An in-memory lock store lives inside the Rasa process: nothing outside can take it. Then
:func:`conversation_lock` holds nothing and :func:`lock_is_shared` says so; what protects the
erasure is the tracker store itself (``bot.runtime.tracker_store``): it never writes back events older
than the conversation's erasure tombstone. A turn in flight during the erasure loses its events
(it belonged to the erased conversation); the next message starts a new one.

Which endpoints file: the one Rasa was started with. ``make run`` uses ``endpoints.yml`` (the
runner points its SQLite tracker at ``<var_dir>/tracker.db``); production starts Rasa with
``--endpoints endpoints.prod.yml``: give the same file (``python -m bot privacy … --endpoints``).
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

with warnings.catch_warnings():
    # Rasa's imports warn about pkg_resources and load_module: noise on an operator's terminal and in
    # the housekeeping log, about Rasa's own dependencies.
    warnings.simplefilter("ignore", DeprecationWarning)
    from rasa.core.lock_store import InMemoryLockStore, LockStore
    from rasa.shared.exceptions import RasaException
    from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from bot.settings import PROJECT_ROOT, settings

__all__ = ["DEFAULT_ENDPOINTS", "conversation_lock", "lock_is_shared", "lock_store", "tracker_url"]

DEFAULT_ENDPOINTS = PROJECT_ROOT / "endpoints.yml"
# Long enough for one conversation's deletion (a few statements), short enough that a crashed
# eraser does not stall a citizen for long: Rasa lets a ticket expire after this.
_LOCK_SECONDS = 60.0


def serve_waiters_whose_ticket_expired() -> None:
    """Patch ``LockStore.lock``: a turn whose ticket expired while it waited takes a new one.

    Rasa's ticket lock serves the oldest live ticket. A replica killed during a turn leaves its ticket
    in Redis until the ticket's lifetime (``TICKET_LOCK_LIFETIME``, 60 s) ends; the retry of that
    message on another replica waits behind it with a ticket issued a moment later, and both usually
    expire between two of Rasa's checks (once a second). Rasa then found no live ticket, its own
    among them, and waited for ever: the conversation answered nothing more until a new message came.
    Here the waiter takes a new ticket at the end of the queue and is served once the older live
    tickets are done; the ticket it finally holds is the one released.
    """
    import contextlib

    from rasa.core.lock_store import LockError

    if getattr(LockStore.lock, "_reissues", False):
        return

    @contextlib.asynccontextmanager
    async def lock(
        self: LockStore, conversation_id: str, lock_lifetime: float | None = None, wait_time_in_seconds: float = 1
    ) -> Any:
        from rasa.core.lock_store import LOCK_LIFETIME

        lifetime = LOCK_LIFETIME if lock_lifetime is None else lock_lifetime
        ticket = self.issue_ticket(conversation_id, lifetime)
        try:
            while True:
                held = self.get_lock(conversation_id)
                if not held:
                    raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
                if not held.is_locked(ticket):
                    break
                if held._ticket_for_ticket_number(ticket) is None:
                    ticket = self.issue_ticket(conversation_id, lifetime)
                    continue
                await asyncio.sleep(wait_time_in_seconds)
                self.update_lock(conversation_id)
            yield held
        finally:
            self.cleanup(conversation_id, ticket)

    lock._reissues = True  # type: ignore[attr-defined]
    LockStore.lock = lock  # type: ignore[method-assign,assignment]


def _path(endpoints: Path | str | None) -> Path:
    path = Path(endpoints) if endpoints else DEFAULT_ENDPOINTS
    if not path.is_file():
        raise FileNotFoundError(f"endpoints file not found: {path}")
    return path


def _section(path: Path, name: str) -> EndpointConfig | None:
    # read_endpoint_config substitutes ${VAR}s as Rasa does, and fails on an unset one.
    try:
        return read_endpoint_config(str(path), name)
    except RasaException as exc:
        raise ValueError(f"{path.name}: {exc}") from None


@lru_cache(maxsize=4)
def _store(path: Path) -> LockStore:
    # No lock_store section: Rasa's in-memory store, as the Rasa process itself would make.
    return LockStore.create(_section(path, "lock_store"))


def lock_store(endpoints: Path | str | None = None) -> LockStore:
    """Rasa's lock store as ``endpoints`` (default ``endpoints.yml``) configures it; one per file and process.

    FileNotFoundError without the file; ValueError when it names an unset ``${VAR}``.
    """
    return _store(_path(endpoints).resolve())


def lock_is_shared(endpoints: Path | str | None = None) -> bool:
    """True when the lock store is shared with the Rasa process (Redis), False when it is Rasa's own memory."""
    return not isinstance(lock_store(endpoints), InMemoryLockStore)


@contextmanager
def conversation_lock(sender_id: str, endpoints: Path | str | None = None) -> Iterator[None]:
    """Hold the conversation's lock (Rasa's ticket lock) while the block runs; a sync context manager.

    With an in-memory lock store it holds nothing (see the module docstring). Raises Rasa's
    ``LockError`` when the lock cannot be had within its lifetime. Runs its own event loop: call it from
    a thread without a running loop (a command, or a web handler's worker thread).
    """
    serve_waiters_whose_ticket_expired()
    store = lock_store(endpoints)
    if isinstance(store, InMemoryLockStore):
        yield
        return
    loop = asyncio.new_event_loop()
    try:
        manager = store.lock(sender_id, lock_lifetime=_LOCK_SECONDS, wait_time_in_seconds=0.05)
        loop.run_until_complete(manager.__aenter__())
        try:
            yield
        except BaseException:
            if not loop.run_until_complete(manager.__aexit__(*sys.exc_info())):
                raise
        else:
            loop.run_until_complete(manager.__aexit__(None, None, None))
    finally:
        loop.close()


def tracker_url(endpoints: Path | str | None = None) -> str:
    """SQLAlchemy URL of the tracker store the endpoints file configures.

    SQLite: ``<var_dir>/tracker.db``, where the runner points it whatever the file says. Otherwise the
    file's ``dialect``, ``url`` (host), ``port``, ``db``, ``username`` and ``password``. ValueError when
    the file has no tracker store or names an unset ``${VAR}``.
    """
    config = _section(_path(endpoints), "tracker_store")
    if config is None:
        raise ValueError("the endpoints file has no tracker_store: give --tracker-url")
    options = config.kwargs
    dialect = str(options.get("dialect") or "sqlite")
    if dialect == "sqlite":
        return f"sqlite:///{settings().core.var_dir / 'tracker.db'}"
    port = options.get("port")
    return URL.create(
        "postgresql" if dialect in ("postgresql", "postgres") else dialect,
        username=options.get("username") or None,
        password=options.get("password") or None,
        host=config.url or None,
        port=int(port) if port else None,
        database=options.get("db") or None,
    ).render_as_string(hide_password=False)
