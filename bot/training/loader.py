"""Loading a promoted model into every running Rasa server, and the model a (re)started server runs.

:class:`ReplicaLoader` is the registry's :class:`~bot.training.registry.ModelLoader`: ``load(path)`` sends
``PUT /model`` (:meth:`bot.rasa_client.RasaClient.replace_model`) to each URL of ``RASA_URLS`` (default
``RASA_URL``; the production profile sets its replicas' own addresses, not the balancer's), one after the
other, each waiting up to ``TRAINING_LOAD_TIMEOUT`` seconds. The path is one on the servers' machine. When
any server fails, the ones that had taken the new model are put back on ``previous`` (best effort) and
:class:`ModelLoadError` is raised, so the registry records ``load_failed`` and changes nothing.

:func:`live_model_file` is the registry's live model file when it exists on disk: ``make run`` and the
production profile start Rasa with it, so a restarted server runs what was promoted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.rasa_client import RasaClient, RasaClientError
from bot.settings import PROJECT_ROOT, settings
from bot.training.registry import ModelRegistry

__all__ = ["ModelLoadError", "ReplicaLoader", "live_model_file"]

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """At least one Rasa server did not load the model; the message names the servers (never the token)."""


class ReplicaLoader:
    """Loads a model into every Rasa server of ``urls`` (default ``RASA_URLS``); ``previous``: the model to put
    back on the servers that took the new one when another failed (usually the live model's file)."""

    def __init__(
        self,
        urls: Sequence[str] | None = None,
        *,
        previous: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        client: Callable[[str], RasaClient] | None = None,
    ) -> None:
        cfg = settings()
        self.urls = tuple(urls if urls is not None else cfg.runtime.rasa_urls)
        self.previous = previous
        timeout = cfg.training.load_timeout if timeout is None else timeout
        self._client = client or (lambda url: RasaClient(url, token, timeout=timeout, retries=1))

    def load(self, model_path: str) -> None:
        """``PUT /model`` on every server; :class:`ModelLoadError` when any failed (after the rollback)."""
        if not self.urls:
            raise ModelLoadError("no Rasa server configured (RASA_URLS)")
        loaded: list[str] = []
        failures: list[str] = []
        for url in self.urls:
            try:
                self._client(url).replace_model(model_path)
                loaded.append(url)
            except RasaClientError as exc:
                failures.append(f"{url}: {exc}")
        if failures:
            self._restore(loaded)
            raise ModelLoadError("; ".join(failures))

    def _restore(self, urls: list[str]) -> None:
        if not self.previous:
            return
        for url in urls:
            try:
                self._client(url).replace_model(self.previous)
            except RasaClientError as exc:  # best effort: the audit says load_failed, the log says where
                log.error("could not put the previous model back on %s: %s", url, exc)


def live_model_file(root: Path = PROJECT_ROOT, engine: Engine | None = None) -> Path | None:
    """The live model's file (a relative name resolved under ``root``) when the registry has one and it exists;
    None otherwise, also when the database cannot be read (not migrated yet, unreachable)."""
    try:
        live = ModelRegistry(engine).live()
    except SQLAlchemyError:
        return None
    if live is None:
        return None
    path = Path(live.model_file)
    path = path if path.is_absolute() else root / path
    return path if path.is_file() else None
