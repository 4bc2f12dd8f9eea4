"""``python -m bot telegram poll|set-webhook`` and ``python -m bot channels credentials|zalo-token``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path


def _poll(args: argparse.Namespace) -> int:
    from bot.channels.telegram_poll import default_forward_url, run

    args.rasa_url = args.rasa_url or default_forward_url()
    return run(args)


def _set_webhook(args: argparse.Namespace) -> int:
    from bot.channels.telegram_poll import set_webhook
    from bot.settings import settings

    cfg = settings().channels
    token, secret = cfg.telegram_bot_token, cfg.telegram_secret_token
    if not token or not secret:
        raise SystemExit("error: set TELEGRAM_BOT_TOKEN and TELEGRAM_SECRET_TOKEN first")
    if not args.url.startswith("https://"):
        raise SystemExit("error: Telegram only calls HTTPS webhooks; for a server without HTTPS use `telegram poll`")
    ok = asyncio.run(set_webhook(args.url, token=token, secret=secret, base_url=cfg.telegram_api_base_url))
    print("webhook registered" if ok else "Telegram refused the webhook")
    return 0 if ok else 1


def _credentials(args: argparse.Namespace) -> int:
    from bot.channels.credentials import main

    return main([str(args.output)] if args.output else [])


def _zalo_token(args: argparse.Namespace) -> int:
    from bot.channels.store import ChannelStore
    from bot.settings import settings

    app_id = settings().channels.zalo_app_id
    if not app_id:
        raise SystemExit("error: set ZALO_APP_ID first")
    state = ChannelStore().replace_token(f"zalo:{app_id}", args.access_token or "", args.refresh_token)
    print(f"stored a new Zalo token pair for app {app_id} (version {state.version})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``telegram`` and ``channels`` command groups."""
    telegram = subparsers.add_parser("telegram", help="Telegram channel: polling runner, webhook registration")
    tsub = telegram.add_subparsers(dest="command", required=True)
    poll = tsub.add_parser("poll", help="long-poll Telegram and forward updates to the local Rasa (no HTTPS needed)")
    poll.add_argument("--rasa-url", default=None, help="Rasa's telegram_ptb webhook (default: local, RASA_PORT)")
    poll.add_argument("--timeout", type=int, default=30, help="long-poll timeout in seconds")
    poll.set_defaults(func=_poll)
    hook = tsub.add_parser("set-webhook", help="register the public HTTPS webhook URL with Telegram")
    hook.add_argument("url", help="e.g. https://tro-ly.example.gov.vn/webhooks/telegram_ptb/webhook")
    hook.set_defaults(func=_set_webhook)

    channels = subparsers.add_parser("channels", help="messaging channels")
    csub = channels.add_subparsers(dest="command", required=True)
    cred = csub.add_parser("credentials", help="write the Rasa credentials file with the configured channels only")
    cred.add_argument("output", nargs="?", type=Path, default=None, help="default: var/credentials.yml")
    cred.set_defaults(func=_credentials)
    zalo = csub.add_parser("zalo-token", help="store a Zalo token pair after re-authorising the OA (replaces the old)")
    zalo.add_argument("--refresh-token", required=True)
    zalo.add_argument("--access-token", default="", help="optional; obtained with the refresh token when omitted")
    zalo.set_defaults(func=_zalo_token)
