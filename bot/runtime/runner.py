"""``make run``: start the action server, Rasa, the dossier watcher, the staff console and the
housekeeping (analytics roll-up, retention purge) on localhost; stop them all on Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import yaml

from bot.runtime.action_server import TOKEN_HEADER
from bot.runtime.model import rasa_env, serving_model
from bot.settings import PRIVATE_UMASK, PROJECT_ROOT, harden_var_dir, own_origins, settings, validate_or_exit

# Rasa's command line with log masking installed first (bot/runtime/rasa_entry.py).
RASA = (sys.executable, "-m", "bot.runtime.rasa_entry")
ACTION_SERVER = (sys.executable, "-m", "bot.runtime.action_server")


@dataclass(frozen=True)
class Ports:
    """Where the servers listen (``RASA_PORT``, ``ACTION_PORT``; loopback unless ``BIND_HOST`` says otherwise)."""

    host: str = field(default_factory=lambda: settings().core.bind_host)
    rasa: int = field(default_factory=lambda: settings().core.rasa_port)
    actions: int = field(default_factory=lambda: settings().core.action_port)
    console: int = field(default_factory=lambda: settings().console.port)


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    shown = url.split("?", 1)[0]  # never the token of the query string
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{shown}: the server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise TimeoutError(f"{shown} did not answer within {timeout:.0f} s")


def _log(path: Path) -> IO[bytes]:
    # The child keeps the descriptor; the parent's copy closes with the process.
    return path.open("ab")


def runtime_endpoints(ports: Ports, target: Path, tracker_db: Path | None = None, *, record: bool = True) -> Path:
    """endpoints.yml with the action server's port and token and, if given, another SQLite tracker database;
    without its event broker (so without the record of conversations) when ``record`` is False, which only
    the benchmark that measures the record's cost uses.

    The file holds the action server's secret: it is written readable by its owner only.
    """
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8")) or {}
    if not record:
        endpoints.pop("event_broker", None)
    action = endpoints.setdefault("action_endpoint", {})
    action["url"] = f"http://{ports.host}:{ports.actions}/webhook"
    action.setdefault("headers", {})[TOKEN_HEADER] = settings().runtime.action_server_token.reveal()
    store = endpoints.get("tracker_store") or {}
    if store.get("dialect") == "sqlite":
        # The tracker lives with the rest of the data (BOT_VAR_DIR), where `conversations rebuild` looks.
        store["db"] = str(tracker_db or settings().core.var_dir / "tracker.db")
        Path(store["db"]).parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(yaml.safe_dump(endpoints, allow_unicode=True, sort_keys=False))
    return target


def rasa_api_url(ports: Ports, path: str) -> str:
    """A URL of Rasa's HTTP API with the token (``RASA_TOKEN``) that every call needs."""
    return f"http://{ports.host}:{ports.rasa}{path}?token={settings().runtime.rasa_token.reveal()}"


