"""Prometheus metrics of the Rasa server, the action server and the staff console (``GET /metrics``).

Every metric is defined here, once, on ``prometheus_client``'s default registry (which adds the
process's own ``process_*`` and ``python_*`` metrics). Each process exposes what it counts itself:

- Rasa server (:func:`bot.runtime.rasa_patches.expose_metrics`): :data:`TURNS`, :data:`TURN_SECONDS`,
  :data:`FALLBACKS`, :data:`MODEL`, :data:`ERRORS`, and :class:`HandoffGauges`;
- action server (:mod:`bot.runtime.action_server`): :data:`ACTIONS`, :data:`ACTION_SECONDS`, :data:`ERRORS`;
- staff console (:mod:`bot.console.app`): :data:`CONSOLE_REQUESTS`, :data:`ERRORS` and :class:`HandoffGauges`.

Labels never hold personal data: channels, action names and routes come from the code (anything
else reads ``other``), error kinds are exception class names. ``docs/METRICS.md`` lists every
metric; ``METRICS_TOKEN``, when set, is the bearer token a scrape must send (:func:`scrape`).
Rasa is never imported here: the Rasa-specific hooks live in :mod:`bot.runtime.rasa_patches`.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from bot.conversations.recorder import FALLBACK_ACTIONS, FALLBACK_INTENT
from bot.db.clock import naive_utc
from bot.settings import settings

__all__ = [
    "ACTIONS",
    "ACTION_SECONDS",
    "CONSOLE_REQUESTS",
    "ERRORS",
    "FALLBACKS",
    "METRICS_PATH",
    "MODEL",
    "OTHER",
    "TURNS",
    "TURN_SECONDS",
    "ConsoleRequestCounter",
    "HandoffGauges",
    "Scrape",
    "add_sanic_route",
    "authorized",
    "count_error",
    "is_fallback_turn",
    "observe_action",
    "observe_turn",
    "scrape",
    "set_model",
    "starlette_endpoint",
    "watch_handoffs",
]

logger = logging.getLogger(__name__)

#: Where every process serves its metrics.
METRICS_PATH = "/metrics"

# A turn is a message through NLU, the policies and the actions: tens of ms when all goes well,
# seconds when the action server or the database is slow; past 10 s a channel has usually given up.
TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# An action is a database read or two; the one-door connector's HTTP calls take longer.
ACTION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

TURNS = Counter("dvc_turns", "Citizen messages the Rasa server handled (one per turn), by channel.", ["channel"])
TURN_SECONDS = Histogram(
    "dvc_turn_seconds",
    "Time the Rasa server spent on one turn (NLU, policies, actions, tracker store), in seconds, by channel.",
    ["channel"],
    buckets=TURN_BUCKETS,
)
FALLBACKS = Counter(
    "dvc_fallbacks",
    "Turns that fell back (nlu_fallback, or a fallback action ran; the record of conversations' definition), "
    "by channel.",
    ["channel"],
)
ERRORS = Counter(
    "dvc_errors",
    "Errors by component (rasa, rasa_action_call, actions, action_server, console, metrics) and kind "
    "(exception class name).",
    ["component", "kind"],
)
# A gauge, not an Info: an Info shows an unlabelled sample before any model is loaded.
MODEL = Gauge(
    "dvc_model_info", "The model the Rasa server has loaded (always 1): its model_id and file name.",
    ["model_id", "model_file"],
)  # fmt: skip
_MODEL_LOCK = threading.Lock()
ACTIONS = Counter(
    "dvc_actions",
    "Custom actions the action server ran, by action and outcome (ok, rejected, error, not_found).",
    ["action", "outcome"],
)
ACTION_SECONDS = Histogram(
    "dvc_action_seconds", "Time one custom action took on the action server, in seconds.", ["action"],
    buckets=ACTION_BUCKETS,
)  # fmt: skip
CONSOLE_REQUESTS = Counter(
    "dvc_console_requests",
    "Requests the staff console answered, by method, route template and HTTP status.",
    ["method", "route", "status"],
)

_LABEL = re.compile(r"[A-Za-z0-9_.:-]{1,60}")
OTHER = "other"


def _label(value: object) -> str:
    """``value`` when it is a short code-like name, else :data:`OTHER` (a label must never carry user text)."""
    return value if isinstance(value, str) and _LABEL.fullmatch(value) else OTHER


# ---------------------------------------------------------------------------------------------
# Recording


def is_fallback_turn(intent: str | None, actions: Iterable[str]) -> bool:
    """The record of conversations' fallback turn (:mod:`bot.conversations.recorder`): the NLU said
    ``nlu_fallback``, or one of the fallback actions ran."""
    return intent == FALLBACK_INTENT or any(name in FALLBACK_ACTIONS for name in actions)


def observe_turn(channel: str | None, seconds: float, *, fallback: bool = False) -> None:
    """Count one turn on ``channel`` (``message.input_channel``; None reads ``other``) that took ``seconds``."""
    name = _label(channel)
    TURNS.labels(name).inc()
    TURN_SECONDS.labels(name).observe(seconds)
    if fallback:
        FALLBACKS.labels(name).inc()


def count_error(component: str, error: BaseException | str) -> None:
    """Count one error of ``component``; ``error`` is the exception (its class name is the kind) or a short kind."""
    kind = error if isinstance(error, str) else type(error).__name__
    ERRORS.labels(_label(component), _label(kind)).inc()


def observe_action(action: str, outcome: str, seconds: float | None) -> None:
    """Count one action call; ``action`` must be a registered action's name (the caller checks), else
    ``other``. ``seconds`` is None when the action never ran (not found)."""
    name = _label(action)
    ACTIONS.labels(name, outcome).inc()
    if seconds is not None:
        ACTION_SECONDS.labels(name).observe(seconds)


def set_model(model_id: str | None, model_file: str | None) -> None:
    """Record the loaded model (``dvc_model_info{model_id, model_file} 1``); a new model replaces the old one."""
    with _MODEL_LOCK:
        MODEL.clear()
        MODEL.labels(_label(model_id or "unknown"), _label(model_file or "unknown")).set(1)


# ---------------------------------------------------------------------------------------------
# Handoffs, read from the shared database at each scrape


class HandoffGauges:
    """Collector of ``dvc_handoffs_waiting``, ``dvc_handoffs_active`` and ``dvc_handoff_oldest_wait_seconds``.

    Read from ``helpdesk_handoffs`` through :class:`bot.helpdesk.handoff.HandoffDesk` at each scrape, so
    every replica and the console report the same, current figures (query them with ``max()``). When the
    database cannot be read, the gauges are left out of that scrape and ``dvc_errors_total{component=
    "metrics"}`` counts it: a scrape never fails because of them.
    """

    def __init__(self, desk: Any = None, clock: Callable[[], datetime] = naive_utc) -> None:
        self._desk = desk
        self._clock = clock
        self._lock = threading.Lock()
        self._warned = False

    def use(self, desk: Any) -> None:
        """Read from ``desk`` (a ``HandoffDesk``) from now on."""
        with self._lock:
            self._desk = desk

    def _queue(self) -> list[Any]:
        with self._lock:
            if self._desk is None:
                from bot.helpdesk.handoff import HandoffDesk

                self._desk = HandoffDesk()  # the configured database, created in the serving process
            desk = self._desk
        return desk.queue()

    def describe(self) -> Iterator[Metric]:
        """The metric names, without touching the database (the registry calls this on registration)."""
        yield from self._families()

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("dvc_handoffs_waiting", "Conversations waiting in the help-desk queue for a person."),
            GaugeMetricFamily("dvc_handoffs_active", "Conversations a person has taken over and not yet closed."),
            GaugeMetricFamily(
                "dvc_handoff_oldest_wait_seconds",
                "How long the first conversation in the queue has waited, in seconds (0 when none waits).",
            ),
        )

    def collect(self) -> Iterator[Metric]:
        """The three gauges, read now."""
        from bot.helpdesk.handoff import ACTIVE, WAITING

        try:
            queue = self._queue()
        except Exception as exc:  # an unreachable database must not fail the whole scrape
            # Once at WARNING, then DEBUG: Prometheus scrapes every 15 s; the error counter keeps counting.
            logger.log(logging.DEBUG if self._warned else logging.WARNING,
                       "metrics: cannot read the handoff queue: %s", type(exc).__name__)  # fmt: skip
            self._warned = True
            count_error("metrics", exc)
            return
        waiting = [h for h in queue if h.state == WAITING]
        now = self._clock()
        oldest = max(((now - h.opened_at).total_seconds() for h in waiting), default=0.0)
        families = self._families()
        families[0].add_metric([], len(waiting))
        families[1].add_metric([], sum(1 for h in queue if h.state == ACTIVE))
        families[2].add_metric([], max(oldest, 0.0))
        yield from families


_HANDOFFS: HandoffGauges | None = None
_HANDOFFS_LOCK = threading.Lock()


def watch_handoffs(desk: Any = None, registry: CollectorRegistry = REGISTRY) -> HandoffGauges:
    """Expose the handoff gauges in this process (idempotent); ``desk`` replaces the database they read
    (default: the configured one, opened at the first scrape)."""
    global _HANDOFFS
    with _HANDOFFS_LOCK:
        if _HANDOFFS is None:
            _HANDOFFS = HandoffGauges(desk)
            registry.register(_HANDOFFS)  # type: ignore[arg-type]
        elif desk is not None:
            _HANDOFFS.use(desk)
        return _HANDOFFS


# ---------------------------------------------------------------------------------------------
# Exposition


@dataclass(frozen=True)
class Scrape:
    """An answer to ``GET /metrics``: status, body and headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def authorized(authorization: str | None, token: str | None = None) -> bool:
    """Whether an ``Authorization`` header value passes ``token`` (default ``METRICS_TOKEN``; empty = anyone)."""
    expected = settings().analytics.metrics_token if token is None else token
    if not expected:
        return True
    scheme, _, given = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), expected.encode("utf-8")
    )


