"""Telegram channel on python-telegram-bot (webhook input, output with inline keyboards, pushes).

Rasa's bundled Telegram channel uses aiogram and cannot push from inside Rasa's
event loop; this one uses ptb's async :class:`telegram.Bot`. A ptb ``Bot`` owns
an httpx client whose connections belong to the event loop that opened them, so
one ``Bot`` is created lazily per running loop (Rasa's sanic loop, a test loop,
the polling runner's loop) and never shared across loops.

Options (credentials.yml key, else environment variable):
``token`` / ``TELEGRAM_BOT_TOKEN``, ``secret_token`` / ``TELEGRAM_SECRET_TOKEN``,
``base_url`` / ``TELEGRAM_API_BASE_URL`` (default ``https://api.telegram.org/bot``).
Without a token the channel is disabled: the webhook answers 503 and pushes are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.channels import mask_user, setting
from bot.channels.inbound import clean_text, conversation_id, requester_key, too_long, too_long_reply
from bot.channels.output import ReplyOutputChannel
from bot.channels.replies import TELEGRAM_TEXT_LIMIT
from bot.replies import Reply
from bot.settings import default, settings
from bot.wording import text as wording

logger = logging.getLogger(__name__)

CHANNEL_NAME = "telegram_ptb"
DEFAULT_BASE_URL = default("TELEGRAM_API_BASE_URL")
DEFAULT_START_TEXT = default("TELEGRAM_START_TEXT")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram limits callback_data to 64 bytes; longer payloads travel as a digest key.
CALLBACK_DATA_LIMIT = 64
_DIGEST_PREFIX = "h:"


class MalformedUpdate(ValueError):
    """The body is JSON but not a Telegram Update (python-telegram-bot could not read it)."""


class PayloadBook:
    """Remembers payloads too long for ``callback_data`` (bounded, most recent first out last)."""

    def __init__(self, size: int = 5000) -> None:
        self._size = size
        self._items: OrderedDict[str, str] = OrderedDict()

    def encode(self, payload: str) -> str:
        """``callback_data`` for ``payload``: itself when short enough, else a digest key."""
        if len(payload.encode("utf-8")) <= CALLBACK_DATA_LIMIT and not payload.startswith(_DIGEST_PREFIX):
            return payload
        key = _DIGEST_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
        self._items[key] = payload
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)
        return key

    def decode(self, data: str) -> str | None:
        """The payload behind ``callback_data``; ``None`` when a digest key is unknown (e.g. after a restart)."""
        if data.startswith(_DIGEST_PREFIX):
            return self._items.get(data)
        return data


PAYLOADS = PayloadBook()


def keyboard_for(reply: Reply, book: PayloadBook = PAYLOADS) -> InlineKeyboardMarkup | None:
    """An inline keyboard: one row per button (titles are long Vietnamese phrases), then link rows."""
    rows = [[InlineKeyboardButton(b.title[:64], callback_data=book.encode(b.payload))] for b in reply.buttons]
    rows += [[InlineKeyboardButton(link.title[:64], url=link.url)] for link in reply.links]
    return InlineKeyboardMarkup(rows) if rows else None


class _BotPerLoop:
    """Lazily creates one initialised ptb ``Bot`` per running event loop."""

    def __init__(self, token: str, base_url: str) -> None:
        self.token = token
        self.base_url = base_url
        self._bots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Bot] = weakref.WeakKeyDictionary()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    async def get(self) -> Bot:
        loop = asyncio.get_running_loop()
        bot = self._bots.get(loop)
        if bot is not None:
            return bot
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            bot = self._bots.get(loop)
            if bot is None:
                bot = Bot(self.token, base_url=self.base_url)
                await bot.initialize()
                self._bots[loop] = bot
        return bot

    async def shutdown(self) -> None:
        """Close the current loop's bot (tests and the polling runner call this)."""
        bot = self._bots.pop(asyncio.get_running_loop(), None)
        if bot is not None:
            await bot.shutdown()


