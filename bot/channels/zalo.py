"""Zalo Official Account channel: signed webhook in, OA API v3 customer-service messages out.

* Webhook ``POST /webhooks/zalo/webhook``: the ``X-ZEvent-Signature`` header is
  ``mac=`` + hex sha256(app_id + raw body + timestamp + OA secret key), the
  timestamp being the body's ``timestamp`` field (milliseconds). Forged or
  missing signatures and timestamps older than ``ZALO_MAX_EVENT_AGE`` (2 h: Zalo
  retries an undelivered event for about an hour, with its first timestamp) get
  401; an event seen before (same ``msg_id``, or same body; kept in the database,
  so every replica knows it) gets 200 without being processed again. Accepted
  events are answered with 200 at once and processed in a background task:
  Zalo treats a webhook slower than about 2 s as failing.
* Outbound: ``POST {api_base}/v3.0/oa/message/cs`` with the ``access_token``
  header, through aiohttp so Rasa's event loop never blocks. Zalo lets an OA
  send customer-service messages free for 48 hours after a user's last message,
  then, billed to the OA's Zalo Cloud Account, until 7 days: past 48 hours nothing
  is sent unless ``ZALO_PAID_MESSAGES`` (:class:`SendStatus.OUTSIDE_FREE_WINDOW`),
  past 7 days never (:class:`SendStatus.OUTSIDE_WINDOW`); see
  :meth:`bot.settings.ChannelSettings.zalo_window`.
* Tokens: an access token lasts about 25 h; it is renewed with the refresh token
  (``POST {oauth_base}/v4/oa/access_token``). A refresh token works once, so the
  new pair is stored in the database with a compare-and-swap (see
  :mod:`bot.channels.store`) before it is used.

Options (credentials.yml key, else environment variable): ``app_id`` / ``ZALO_APP_ID``,
``app_secret`` / ``ZALO_APP_SECRET`` (sent as ``secret_key`` to OAuth),
``oa_secret_key`` / ``ZALO_OA_SECRET_KEY`` (webhook signature), ``access_token`` /
``ZALO_ACCESS_TOKEN`` and ``refresh_token`` / ``ZALO_REFRESH_TOKEN`` (first pair only;
later pairs live in the database), ``api_base`` / ``ZALO_API_BASE``,
``oauth_base`` / ``ZALO_OAUTH_BASE``, ``max_event_age`` / ``ZALO_MAX_EVENT_AGE`` (seconds). The
messaging windows come from ``ZALO_FREE_WINDOW_HOURS``, ``ZALO_MESSAGE_WINDOW_HOURS`` and
``ZALO_PAID_MESSAGES`` only.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import mask_user, setting
from bot.channels.inbound import clean_text, conversation_id, requester_key, too_long, too_long_reply
from bot.channels.output import ReplyOutputChannel
from bot.channels.replies import ZALO_TEXT_LIMIT, as_plain_text
from bot.channels.store import ChannelStore, Lease, TokenState
from bot.db.clock import naive_utc
from bot.replies import Button, Reply
from bot.settings import default, settings
from bot.wording import text as wording

logger = logging.getLogger(__name__)

CHANNEL_NAME = "zalo"
DEFAULT_API_BASE = default("ZALO_API_BASE")
DEFAULT_OAUTH_BASE = default("ZALO_OAUTH_BASE")
DEFAULT_FOLLOW_TEXT = default("ZALO_FOLLOW_TEXT")
SIGNATURE_HEADER = "X-ZEvent-Signature"
DEFAULT_MAX_EVENT_AGE = float(default("ZALO_MAX_EVENT_AGE"))


class ErrorKind(enum.Enum):
    """What an OA API error code means for the bot (see :data:`ZALO_ERRORS`)."""

    TOKEN = "token"  # refresh the access token once, then retry once
    CONFIG = "config"  # our request is wrong for the platform: logged as an error, never retried
    PARAMETER = "parameter"  # a malformed request: logged, not retried
    WINDOW = "window"  # the citizen's messaging window is closed: reported as outside the window
    UNREACHABLE = "unreachable"  # the citizen cannot be messaged by the OA: reported as outside the window
    QUIET_HOURS = "quiet_hours"  # not sent at night: reported as failed, try later
    RATE_LIMIT = "rate_limit"  # too many calls: reported as failed, try later
    FUNDING = "funding"  # a paid message the OA's Zalo Cloud Account does not fund


#: The OA API error codes the bot acts on, in one place: code -> (kind, meaning). The codes and their
#: kinds are those of issue 14 (gathered from Zalo's SDKs and published error codes); the meanings of the
#: "cannot be messaged" group are not told apart here, since the bot does the same for all of them.
ZALO_ERRORS: dict[int, tuple[ErrorKind, str]] = {
    -216: (ErrorKind.TOKEN, "access token invalid"),
    -220: (ErrorKind.TOKEN, "access token expired or removed"),
    -124: (ErrorKind.TOKEN, "access token invalid (older code)"),
    -240: (ErrorKind.CONFIG, "the v2 API is shut down: the request must use the v3 endpoints"),
    -201: (ErrorKind.PARAMETER, "a parameter of the request is invalid"),
    -213: (ErrorKind.WINDOW, "the user has not followed the OA or has not interacted with it"),
    -230: (ErrorKind.WINDOW, "the user has not interacted with the OA within the last 7 days"),
    -217: (ErrorKind.UNREACHABLE, "the citizen cannot be messaged by the OA now"),
    -227: (ErrorKind.UNREACHABLE, "the citizen cannot be messaged by the OA now"),
    -232: (ErrorKind.UNREACHABLE, "the citizen cannot be messaged by the OA now"),
    -244: (ErrorKind.UNREACHABLE, "the citizen cannot be messaged by the OA now"),
    -234: (ErrorKind.QUIET_HOURS, "messages may not be sent at night"),
    -32: (ErrorKind.RATE_LIMIT, "the OA exceeded the API's rate limit"),
    -320: (ErrorKind.FUNDING, "a paid message: the OA's Zalo Cloud Account must fund it"),
    -321: (ErrorKind.FUNDING, "a paid message: the OA's Zalo Cloud Account has no funds left"),
}
# Derived from the table, for the send loop.
TOKEN_ERRORS = frozenset(code for code, (kind, _) in ZALO_ERRORS.items() if kind is ErrorKind.TOKEN)
WINDOW_ERRORS = frozenset(
    code for code, (kind, _) in ZALO_ERRORS.items() if kind in (ErrorKind.WINDOW, ErrorKind.UNREACHABLE)
)
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
# The scheduled keep-alive (make run's housekeeping) refreshes when the access token (about 25 h) has less
# than this left, or when the pair is this old: well before the refresh token's 3 months run out.
KEEP_ALIVE_ACCESS = timedelta(hours=6)
KEEP_ALIVE_REFRESH = timedelta(days=30)


def _sent_at(event: dict[str, Any]) -> datetime:
    """When the user wrote: the event's ``timestamp`` (ms; already checked fresh), never later than now."""
    try:
        sent = datetime.fromtimestamp(float(event.get("timestamp") or 0) / 1000.0, timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        return naive_utc()
    return min(sent, naive_utc())


class SendStatus(enum.Enum):
    """What happened to an outbound reply."""

    SENT = "sent"
    OUTSIDE_WINDOW = "outside_window"
    OUTSIDE_FREE_WINDOW = "outside_free_window"  # past the free 48 h, and ZALO_PAID_MESSAGES is off
    NOT_FUNDED = "not_funded"  # a paid message (after the free window) that the OA does not fund: -320/-321
    FAILED = "failed"
    EMPTY = "empty"


class ZaloError(RuntimeError):
    """The OA or OAuth API refused a request."""


def signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The expected ``X-ZEvent-Signature`` value for a webhook body."""
    digest = hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + oa_secret_key.encode()).hexdigest()
    return f"mac={digest}"


class ChoiceMemory:
    """Numbered choices last shown to each user, so that replying "2" sends the second button's payload."""

    def __init__(self, ttl_seconds: float = 3600, size: int = 10000) -> None:
        self._ttl = ttl_seconds
        self._size = size
        self._items: dict[str, tuple[float, tuple[Button, ...]]] = {}

    def remember(self, user_id: str, buttons: Sequence[Button]) -> None:
        if len(self._items) >= self._size:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if v[0] > now}
            if len(self._items) >= self._size:
                self._items.pop(next(iter(self._items)))
        self._items[user_id] = (time.monotonic() + self._ttl, tuple(buttons))

    def resolve(self, user_id: str, text: str) -> str:
        """The payload for a bare number that matches a shown choice; otherwise ``text`` unchanged."""
        entry = self._items.get(user_id)
        candidate = text.strip().rstrip(".")
        if entry is None or not candidate.isdigit() or entry[0] < time.monotonic():
            return text
        index = int(candidate) - 1
        buttons = entry[1]
        if 0 <= index < len(buttons):
            self._items.pop(user_id, None)
            return buttons[index].payload
        return text