def start_servers(
    model: Path,
    ports: Ports | None = None,
    *,
    log_dir: Path | None = None,
    tracker_db: Path | None = None,
    record: bool = True,
    console: bool = True,
) -> list[subprocess.Popen[bytes]]:
    """Start the action server, Rasa (REST, socket.io and configured channels), the dossier watcher,
    the staff console and the housekeeping process.

    Waits until the servers answer; returns the processes (stop them with :func:`stop_servers`).
    ``record=False`` leaves out the event broker and ``console=False`` the console and the housekeeping
    (benchmarks only).
    """
    ports = ports or Ports()
    os.umask(PRIVATE_UMASK)
    cfg = settings()
    harden_var_dir(cfg.core.var_dir)
    from bot.db.schema import ensure_schema

    # Migrate once, here, before any child opens the database (they then find it at head).
    ensure_schema()
    env = rasa_env(serving=True)
    # The dossier watcher and the webhook push through this server's HTTP API, with its token.
    env["RASA_URL"] = f"http://{ports.host}:{ports.rasa}"
    env["RASA_TOKEN"] = cfg.runtime.rasa_token.reveal()
    env["BIND_HOST"] = ports.host
    origins = cfg.core.cors_origins if cfg.is_set("CORS_ORIGINS") else own_origins(ports.host, ports.rasa)
    env["CORS_ORIGINS"] = ",".join(origins)
    log_dir = log_dir or cfg.core.var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    endpoints = runtime_endpoints(ports, log_dir / "endpoints.yml", tracker_db, record=record)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        actions = subprocess.Popen(
            [*ACTION_SERVER, "--actions", "actions", "--port", str(ports.actions)],
            cwd=PROJECT_ROOT, env=env, start_new_session=True,
            stdout=_log(log_dir / "actions.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(actions)
        _wait_http(f"http://{ports.host}:{ports.actions}/health", actions, 120)
        from bot.channels.credentials import write_credentials

        credentials = write_credentials(log_dir / "credentials.yml")
        rasa = subprocess.Popen(
            [
                *RASA, "run", "--model", str(model), "--enable-api",  # the token comes from RASA_TOKEN (rasa_entry)
                "--cors", *origins, "--interface", ports.host, "--port", str(ports.rasa),
                "--credentials", str(credentials), "--endpoints", str(endpoints),
            ],
            cwd=PROJECT_ROOT, env=env, start_new_session=True,
            stdout=_log(log_dir / "rasa.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(rasa)
        _wait_http(rasa_api_url(ports, "/status"), rasa, 300)
        # Polls followed dossiers and pushes changes (interval: DOSSIER_WATCH_INTERVAL).
        watcher = subprocess.Popen(
            [sys.executable, "-m", "bot", "dossier", "watch"],
            cwd=PROJECT_ROOT, env=env, start_new_session=True,
            stdout=_log(log_dir / "watcher.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(watcher)
        if not console:
            return procs
        # The help-desk staff console (its own HTTP process; reaches Rasa through bot.rasa_client).
        env["CONSOLE_PORT"] = str(ports.console)
        console = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", "serve"],
            cwd=PROJECT_ROOT, env=env, start_new_session=True,
            stdout=_log(log_dir / "console.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(console)
        _wait_http(f"http://{ports.host}:{ports.console}/health", console, 60)
        # The analytics roll-up (ANALYTICS_ROLLUP_MINUTES) and the daily purge (PRIVACY_PURGE_TIME).
        housekeeping = subprocess.Popen(
            [sys.executable, "-m", "bot", "housekeeping", "--endpoints", str(endpoints)],
            cwd=PROJECT_ROOT, env=env, start_new_session=True,
            stdout=_log(log_dir / "housekeeping.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(housekeeping)
        return procs
    except BaseException:
        stop_servers(procs)
        raise


def stop_servers(procs: list[subprocess.Popen[bytes]], timeout: float = 15) -> None:
    """Ask each child's process group to stop; kill what is still there after ``timeout``."""
    for proc in reversed(procs):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run() -> int:
    """Train if needed, start everything, print the URLs, and wait for Ctrl-C."""
    validate_or_exit()
    model = serving_model()
    ports = Ports()
    print(">> starting the action server, Rasa, the watcher, the console and the housekeeping (first start: a minute)…")
    procs = start_servers(model, ports)
    base = f"http://{ports.host}:{ports.rasa}"
    print(
        "\nTrợ lý Dịch vụ công is running:\n"
        f"  web widget     {base}/widget/\n"
        f'  REST webhook   {base}/webhooks/rest/webhook   (POST {{"sender": "me", "message": "xin chào"}})\n'
        f"  socket.io      {base}/socket.io/\n"
        f"  Rasa HTTP API  {base}/status?token=…   (token: RASA_TOKEN, else var/secrets/rasa_token)\n"
        f"  action server  http://{ports.host}:{ports.actions}/health\n"
        f"  one-door hook  {base}/webhooks/onedoor/status   (signed with ONEDOOR_WEBHOOK_SECRET)\n"
        f"  staff console  http://{ports.host}:{ports.console}/\n"
        "                 (first admin: python -m bot console add-user NAME --role admin)\n"
        "  housekeeping   analytics roll-up, retention purge (var/log/housekeeping.log)\n"
        "  logs           var/log/\n"
        "Press Ctrl-C to stop."
    )
    stop = stop_on_signals()
    try:
        while not stop.is_set() and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\n>> stopping…")
        stop_servers(procs)
    dead = [p for p in procs if p.returncode not in (0, -signal.SIGTERM, None) and not stop.is_set()]
    return 1 if dead else 0


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (installed here): the run loops of ``make run`` and ``make run-prod``.

    SIGINT too: a process started in the background by a shell inherits SIGINT ignored, so without
    this `kill -INT` (a service manager's stop) would leave everything running.
    """
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bot.runtime.runner``: :func:`run`, which takes no arguments (``--help`` says so)."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.runtime.runner",
        description="Start the action server, Rasa and the dossier watcher on localhost (training the "
        "model first if needed); Ctrl-C stops them all. The same as `make run` and `python -m bot run`.",
        epilog="Settings come from environment variables: `python -m bot config show` lists them.",
    )
    parser.parse_args(argv)
    return run()


if __name__ == "__main__":
    sys.exit(main())