class TelegramOutput(ReplyOutputChannel):
    """Sends Rasa's replies to a Telegram chat: text split at 4096 characters, buttons as an inline keyboard."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def __init__(self, bots: _BotPerLoop, book: PayloadBook = PAYLOADS) -> None:
        self._bots = bots
        self._book = book

    async def bot(self) -> Bot:
        """The ptb ``Bot`` of the running loop."""
        return await self._bots.get()

    async def send_reply(self, chat_id: str | int, reply: Reply) -> int:
        """Send one reply; the keyboard rides on the last part. Returns the number of messages sent."""
        if reply.is_empty:
            return 0
        bot = await self.bot()
        parts = reply.parts(TELEGRAM_TEXT_LIMIT)
        markup = keyboard_for(reply, self._book)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            # Telegram refuses empty texts; a keyboard-only reply needs a caption.
            text = part or wording("channel.choose_below" if reply.buttons else "channel.links_caption")
            await bot.send_message(chat_id=chat_id, text=text, reply_markup=markup if last else None)
        return len(parts)


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class TelegramInput(InputChannel):
    """Webhook at ``/webhooks/telegram_ptb/webhook``: text messages and inline-button presses, private chats only."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        cfg = settings().channels
        return cls(
            token=setting(credentials, "token", cfg.telegram_bot_token),
            secret_token=setting(credentials, "secret_token", cfg.telegram_secret_token),
            base_url=setting(credentials, "base_url", cfg.telegram_api_base_url),
            start_text=setting(credentials, "start_text", cfg.telegram_start_text),
        )

    def __init__(
        self,
        token: str = "",
        secret_token: str = "",
        base_url: str = DEFAULT_BASE_URL,
        start_text: str = DEFAULT_START_TEXT,
    ) -> None:
        self.token = token
        self.secret_token = secret_token
        self.base_url = base_url or DEFAULT_BASE_URL
        self.start_text = start_text
        self._bots = _BotPerLoop(token, self.base_url) if token else None
        if not token:
            logger.info("Telegram channel disabled: TELEGRAM_BOT_TOKEN is not set.")
        elif not secret_token:
            logger.warning("Telegram webhook refuses every update: TELEGRAM_SECRET_TOKEN is not set.")

    @property
    def enabled(self) -> bool:
        """Whether a bot token is configured."""
        return self._bots is not None

    def get_output_channel(self) -> OutputChannel | None:
        """Output for bot-initiated messages.

        Used by ``POST /conversations/{chat_id}/trigger_intent?output_channel=telegram_ptb``.
        """
        return TelegramOutput(self._bots) if self._bots else None

    def secret_ok(self, header_value: str | None) -> bool:
        """Constant-time check of the webhook secret header; never true when no secret is configured."""
        if not self.secret_token or not header_value:
            return False
        return hmac.compare_digest(header_value.encode("utf-8"), self.secret_token.encode("utf-8"))

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        bp = Blueprint(f"{CHANNEL_NAME}_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "enabled": self.enabled})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.json({"error": "telegram channel is not configured"}, status=503)
            if not self.secret_ok(request.headers.get(SECRET_HEADER)):
                logger.warning("Telegram webhook: missing or wrong secret token header; update ignored.")
                return response.json({"error": "unauthorized"}, status=401)
            try:
                data = request.json
            except Exception:  # sanic raises InvalidUsage on malformed JSON
                data = None
            if not isinstance(data, dict):
                return response.json({"error": "body must be a Telegram Update object"}, status=400)
            try:
                await self.handle_update(data, on_new_message)
            except MalformedUpdate as exc:
                logger.warning("Telegram webhook: not an Update object (%s); ignored", exc)
                return response.json({"error": "body must be a Telegram Update object"}, status=400)
            except Exception:
                # Answer 200 anyway: Telegram would redeliver the same update forever.
                logger.exception("Telegram update %s failed", data.get("update_id"))
            return response.json({"status": "ok"})

        return bp

    async def handle_update(self, data: dict[str, Any], on_new_message: OnNewMessage) -> str:
        """Process one Update (from the webhook or the polling runner); returns what was done, for tests and logs."""
        assert self._bots is not None
        output = TelegramOutput(self._bots)
        bot = await output.bot()
        try:
            update = Update.de_json(data, bot)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise MalformedUpdate(type(exc).__name__) from None
        if update is None:
            return "empty"
        if update.callback_query is not None:
            query = update.callback_query
            try:
                await bot.answer_callback_query(query.id)
            except TelegramError:
                logger.warning("Telegram: could not answer callback query (it may be too old)")
            message = query.message
            chat = message.chat if message is not None else None
            if chat is not None and chat.type != "private":
                return "ignored-group"
            chat_id = chat.id if chat is not None else query.from_user.id
            payload = PAYLOADS.decode(query.data or "")
            if payload is None:
                await output.send_reply(chat_id, Reply(wording("channel.stale_button")))
                return "stale-button"
            await self._forward(on_new_message, output, chat_id, payload, update, query.from_user.language_code)
            return "callback"
        message = update.message
        if message is None:
            return "ignored"
        if message.chat.type != "private":
            # A public-service assistant talks about personal dossiers: private chats only.
            return "ignored-group"
        text = (message.text or "").strip()
        if text.split("@")[0] == "/start":  # Telegram's own command, before "/" is read as words
            text = self.start_text
        text = clean_text(text)
        if not text:
            await output.send_reply(message.chat.id, Reply(wording("channel.not_text")))
            return "not-text"
        if too_long(text):
            await output.send_reply(message.chat.id, Reply(text=too_long_reply()))
            return "too-long"
        language = message.from_user.language_code if message.from_user else None
        await self._forward(on_new_message, output, message.chat.id, text, update, language)
        return "text"

    async def _forward(
        self,
        on_new_message: OnNewMessage,
        output: TelegramOutput,
        chat_id: int,
        text: str,
        update: Update,
        language: str | None,
    ) -> None:
        bot = await output.bot()
        with contextlib.suppress(TelegramError):  # the typing indicator is cosmetic
            await bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
        logger.debug("Telegram message from %s", mask_user(chat_id))
        await on_new_message(
            UserMessage(
                text=text,
                output_channel=output,
                sender_id=conversation_id(self.name(), chat_id),
                input_channel=self.name(),
                message_id=f"tg-{update.update_id}",
                # The chat id comes from Telegram's signed webhook: the client cannot choose it.
                metadata={
                    "channel": "telegram",
                    "language": language,
                    "requester": requester_key(self.name(), str(chat_id)),
                },
            )
        )
