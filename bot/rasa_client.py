"""A client for Rasa's HTTP API: the token, timeouts and retries in one place.

Used by the dossier watcher (``trigger_intent``); the help desk (staff replies, pause and resume
through ``append_events``, reading a conversation with ``get_tracker``) and the trainer loop
(``replace_model``) build on it. It is pure HTTP (``requests``) and imports nothing from Rasa.

Every call sends ``RASA_TOKEN`` as ``?token=`` (Rasa's ``--auth-token`` reads only the query
string). Retries, with exponential backoff, depend on whether doing the call twice is harmless:

- a GET is retried on any connection error, a timeout, 429 and 5xx;
- a write (``trigger_intent``, ``append_events``, ``replace_model``) is retried only when the
  request certainly never left this machine: the connection was refused, unreachable or its name
  did not resolve, or the connect timed out. A read timeout, a connection dropped after sending
  ("Connection aborted", ``RemoteDisconnected``) or a 429/5xx answer may come after Rasa acted
  (an action may already have spoken to the citizen), so none of them is retried; a caller for
  whom a repeat is harmless may pass ``retry_on_status=True`` to have 429/5xx retried too.

Nothing is retried on any other status. Errors are :class:`RasaUnavailable` (no answer, a 429/5xx
that is not retried, or still 429/5xx after the last retry) or :class:`RasaRejected` (any other
3xx/4xx). Their messages name the operation, the status and Rasa's ``reason`` code, never the
token, the conversation id or anything the conversation said.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from bot.settings import settings

__all__ = [
    "RasaClient",
    "RasaClientError",
    "RasaRejected",
    "RasaStatus",
    "RasaUnavailable",
]

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 5.0  # seconds: callers hold locks (the watcher); a longer wait is the next round's job


class RasaClientError(RuntimeError):
    """A call to Rasa's HTTP API failed; the message is safe to log (no token, no conversation text)."""


class RasaUnavailable(RasaClientError):
    """Rasa could not be reached, timed out, or kept answering 429/5xx until the retries ran out.

    ``status`` is the last HTTP status code, or None when no answer came.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RasaRejected(RasaClientError):
    """Rasa answered with a status that retrying will not fix (3xx, 4xx other than 429).

    ``status`` is the HTTP status code; ``reason`` is Rasa's error code (``"BadRequest"``,
    ``"NotAuthenticated"``, ``"NotFound"``, ...) or ``""`` when the body had none.
    """

    def __init__(self, operation: str, status: int, reason: str = "") -> None:
        self.operation = operation
        self.status = status
        self.reason = reason
        detail = f" ({reason})" if reason else ""
        super().__init__(f"Rasa {operation}: HTTP {status}{detail}")


@dataclass(frozen=True)
class RasaStatus:
    """What ``GET /status`` says: the loaded model's file and id (empty when unknown)."""

    model_file: str
    model_id: str
    num_active_training_jobs: int


def _conversation_path(conversation_id: str) -> str:
    # Conversation ids are "<channel>:<id>" of URL-safe characters (bot.channels.inbound); Rasa's
    # route does not unescape "%3A", so ":" and "@" stay as they are.
    return f"/conversations/{quote(conversation_id, safe=':@')}"


def _reason(response: requests.Response) -> str:
    """Rasa's error code from an error body; its ``message`` may quote the conversation, so not that."""
    try:
        body = response.json()
    except ValueError:
        return ""
    reason = body.get("reason") if isinstance(body, dict) else None
    # Rasa's codes are short CamelCase words; anything else is not something we vouch for.
    return reason if isinstance(reason, str) and reason.isalnum() and len(reason) <= 40 else ""


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True only when the connection was never made, so Rasa cannot have received the request.

    That is requests' ``ConnectTimeout`` (the TCP connect timed out) or urllib3's
    ``NewConnectionError`` (refused, unreachable, name not resolved), which urllib3 raises while
    connecting, before a byte is written. Anything else may come after the request was sent:
    "Connection aborted" / ``RemoteDisconnected``, a reset while reading the answer; TLS and proxy
    errors are counted there too (the proxy may have forwarded it; neither is fixed by retrying).
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, (requests.exceptions.SSLError, requests.exceptions.ProxyError)):
        return False
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