class ZaloClient:
    """OA API access with the token life cycle; one instance per process is enough."""

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        access_token: str,
        refresh_token: str,
        api_base: str = DEFAULT_API_BASE,
        oauth_base: str = DEFAULT_OAUTH_BASE,
        store: ChannelStore | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.seed_access = access_token
        self.seed_refresh = refresh_token
        self.api_base = api_base.rstrip("/")
        self.oauth_base = oauth_base.rstrip("/")
        self._store = store
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.choices = ChoiceMemory()

    @property
    def provider(self) -> str:
        return f"zalo:{self.app_id}"

    @property
    def store(self) -> ChannelStore:
        if self._store is None:
            self._store = ChannelStore()
        return self._store

    # -- tokens ---------------------------------------------------------------------------------------------
    async def current_token(self) -> TokenState:
        """The stored token pair (seeded from configuration on first use)."""
        state = await asyncio.to_thread(self.store.load_token, self.provider)
        if state is None:
            state = await asyncio.to_thread(self.store.seed_token, self.provider, self.seed_access, self.seed_refresh)
        if state is None:
            raise ZaloError("no Zalo refresh token: set ZALO_REFRESH_TOKEN (see the README: Zalo Official Account)")
        return state

    async def refresh(self, seen: TokenState) -> TokenState:
        """Spend the refresh token of ``seen`` once across all replicas; return the newer pair."""
        for _ in range(150):
            outcome = await asyncio.to_thread(self.store.try_lease, self.provider, seen.version)
            if outcome is Lease.CHANGED:
                return await self.current_token()
            if outcome is Lease.BUSY:
                await asyncio.sleep(0.2)
                continue
            try:
                access, refresh, expires_in = await self._oauth_refresh(seen.refresh_token)
            except Exception:
                await asyncio.to_thread(self.store.release_lease, self.provider, seen.version)
                raise
            stored = await asyncio.to_thread(
                self.store.save_refreshed, self.provider, seen.version, access, refresh, expires_in
            )
            if not stored:  # the lease expired and another replica refreshed too; its pair wins
                logger.error("Zalo token refresh raced with another replica; using the stored pair")
            logger.info("Zalo access token refreshed")
            return await self.current_token()
        raise ZaloError("timed out waiting for another replica to refresh the Zalo token")

    async def keep_alive(self) -> bool:
        """Refresh the pair before it dies of quiet: when the access token expires within
        :data:`KEEP_ALIVE_ACCESS` or the pair is older than :data:`KEEP_ALIVE_REFRESH` (a refresh token
        lasts about 3 months, and is renewed only by use). True when it refreshed. Safe with several
        replicas and housekeepers: :meth:`refresh` spends the refresh token once (compare-and-swap)."""
        state = await self.current_token()
        now = naive_utc()
        expiring = state.access_expires_at is None or state.access_expires_at - now < KEEP_ALIVE_ACCESS
        old = state.updated_at is not None and now - state.updated_at > KEEP_ALIVE_REFRESH
        if not (expiring or old):
            return False
        newer = await self.refresh(state)
        return newer.version != state.version

    async def _oauth_refresh(self, refresh_token: str) -> tuple[str, str, float | None]:
        url = f"{self.oauth_base}/v4/oa/access_token"
        form = {"refresh_token": refresh_token, "app_id": self.app_id, "grant_type": "refresh_token"}
        async with (
            aiohttp.ClientSession(timeout=self.timeout) as http,
            http.post(url, data=form, headers={"secret_key": self.app_secret}) as resp,
        ):
            body = await resp.json(content_type=None)
        if not isinstance(body, dict) or not body.get("access_token") or not body.get("refresh_token"):
            detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else body
            raise ZaloError(f"Zalo OAuth refused the refresh token: {detail}")
        expires = body.get("expires_in")
        return str(body["access_token"]), str(body["refresh_token"]), float(expires) if expires else None

    # -- window ---------------------------------------------------------------------------------------------
    async def record_user_message(self, user_id: str, at: datetime | None = None) -> None:
        """Open (or extend) the user's messaging window from ``at`` (naive UTC; default now): when the user
        wrote, as Zalo stamped it, since Zalo's windows count from there even for an event retried late."""
        await asyncio.to_thread(self.store.touch_user, CHANNEL_NAME, user_id, at)

    async def window(self, user_id: str) -> str:
        """``"free"``, ``"paid"`` or ``"closed"`` for ``user_id`` now (:meth:`ChannelSettings.zalo_window`)."""
        last = await asyncio.to_thread(self.store.last_user_message, CHANNEL_NAME, user_id)
        return "closed" if last is None else settings().channels.zalo_window(naive_utc() - last)

    # -- sending --------------------------------------------------------------------------------------------
    async def send_reply(self, user_id: str, reply: Reply) -> SendStatus:
        """Send a reply as text messages (buttons as a numbered list, links as lines)."""
        if reply.is_empty:
            return SendStatus.EMPTY
        window = await self.window(user_id)
        if window == "closed":
            logger.warning("Zalo: not sending to %s, outside the messaging window", mask_user(user_id))
            return SendStatus.OUTSIDE_WINDOW
        if window == "paid" and not settings().channels.zalo_paid_messages:
            logger.warning("Zalo: not sending to %s: past the free window, and paid messages are off "
                           "(ZALO_PAID_MESSAGES)", mask_user(user_id))  # fmt: skip
            return SendStatus.OUTSIDE_FREE_WINDOW
        if reply.buttons:
            self.choices.remember(user_id, reply.buttons)
        for part in Reply(as_plain_text(reply)).parts(ZALO_TEXT_LIMIT):
            status = await self.send_text(user_id, part)
            if status is not SendStatus.SENT:
                return status
        return SendStatus.SENT

    async def send_text(self, user_id: str, text: str) -> SendStatus:
        """One customer-service text message; refreshes the access token once if it is rejected."""
        state = await self.current_token()
        if state.access_expires_at is not None and state.access_expires_at - naive_utc() < timedelta(minutes=5):
            state = await self.refresh(state)
        for attempt in range(2):
            error, message = await self._post_cs(state.access_token, user_id, text)
            if error == 0:
                return SendStatus.SENT
            if error in TOKEN_ERRORS and attempt == 0:
                state = await self.refresh(state)
                continue
            kind, meaning = ZALO_ERRORS.get(error, (None, message))
            if error in WINDOW_ERRORS:
                logger.warning("Zalo refused a message to %s: %s (%s)", mask_user(user_id), error, meaning)
                return SendStatus.OUTSIDE_WINDOW
            if kind is ErrorKind.FUNDING:
                logger.warning("Zalo refused a paid message to %s: %s (%s)", mask_user(user_id), error, meaning)
                return SendStatus.NOT_FUNDED
            if kind is ErrorKind.CONFIG:
                logger.error("Zalo send failed: %s (%s); check ZALO_API_BASE and the OA's API version", error, meaning)
                return SendStatus.FAILED
            logger.error("Zalo send to %s failed: %s %s", mask_user(user_id), error, meaning)
            return SendStatus.FAILED
        return SendStatus.FAILED

    async def _post_cs(self, access_token: str, user_id: str, text: str) -> tuple[int, str]:
        body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as http,
                http.post(
                    f"{self.api_base}/v3.0/oa/message/cs", json=body, headers={"access_token": access_token}
                ) as resp,
            ):
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            return -1, f"transport error: {exc.__class__.__name__}"
        if not isinstance(data, dict):
            return -1, "unexpected response"
        return int(data.get("error", -1)), str(data.get("message", ""))


