"""``python -m bot.console.cli``: serve the staff console, and manage its accounts.

    serve                                   uvicorn on BIND_HOST:CONSOLE_PORT (migrates the database first)
    add-user NAME --role ROLE [--display-name ..] [--password-stdin]
    set-password NAME [--password-stdin]
    disable-user NAME | enable-user NAME
    list-users

Passwords are read twice without echo, or once from standard input with ``--password-stdin``.
Bad input (duplicate user, weak password, unknown user) prints one line and exits with 2.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from bot.console.auth import MIN_PASSWORD_CHARS, ROLES, AccountError, Accounts
from bot.console.labels import t
from bot.db import engine_for
from bot.db.schema import ensure_schema
from bot.settings import PRIVATE_UMASK, validate_or_exit

__all__ = ["build_parser", "main"]


class InputError(Exception):
    """Input the command cannot use; the message is printed as is."""


def build_parser() -> argparse.ArgumentParser:
    """The console command's arguments."""
    parser = argparse.ArgumentParser(prog="python -m bot console", description="The help-desk staff console.")
    return add_commands(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``console`` command group to ``python -m bot``."""
    console = subparsers.add_parser("console", help="the help-desk staff console: serve, accounts")
    add_commands(console).set_defaults(func=run)


def add_commands(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The console's subcommands on ``parser``."""
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="start the console's web server (BIND_HOST:CONSOLE_PORT)")
    add = sub.add_parser("add-user", help="create a console account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--display-name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    setpw = sub.add_parser("set-password", help="set a new password (the account's sessions end)")
    setpw.add_argument("username")
    setpw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for name, text in (("disable-user", "disable an account (its sessions end)"), ("enable-user", "enable it again")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("username")
    sub.add_parser("list-users", help="list the accounts")
    return parser


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(t("cli.password"))
        if getpass.getpass(t("cli.password_again")) != password:
            raise InputError("the two passwords differ")
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"the password is too short: at least {MIN_PASSWORD_CHARS} characters")
    return password


def _accounts() -> Accounts:
    engine = engine_for()
    ensure_schema(engine)
    return Accounts(engine)


def _serve() -> int:
    import uvicorn

    from bot.console.app import create_app
    from bot.privacy import install_log_masking

    cfg = validate_or_exit()
    os.umask(PRIVATE_UMASK)
    install_log_masking()
    engine = engine_for()
    ensure_schema(engine)
    app = create_app(engine=engine)
    print(f"console: http://{cfg.core.bind_host}:{cfg.console.port}/", file=sys.stderr)
    # No access log: paths name conversations, and the masking log-record factory flattens the
    # records' arguments, which uvicorn's access formatter needs.
    uvicorn.run(app, host=cfg.core.bind_host, port=cfg.console.port, log_level="info", access_log=False,
                server_header=False, proxy_headers=False, ws="none")  # fmt: skip
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console command; 0 on success, 2 on bad input."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    return run(args)


def run(args: argparse.Namespace) -> int:
    """One console command with its arguments parsed (``python -m bot console …``)."""
    if args.command == "serve":
        return _serve()
    try:
        if args.command == "add-user":
            accounts = _accounts()
            if accounts.by_name(args.username.strip()) is not None:
                raise InputError(f"the account {args.username.strip()!r} exists already")
            user = accounts.create(args.username, _password(args.password_stdin), args.role, args.display_name)
            print(f"created {user.username} ({user.role})")
        elif args.command == "set-password":
            accounts = _accounts()
            if accounts.by_name(args.username) is None:
                raise InputError(f"no account {args.username!r}")
            accounts.set_password(args.username, _password(args.password_stdin))
            print(f"password of {args.username} changed; its sessions ended")
        elif args.command in ("disable-user", "enable-user"):
            _accounts().set_disabled(args.username, args.command == "disable-user")
            print(f"{args.username} {'disabled' if args.command == 'disable-user' else 'enabled'}")
        elif args.command == "list-users":
            for user in _accounts().list():
                state = "disabled" if user.disabled else "active"
                print(f"{user.username}\t{user.role}\t{state}\t{user.display_name}")
    except (InputError, AccountError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
