"""``make run``: start the action server, Rasa and the dossier watcher on localhost; stop them all on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import yaml

from bot.config import PROJECT_ROOT
from bot.runtime.model import ensure_model, rasa_env

# Rasa's command line with log masking installed first (bot/runtime/rasa_entry.py).
RASA = (sys.executable, "-m", "bot.runtime.rasa_entry")


@dataclass(frozen=True)
class Ports:
    """Where the servers listen (``RASA_PORT``, ``ACTION_PORT``; loopback unless ``BIND_HOST`` says otherwise)."""

    host: str = os.environ.get("BIND_HOST", "127.0.0.1")
    rasa: int = int(os.environ.get("RASA_PORT", "5005"))
    actions: int = int(os.environ.get("ACTION_PORT", "5055"))


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def _log(path: Path) -> IO[bytes]:
    # The child keeps the descriptor; the parent's copy closes with the process.
    return path.open("ab")


def runtime_endpoints(ports: Ports, target: Path, tracker_db: Path | None = None) -> Path:
    """endpoints.yml with the action server's port and, if given, another SQLite tracker database."""
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8")) or {}
    endpoints.setdefault("action_endpoint", {})["url"] = f"http://{ports.host}:{ports.actions}/webhook"
    store = endpoints.get("tracker_store") or {}
    if tracker_db is not None and store.get("dialect") == "sqlite":
        store["db"] = str(tracker_db)
    elif store.get("dialect") == "sqlite":
        Path(PROJECT_ROOT / store["db"]).parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(endpoints, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def start_servers(
    model: Path, ports: Ports = Ports(), *, log_dir: Path | None = None, tracker_db: Path | None = None
) -> list[subprocess.Popen[bytes]]:
    """Start the action server, Rasa (REST, socket.io and configured channels) and the dossier watcher.

    Waits until the servers answer; returns the processes (stop them with :func:`stop_servers`).
    """
    env = rasa_env()
    # The dossier watcher and the webhook push through this server's HTTP API.
    env["RASA_URL"] = f"http://{ports.host}:{ports.rasa}"
    log_dir = log_dir or PROJECT_ROOT / "var" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    endpoints = runtime_endpoints(ports, log_dir / "endpoints.yml", tracker_db)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        actions = subprocess.Popen(
            [*RASA, "run", "actions", "--actions", "actions", "--port", str(ports.actions)],
            cwd=PROJECT_ROOT, env=env, start_new_session=True,
            stdout=_log(log_dir / "actions.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(actions)
        _wait_http(f"http://{ports.host}:{ports.actions}/health", actions, 120)
        from bot.channels.credentials import write_credentials

        credentials = write_credentials(log_dir / "credentials.yml")
        rasa = subprocess.Popen(
            [
                *RASA, "run", "--model", str(model), "--enable-api", "--cors", "*",
                "--interface", ports.host, "--port", str(ports.rasa),
                "--credentials", str(credentials), "--endpoints", str(endpoints),
            ],
            cwd=PROJECT_ROOT, env=env, start_new_session=True,
            stdout=_log(log_dir / "rasa.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(rasa)
        _wait_http(f"http://{ports.host}:{ports.rasa}/status", rasa, 300)
        # Polls followed dossiers and pushes changes (interval: DOSSIER_WATCH_INTERVAL).
        watcher = subprocess.Popen(
            [sys.executable, "-m", "bot", "dossier", "watch"],
            cwd=PROJECT_ROOT, env=env, start_new_session=True,
            stdout=_log(log_dir / "watcher.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(watcher)
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
    model = ensure_model()
    ports = Ports()
    print(">> starting the action server and Rasa (first start takes a minute)…")
    procs = start_servers(model, ports)
    base = f"http://{ports.host}:{ports.rasa}"
    print(
        "\nTrợ lý Dịch vụ công is running:\n"
        f"  web widget     {base}/widget/\n"
        f'  REST webhook   {base}/webhooks/rest/webhook   (POST {{"sender": "me", "message": "xin chào"}})\n'
        f"  socket.io      {base}/socket.io/\n"
        f"  Rasa HTTP API  {base}/status\n"
        f"  action server  http://{ports.host}:{ports.actions}/health\n"
        f"  one-door hook  {base}/webhooks/onedoor/status   (signed with ONEDOOR_WEBHOOK_SECRET)\n"
        "  logs           var/log/\n"
        "Press Ctrl-C to stop."
    )
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\n>> stopping…")
        stop_servers(procs)
    dead = [p for p in procs if p.returncode not in (0, -signal.SIGTERM, None) and not stopping]
    return 1 if dead else 0


if __name__ == "__main__":
    sys.exit(run())
