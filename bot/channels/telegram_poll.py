"""Telegram without a public HTTPS address: long-poll ``getUpdates`` and forward each update to Rasa.

Runs beside Rasa (``python -m bot telegram poll``). Every update is POSTed to
the channel's own webhook on the local Rasa server with the secret header, so
polling and webhook deployments share one code path. An update is
acknowledged (the ``offset`` moves past it) only after Rasa accepted it; if
Rasa is down the runner waits and retries the same update.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

import aiohttp
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bot.channels.telegram import DEFAULT_BASE_URL, SECRET_HEADER
from bot.settings import settings

logger = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "callback_query"]


def default_forward_url() -> str:
    """The Telegram webhook of the local Rasa server (``BIND_HOST``/``RASA_PORT``)."""
    cfg = settings().core
    host = "127.0.0.1" if cfg.bind_host in ("0.0.0.0", "::") else cfg.bind_host
    return f"http://{host}:{cfg.rasa_port}/webhooks/telegram_ptb/webhook"


async def _forward(http: aiohttp.ClientSession, url: str, secret: str, update: dict[str, Any]) -> None:
    delay = 1.0
    while True:
        try:
            async with http.post(url, json=update, headers={SECRET_HEADER: secret}) as resp:
                if resp.status == 200:
                    return
                if resp.status in (401, 403):
                    raise RuntimeError("Rasa refused the update: TELEGRAM_SECRET_TOKEN differs between Rasa and poller")
                if 400 <= resp.status < 500 and resp.status not in (408, 429):
                    # The update itself is refused (not an Update, too large): sending it again cannot help.
                    logger.warning("Rasa refused update %s with %s; skipped", update.get("update_id"), resp.status)
                    return
                logger.warning("Rasa answered %s to update %s; retrying", resp.status, update.get("update_id"))
        except aiohttp.ClientError as exc:
            logger.warning("Rasa not reachable at %s (%s); retrying in %.0f s", url, exc.__class__.__name__, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def poll(
    *,
    token: str,
    secret: str,
    forward_url: str,
    base_url: str = DEFAULT_BASE_URL,
    timeout: int = 30,
    stop: asyncio.Event | None = None,
    max_rounds: int | None = None,
) -> int:
    """Poll until ``stop`` is set (or ``max_rounds`` getUpdates calls); returns how many updates were forwarded."""
    stop = stop or asyncio.Event()
    forwarded = 0
    rounds = 0
    offset: int | None = None
    async with Bot(token, base_url=base_url) as bot, aiohttp.ClientSession() as http:
        # getUpdates is refused while a webhook is registered.
        await bot.delete_webhook(drop_pending_updates=False)
        while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
            rounds += 1
            fetch = asyncio.ensure_future(
                bot.get_updates(offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES)
            )
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not fetch.done():  # stop was requested during a long poll
                fetch.cancel()
                break
            try:
                updates = fetch.result()
            except (TimedOut, NetworkError) as exc:
                logger.warning("getUpdates failed (%s); retrying", exc)
                await asyncio.sleep(2)
                continue
            for update in updates:
                await _forward(http, forward_url, secret, update.to_dict())
                offset = update.update_id + 1
                forwarded += 1
        if offset is not None:
            # Confirm the last batch so a restart does not replay it.
            await bot.get_updates(offset=offset, timeout=0)
    return forwarded


def run(args: argparse.Namespace) -> int:
    """``python -m bot telegram poll``."""
    cfg = settings().channels
    token, secret = cfg.telegram_bot_token, cfg.telegram_secret_token
    if not token or not secret:
        raise SystemExit("error: set TELEGRAM_BOT_TOKEN and TELEGRAM_SECRET_TOKEN (the same values Rasa sees)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The token is part of every Bot API URL: keep httpx from logging URLs.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"forwarding Telegram updates to {args.rasa_url}; Ctrl-C stops")
        return await poll(
            token=token,
            secret=secret,
            forward_url=args.rasa_url,
            base_url=cfg.telegram_api_base_url,
            timeout=args.timeout,
            stop=stop,
        )

    count = asyncio.run(main())
    print(f"stopped after forwarding {count} updates")
    return 0


async def set_webhook(url: str, *, token: str, secret: str, base_url: str = DEFAULT_BASE_URL) -> bool:
    """Register ``url`` as the bot's webhook, with the secret header and only the update types we handle."""
    async with Bot(token, base_url=base_url) as bot:
        return await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