class RasaClient:
    """Calls one Rasa server's HTTP API; safe to share between threads (one session per thread).

    ``base_url`` and ``token`` default to ``RASA_URL`` and ``RASA_TOKEN``; ``timeout`` is per
    attempt, in seconds; ``retries`` is how many attempts may follow the first, when the failure
    allows one (see the module docstring: a write is retried only when it certainly was not sent);
    ``backoff`` is the first wait in seconds, doubled after each attempt (a ``Retry-After`` header
    is honoured, up to 5 s, when it is longer).
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
    ) -> None:
        if base_url is None or token is None:
            cfg = settings().runtime
            base_url = cfg.rasa_url if base_url is None else base_url
            token = cfg.rasa_token.reveal() if token is None else token
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self._local = threading.local()

    def __repr__(self) -> str:  # never the token
        return f"RasaClient({self.base_url!r}, timeout={self.timeout}, retries={self.retries})"

    def _session(self) -> requests.Session:
        if getattr(self._local, "session", None) is None:
            self._local.session = requests.Session()
        return self._local.session

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        retry_on_status: bool = False,
    ) -> requests.Response:
        """One API call with retries (see the module docstring); the 2xx response, else a typed error.

        ``retry_on_status`` lets a write be retried on 429/5xx too (a GET always is).
        """
        query = dict(params or {})
        if self._token:
            query["token"] = self._token
        url = self.base_url + path
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else {}
        safe_to_repeat = method == "GET"  # a write may have been carried out even when no answer came
        retry_status = safe_to_repeat or retry_on_status
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            wait = self.backoff * 2 ** (attempt - 1)
            status: int | None = None
            # "after N attempts" only when there were several: a single failure reads as it is.
            tries = f" after {attempt} attempts" if attempt > 1 else ""
            try:
                response = self._session().request(
                    method,
                    url,
                    params=query,
                    data=data,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,  # Rasa never redirects; a redirect must not carry the token elsewhere
                )
            except requests.ConnectionError as exc:  # includes ConnectTimeout
                if _never_sent(exc):
                    problem = f"unreachable ({type(exc).__name__})"
                else:  # e.g. "Connection aborted" after the request went out: Rasa may have acted on it
                    problem = f"connection lost ({type(exc).__name__})"
                    if not safe_to_repeat:
                        raise RasaUnavailable(f"Rasa {operation}: {problem}{tries}") from None
            except requests.Timeout:
                problem = f"no answer within {self.timeout:g} s"
                if not safe_to_repeat:  # the call may have been processed: do not do it twice
                    raise RasaUnavailable(f"Rasa {operation}: {problem}{tries}") from None
            except requests.RequestException as exc:
                raise RasaUnavailable(f"Rasa {operation}: request failed ({type(exc).__name__})") from None
            else:
                if response.status_code < 300:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise RasaRejected(operation, response.status_code, _reason(response))
                problem = f"HTTP {response.status_code}"
                reason = _reason(response)
                if reason:
                    problem += f" ({reason})"
                status = response.status_code
                if not retry_status:  # Rasa got the call; a 5xx may come after an action already spoke
                    raise RasaUnavailable(f"Rasa {operation}: {problem}{tries}", status)
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    wait = max(wait, min(float(retry_after), _MAX_RETRY_AFTER))
            if attempt == attempts:
                raise RasaUnavailable(f"Rasa {operation}: {problem}{tries}", status)
            logger.info("Rasa %s: %s; retrying in %.1f s", operation, problem, wait)
            time.sleep(wait)
        raise AssertionError("unreachable")  # the loop always returns or raises

    @staticmethod
    def _json(operation: str, response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise RasaUnavailable(f"Rasa {operation}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise RasaUnavailable(f"Rasa {operation}: the answer is not a JSON object")
        return body

    def trigger_intent(
        self,
        conversation_id: str,
        intent: str,
        entities: Mapping[str, Any] | None = None,
        output_channel: str | None = None,
        *,
        retry_on_status: bool = False,
    ) -> dict[str, Any]:
        """``POST /conversations/{id}/trigger_intent``: run ``intent`` (with ``entities``) in a conversation.

        The bot's replies go to ``output_channel`` (a channel name such as ``"telegram"``; Rasa
        collects them into the answer when it is None or unknown). Returns Rasa's answer
        (``{"tracker": {...}, "messages": [...]}``). A 429/5xx is retried only with
        ``retry_on_status`` (Rasa may answer 500 after the action already sent its message).
        """
        params = {"output_channel": output_channel} if output_channel else None
        payload = {"name": intent, "entities": dict(entities or {})}
        path = _conversation_path(conversation_id) + "/trigger_intent"
        response = self._call("trigger_intent", "POST", path, params, payload, retry_on_status)
        return self._json("trigger_intent", response)

    def append_events(
        self,
        conversation_id: str,
        events: Sequence[Mapping[str, Any]],
        output_channel: str | None = None,
        execute_side_effects: bool = False,
        *,
        retry_on_status: bool = False,
    ) -> dict[str, Any]:
        """``POST /conversations/{id}/tracker/events``: add ``events`` (Rasa event dicts) to a conversation.

        With ``execute_side_effects`` the bot utterances among them are sent to ``output_channel``
        (how a staff member's reply reaches the citizen). Returns the updated tracker. A 429/5xx is
        retried only with ``retry_on_status`` (the events may have been appended already).
        """
        params: dict[str, str] = {}
        if output_channel:
            params["output_channel"] = output_channel
        if execute_side_effects:
            params["execute_side_effects"] = "true"
        response = self._call(
            "append_events",
            "POST",
            _conversation_path(conversation_id) + "/tracker/events",
            params,
            [dict(event) for event in events],
            retry_on_status,
        )
        return self._json("append_events", response)

    def get_tracker(self, conversation_id: str, include_events: str = "AFTER_RESTART") -> dict[str, Any]:
        """``GET /conversations/{id}/tracker``: the conversation's state (``include_events``: ALL,
        AFTER_RESTART, APPLIED or NONE)."""
        response = self._call(
            "get_tracker",
            "GET",
            _conversation_path(conversation_id) + "/tracker",
            {"include_events": include_events},
        )
        return self._json("get_tracker", response)

    def replace_model(self, model_path: str, *, retry_on_status: bool = False) -> None:
        """``PUT /model``: load the model file ``model_path`` (a path on the Rasa server's machine).

        Rasa answers only once the new model is loaded, so give this client a generous timeout.
        A 429/5xx is retried only with ``retry_on_status``.
        """
        self._call("replace_model", "PUT", "/model", body={"model_file": model_path}, retry_on_status=retry_on_status)

    def status(self) -> RasaStatus:
        """``GET /status``: which model is loaded."""
        body = self._json("status", self._call("status", "GET", "/status"))
        jobs = body.get("num_active_training_jobs")
        return RasaStatus(
            model_file=str(body.get("model_file") or ""),
            model_id=str(body.get("model_id") or ""),
            num_active_training_jobs=jobs if isinstance(jobs, int) else 0,
        )