def scrape(authorization: str | None, registry: CollectorRegistry = REGISTRY, token: str | None = None) -> Scrape:
    """The exposition of ``registry`` in Prometheus' text format, or 401 without the right bearer token.

    Blocking (the handoff gauges read the database): call it in a worker thread from an event loop.
    """
    if not authorized(authorization, token):
        headers = {"Content-Type": "text/plain; charset=utf-8", "WWW-Authenticate": 'Bearer realm="metrics"'}
        return Scrape(401, b"missing or wrong metrics token\n", headers)
    return Scrape(200, generate_latest(registry), {"Content-Type": CONTENT_TYPE_LATEST})


def add_sanic_route(app: Any) -> None:
    """Add ``GET /metrics`` to a Sanic app (the Rasa server's or the action server's); idempotent."""
    import asyncio

    from sanic import response
    from sanic.request import Request
    from sanic.response import HTTPResponse

    if getattr(app.ctx, "dvc_metrics", False):
        return

    async def metrics(request: Request) -> HTTPResponse:
        result = await asyncio.to_thread(scrape, request.headers.get("Authorization"))
        headers = dict(result.headers)
        content_type = headers.pop("Content-Type")
        return response.raw(result.body, status=result.status, headers=headers, content_type=content_type)

    app.add_route(metrics, METRICS_PATH, methods=["GET"], name="dvc_metrics")
    app.ctx.dvc_metrics = True


async def starlette_endpoint(request: Any) -> Any:
    """The staff console's ``GET /metrics`` (a Starlette endpoint outside the console's role table)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    result = await run_in_threadpool(scrape, request.headers.get("authorization"))
    return Response(result.body, status_code=result.status, headers=result.headers)


class ConsoleRequestCounter:
    """ASGI middleware: counts every console response in :data:`CONSOLE_REQUESTS` by its route template
    (``/handoffs/{handoff_id:int}``, never the concrete path), and an exception as a 500 and an error."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def remember(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, remember)
        except Exception as exc:
            count_error("console", exc)
            raise
        finally:
            # Starlette's router puts the matched route in the scope; no match (404, 405) reads "unmatched".
            route = getattr(scope.get("route"), "path", None)
            method = scope.get("method", "")
            CONSOLE_REQUESTS.labels(
                method if method in ("GET", "POST", "HEAD") else OTHER,
                route if isinstance(route, str) else "unmatched",
                str(status),
            ).inc()
