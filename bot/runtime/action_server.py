"""The action server: rasa-sdk's app, bound to the configured host, with a shared secret and bounded input.

``python -m bot.runtime.action_server [--port N]`` replaces ``rasa run actions``, which
listens on ``0.0.0.0`` (it reads ``SANIC_HOST``, not our settings), accepts any caller,
inflates ``Content-Encoding: deflate`` bodies without a limit, and on any exception
answers 500 with the whole tracker echoed back (which Rasa then logs at ERROR).

Here:

- the server binds to ``BIND_HOST`` (127.0.0.1 by default);
- ``POST /webhook`` needs the header :data:`TOKEN_HEADER` equal to ``ACTION_SERVER_TOKEN``
  (Rasa sends it from ``endpoints.yml``: see :func:`bot.runtime.runner.runtime_endpoints`);
- compressed bodies are refused (415) and bodies over ``MAX_ACTION_REQUEST_BYTES`` get 413;
- a body that is not an action call gets 400;
- an action that raises answers the citizen with the polite "busy" message, logs the
  exception type and the action's name only, and never echoes the request;
- ``GET /metrics`` (no action token; ``METRICS_TOKEN`` when set) counts and times every action
  (:mod:`bot.runtime.metrics`, docs/METRICS.md).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import time
from typing import Any

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.runtime import metrics
from bot.settings import PRIVATE_UMASK, settings, validate_or_exit
from bot.wording import text

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Action-Token"


def _action_call_problem(body: Any) -> str | None:
    """None when ``body`` has the shape Rasa sends, else what is wrong with it."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("next_action"), str) or not body["next_action"]:
        return "next_action must be a non-empty string"
    if not isinstance(body.get("tracker"), dict):
        return "tracker must be an object"
    if not isinstance(body.get("domain", {}), dict):
        return "domain must be an object"
    tracker = body["tracker"]
    if not isinstance(tracker.get("sender_id", ""), str):
        return "tracker.sender_id must be a string"
    for key, kind in (("latest_message", dict), ("events", list), ("slots", dict)):
        if tracker.get(key) is not None and not isinstance(tracker[key], kind):
            return f"tracker.{key} must be {'an object' if kind is dict else 'a list'}"
    return None


def make_executor_crash_proof() -> None:
    """Wrap ``ActionExecutor.run`` so a crashing action ends in a polite reply, not a 500 with the tracker."""
    from rasa_sdk.executor import ActionExecutor
    from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

    if getattr(ActionExecutor.run, "_crash_proof", False):
        return
    original = ActionExecutor.run

    async def run(self: ActionExecutor, action_call: dict[str, Any]) -> dict[str, Any] | None:
        name = action_call.get("next_action")
        # Only a registered action's name becomes a label: the caller chooses next_action.
        label = name if isinstance(name, str) and name in self.actions else metrics.OTHER
        start = time.perf_counter()
        try:
            result = await original(self, action_call)
        except ActionExecutionRejection:
            metrics.observe_action(label, "rejected", time.perf_counter() - start)
            raise
        except ActionNotFoundException:
            metrics.observe_action(label, "not_found", None)
            raise
        except Exception as exc:  # the citizen gets a reply whatever broke; the log gets no personal data
            metrics.observe_action(label, "error", time.perf_counter() - start)
            metrics.count_error("actions", exc)
            logger.error("action %r failed: %s", str(name)[:64], type(exc).__name__)
            return {"events": [], "responses": [{"text": text("common.busy")}]}
        metrics.observe_action(label, "ok", time.perf_counter() - start)
        return result

    run._crash_proof = True  # type: ignore[attr-defined]
    ActionExecutor.run = run  # type: ignore[method-assign]


def create_app(action_package: str = "actions", token: str | None = None) -> Sanic:
    """rasa-sdk's app for ``action_package`` with the checks described in the module docstring."""
    from rasa_sdk.endpoint import create_app as sdk_create_app

    make_executor_crash_proof()
    cfg = settings()
    secret = token if token is not None else cfg.runtime.action_server_token.reveal()
    # No CORS: only the Rasa server calls this, never a browser.
    app = sdk_create_app(action_package, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = cfg.core.max_action_request_bytes
    metrics.add_sanic_route(app)

    @app.on_request
    async def guard(request: Request) -> HTTPResponse | None:
        path = request.path.rstrip("/") or "/"  # Sanic serves "/webhook/" too
        if path in ("/health", metrics.METRICS_PATH):
            return None  # /metrics checks METRICS_TOKEN itself: Prometheus does not hold the action token
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode()):
            return response.json({"error": "missing or wrong action server token"}, status=401)
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            return response.json({"error": "compressed bodies are not accepted"}, status=415)
        if request.method == "POST" and path == "/webhook":
            try:
                body = request.json
            except Exception:  # Sanic raises its own InvalidUsage, or a decoding error
                return response.json({"error": "the body must be JSON"}, status=400)
            problem = _action_call_problem(body)
            if problem is not None:
                return response.json({"error": problem}, status=400)
        return None

    async def on_error(request: Request, exception: Exception) -> HTTPResponse:
        status = getattr(exception, "status_code", 500)
        if status >= 500:
            metrics.count_error("action_server", exception)
            logger.error("action server error on %s: %s", request.path, type(exception).__name__)
        # Never echo the request: it carries the whole conversation.
        return response.json({"error": "request failed" if status >= 500 else str(exception)[:200]}, status=status)

    app.error_handler.add(Exception, on_error)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run the action server in the foreground."""
    from bot.privacy import install_log_masking

    os.umask(PRIVATE_UMASK)
    validate_or_exit()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=settings().core.action_port)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    install_log_masking()
    # Python warnings go through logging too, so they are masked like every other line.
    logging.captureWarnings(True)
    app = create_app(args.actions)
    host = settings().core.bind_host
    logger.info("action server on http://%s:%d", host, args.port)
    app.run(host=host, port=args.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