class ZaloOutput(ReplyOutputChannel):
    """Rasa output channel for Zalo; :meth:`send_reply` returns the :class:`SendStatus`."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def __init__(self, client: ZaloClient) -> None:
        self.client = client
        self.statuses: list[SendStatus] = []

    async def send_reply(self, user_id: str, reply: Reply) -> SendStatus:
        status = await self.client.send_reply(user_id, reply)
        self.statuses.append(status)
        return status


class ZaloInput(InputChannel):
    """The OA webhook (``/webhooks/zalo/webhook``)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        c, cfg = credentials, settings().channels
        return cls(
            app_id=setting(c, "app_id", cfg.zalo_app_id),
            app_secret=setting(c, "app_secret", cfg.zalo_app_secret),
            oa_secret_key=setting(c, "oa_secret_key", cfg.zalo_oa_secret_key),
            access_token=setting(c, "access_token", cfg.zalo_access_token),
            refresh_token=setting(c, "refresh_token", cfg.zalo_refresh_token),
            api_base=setting(c, "api_base", cfg.zalo_api_base),
            oauth_base=setting(c, "oauth_base", cfg.zalo_oauth_base),
            max_event_age=float(setting(c, "max_event_age", cfg.zalo_max_event_age)),
            follow_text=setting(c, "follow_text", cfg.zalo_follow_text),
        )

    def __init__(
        self,
        *,
        app_id: str = "",
        app_secret: str = "",
        oa_secret_key: str = "",
        access_token: str = "",
        refresh_token: str = "",
        api_base: str = DEFAULT_API_BASE,
        oauth_base: str = DEFAULT_OAUTH_BASE,
        max_event_age: float = DEFAULT_MAX_EVENT_AGE,
        follow_text: str = DEFAULT_FOLLOW_TEXT,
        store: ChannelStore | None = None,
    ) -> None:
        self.app_id = app_id
        self.oa_secret_key = oa_secret_key
        self.max_event_age = max_event_age
        self.follow_text = follow_text
        self.enabled = bool(app_id and oa_secret_key and app_secret and refresh_token)
        self.client = ZaloClient(
            app_id=app_id,
            app_secret=app_secret,
            access_token=access_token,
            refresh_token=refresh_token,
            api_base=api_base,
            oauth_base=oauth_base,
            store=store,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        if not self.enabled:
            logger.info(
                "Zalo channel disabled: set ZALO_APP_ID, ZALO_APP_SECRET, ZALO_OA_SECRET_KEY, ZALO_REFRESH_TOKEN"
            )

    def get_output_channel(self) -> OutputChannel | None:
        """Output for bot-initiated messages (``trigger_intent?output_channel=zalo``), within the window only."""
        return ZaloOutput(self.client) if self.enabled else None

    def verify(self, raw_body: bytes, header: str | None, timestamp: str) -> bool:
        """Constant-time check of ``X-ZEvent-Signature`` (with or without the ``mac=`` prefix)."""
        # Zalo's timestamp is milliseconds: anything else (even a lone surrogate) is refused before hashing.
        if not header or not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
            return False
        expected = signature(self.app_id, raw_body, timestamp, self.oa_secret_key)
        given = header.strip()
        if not given.startswith("mac="):
            given = f"mac={given}"
        return hmac.compare_digest(given.lower().encode(), expected.encode())

    async def wait_idle(self) -> None:
        """Wait for background processing to finish (tests, graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        bp = Blueprint(f"{CHANNEL_NAME}_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "enabled": self.enabled})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.json({"error": "zalo channel is not configured"}, status=503)
            raw = request.body or b""
            try:
                event = json.loads(raw)
            except (ValueError, RecursionError):  # RecursionError: a body of thousands of "["
                event = None
            if not isinstance(event, dict):
                return response.json({"error": "body must be a JSON object"}, status=400)
            timestamp = str(event.get("timestamp") or "")
            if not self.verify(raw, request.headers.get(SIGNATURE_HEADER), timestamp):
                logger.warning("Zalo webhook: missing or invalid signature; event ignored")
                return response.json({"error": "invalid signature"}, status=401)
            if str(event.get("app_id") or "") != self.app_id:
                return response.json({"error": "unknown app_id"}, status=401)
            if not self._fresh(timestamp):
                logger.warning("Zalo webhook: stale timestamp; event ignored")
                return response.json({"error": "stale event"}, status=401)
            if not await asyncio.to_thread(
                self.client.store.remember_event, self._event_key(event, raw), self.max_event_age * 2 + 60
            ):
                return response.json({"status": "duplicate"})
            task = asyncio.create_task(self._process(event, on_new_message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return response.json({"status": "accepted"})

        return bp

    def _fresh(self, timestamp: str) -> bool:
        try:
            sent = float(timestamp) / 1000.0
        except ValueError:
            return False
        # Allow a little clock skew into the future as well.
        return -60 <= time.time() - sent <= self.max_event_age

    @staticmethod
    def _event_key(event: dict[str, Any], raw: bytes) -> str:
        message = event.get("message")
        msg_id = message.get("msg_id") if isinstance(message, dict) else None
        if msg_id:
            return f"zalo:msg:{msg_id}"
        return f"zalo:body:{hashlib.sha256(raw).hexdigest()}"

    async def _process(self, event: dict[str, Any], on_new_message: OnNewMessage) -> None:
        name = str(event.get("event_name") or "")
        try:
            if name.startswith("oa_send_"):
                return  # the OA's own messages echoed back
            if name == "follow":
                user_id = str((event.get("follower") or {}).get("id") or "")
                text = self.follow_text
            elif name.startswith("user_send_"):
                user_id = str((event.get("sender") or {}).get("id") or "")
                text = str((event.get("message") or {}).get("text") or "").strip() if name == "user_send_text" else ""
            else:
                return
            if not user_id:
                return
            await self.client.record_user_message(user_id, _sent_at(event))
            output = ZaloOutput(self.client)
            if not text:
                await output.send_reply(user_id, Reply(wording("channel.not_text")))
                return
            if too_long(text):
                await output.send_reply(user_id, Reply(text=too_long_reply()))
                return
            text = clean_text(self.client.choices.resolve(user_id, text))
            await on_new_message(
                UserMessage(
                    text=text,
                    output_channel=output,
                    sender_id=conversation_id(self.name(), user_id),
                    input_channel=self.name(),
                    message_id=str((event.get("message") or {}).get("msg_id") or "") or None,
                    # The user id comes from Zalo's signed webhook: the client cannot choose it.
                    metadata={"channel": "zalo", "event": name, "requester": requester_key(self.name(), user_id)},
                )
            )
        except Exception:
            logger.exception("Zalo event %s failed", name)
