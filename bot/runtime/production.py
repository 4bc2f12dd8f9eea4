"""The production profile on one machine: several Rasa replicas behind nginx, on PostgreSQL, Redis and RabbitMQ.

``make run-prod`` (``python -m bot run --profile prod [--replicas N]``) starts, on this machine:

- the action server;
- N Rasa replicas with ``endpoints.prod.yml`` (PostgreSQL tracker store, Redis lock store, RabbitMQ
  event broker), each on its own port (``RASA_PORT`` + 100 + i);
- nginx from Debian's package as the balancer on ``RASA_PORT``: round robin, sticky by nothing (the
  Redis lock store lets any replica take any conversation's turn); a request that could not reach a
  replica goes to the next one, a message a replica already received is never sent twice;
- the event consumer (RabbitMQ → the record of conversations), the dossier watcher, the console and
  the housekeeping.

Before any of them starts, :func:`prepare` creates the databases when they are missing (this machine
only), migrates the application database (Alembic) and makes the tracker store's table, its
indexes and the erasure tombstones. ``python -m bot prod prepare`` is the same step alone (the
migration job of ``deploy/``).

The production variables (``TRACKER_DB_HOST``…, bot/settings.py's "production" section) are used when
set; those unset get this machine's services: PostgreSQL on 127.0.0.1:5432 as ``postgres``, Redis on
6379, RabbitMQ on 5672 as ``guest``. The application database is ``DATABASE_URL`` when set, else the
``dvc`` database on the same PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import yaml

from bot.runtime.runner import (
    ACTION_SERVER,
    RASA,
    Ports,
    _log,
    _wait_http,
    stop_on_signals,
    stop_servers,
)
from bot.settings import PRIVATE_UMASK, PROJECT_ROOT, child_environment, harden_var_dir, own_origins, settings

# This machine's services, for the production variables left unset (see the module docstring).
LOCAL_SERVICES: dict[str, str] = {
    "TRACKER_DB_HOST": "127.0.0.1",
    "TRACKER_DB_PORT": "5432",
    "TRACKER_DB_NAME": "dvc_tracker",
    "TRACKER_DB_USER": "postgres",
    "TRACKER_DB_PASSWORD": "",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "REDIS_DB": "0",
    "REDIS_PASSWORD": "",
    "RABBITMQ_HOST": "127.0.0.1",
    "RABBITMQ_PORT": "5672",
    "RABBITMQ_USER": "guest",
    "RABBITMQ_PASSWORD": "guest",
    "RABBITMQ_QUEUE": "dvc_events",
}
LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/dvc"
# A replica's port is RASA_PORT + REPLICA_PORT_OFFSET + its index; the balancer has RASA_PORT itself.
REPLICA_PORT_OFFSET = 100
NGINX = "nginx"
# How long a replica may take to finish its turns after SIGTERM before it is killed (seconds).
GRACE_SECONDS = 30.0
# `make run-prod` starts a process that died again, unless processes die faster than this.
RESTARTS_PER_MINUTE = 5


class ProductionError(RuntimeError):
    """The production profile cannot start here: the message says what is missing and how to get it."""


def production_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the production variables it lacks set to
    this machine's services, and ``DATABASE_URL`` to PostgreSQL unless it is set."""
    env = child_environment() if base is None else dict(base)
    for name, value in LOCAL_SERVICES.items():
        env.setdefault(name, value)
    env.setdefault("DATABASE_URL", LOCAL_DATABASE_URL)
    return env


def tracker_url(env: Mapping[str, str]) -> str:
    """The tracker store's SQLAlchemy URL from the ``TRACKER_DB_*`` variables of ``env``."""
    from sqlalchemy.engine import URL

    return URL.create(
        "postgresql",
        username=env["TRACKER_DB_USER"] or None,
        password=env.get("TRACKER_DB_PASSWORD") or None,
        host=env["TRACKER_DB_HOST"],
        port=int(env["TRACKER_DB_PORT"]),
        database=env["TRACKER_DB_NAME"],
    ).render_as_string(hide_password=False)


def _create_database(url: str) -> None:
    """Create the database of ``url`` when it does not exist (needs CREATEDB; else it must exist)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        return
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
            if exists.scalar() is None:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    except SQLAlchemyError as exc:
        raise ProductionError(
            f"database {target.database!r} on {target.host}:{target.port or 5432} is not reachable or cannot be "
            f"created ({type(exc).__name__}: {str(exc).splitlines()[0]}); create it, or set the variables"
        ) from exc
    finally:
        admin.dispose()


# Rasa reads a conversation's events by sender and id order, and counts them by sender on each turn.
TRACKER_INDEXES = ("CREATE INDEX IF NOT EXISTS ix_events_sender_id_id ON events (sender_id, id)",)


def prepare(env: Mapping[str, str] | None = None) -> None:
    """Make the databases ready for the replicas: create them when missing (where allowed), migrate the
    application database to Alembic's head, create the tracker store's ``events`` table with its
    indexes and the erasure tombstones' table. Idempotent; safe while replicas run.

    Raises :class:`ProductionError` when a database cannot be reached or created.
    """
    env = production_env(env)
    from sqlalchemy import text

    from bot.db.engine import make_engine
    from bot.db.schema import ensure_schema
    from bot.privacy.models import ensure_erasures

    _create_database(env["DATABASE_URL"])
    engine = make_engine(env["DATABASE_URL"])
    try:
        ensure_schema(engine)
    finally:
        engine.dispose()
    url = tracker_url(env)
    _create_database(url)
    from bot.runtime.tracker_store import PrivateSQLTrackerStore

    # Rasa's store makes its own table (Rasa's schema, not our migrations) when it is created.
    store = PrivateSQLTrackerStore(
        None, dialect="postgresql", host=env["TRACKER_DB_HOST"], port=int(env["TRACKER_DB_PORT"]),
        db=env["TRACKER_DB_NAME"], username=env["TRACKER_DB_USER"] or None,
        password=env.get("TRACKER_DB_PASSWORD") or None, cache_size=0,
    )  # fmt: skip
    try:
        with store.engine.begin() as conn:
            for statement in TRACKER_INDEXES:
                conn.execute(text(statement))
        ensure_erasures(store.engine)
    finally:
        store.engine.dispose()


def check_services(env: Mapping[str, str]) -> None:
    """Raise :class:`ProductionError` naming each service of ``env`` that does not accept connections."""
    import socket

    services = (
        ("PostgreSQL", env["TRACKER_DB_HOST"], int(env["TRACKER_DB_PORT"])),
        ("Redis", env["REDIS_HOST"], int(env["REDIS_PORT"])),
        ("RabbitMQ", env["RABBITMQ_HOST"], int(env.get("RABBITMQ_PORT") or 5672)),
    )
    missing = []
    for name, host, port in services:
        try:
            with socket.create_connection((host, port), timeout=2):
                pass
        except OSError:
            missing.append(f"{name} ({host}:{port})")
    if missing:
        raise ProductionError(f"not reachable: {', '.join(missing)}; start them or set the production variables")


def nginx_binary() -> str:
    """The nginx executable (Debian's ``nginx-light``; ``scripts/install_debian.sh`` installs it)."""
    found = shutil.which(NGINX) or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if not found:
        raise ProductionError("nginx is not installed: run scripts/install_debian.sh (Debian's nginx-light)")
    return found


def nginx_config(listen_host: str, listen_port: int, replicas: list[int], prefix: Path) -> str:
    """nginx's configuration: the balancer on ``listen_host:listen_port`` in front of ``replicas``' ports.

    Round robin, no affinity. A request that found no replica (connection refused, a replica stopped)
    is passed to the next one; a request a replica has received is not passed again (nginx never
    retries a POST once sent), so a message cannot be answered twice. socket.io's websocket is passed
    with its Upgrade headers (the widget connects by websocket only, so every frame of one connection
    reaches one replica). The access log leaves out query strings: Rasa's API token travels in one.
    """
    limits = settings().core
    servers = "\n".join(f"        server {listen_host}:{port} max_fails=1 fail_timeout=2s;" for port in replicas)
    return f"""# Written by bot/runtime/production.py for this run; edits are lost at the next start.
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format dvc '$remote_addr [$time_local] "$request_method $uri" $status $body_bytes_sent '
                   '$request_time $upstream_addr';
    access_log {prefix}/access.log dvc;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size {limits.max_request_bytes};
    client_body_buffer_size {limits.max_request_bytes};
    server_tokens off;
    upstream rasa {{
{servers}
        keepalive 64;
    }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    server {{
        listen {listen_host}:{listen_port};
        location /socket.io/ {{
            proxy_pass http://rasa;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 3600s;
        }}
        location / {{
            proxy_pass http://rasa;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries {len(replicas)};
        }}
    }}
}}
"""


@dataclass
class ProductionStack:
    """The running production profile: the processes, the balancer's URL and each replica's."""

    procs: list[subprocess.Popen[bytes]]
    balancer_url: str
    rasa_urls: list[str]
    env: dict[str, str]
    log_dir: Path
    replicas: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    actions: subprocess.Popen[bytes] | None = None
    #: Start replica i again (after a fault test killed it); waits until it answers.
    start_replica: Callable[..., subprocess.Popen[bytes]] | None = None
    #: Start the action server again; waits until it answers.
    start_actions: Callable[[], subprocess.Popen[bytes]] | None = None

    balancer: subprocess.Popen[bytes] | None = None
    #: How each process was started (pid → argv, log file name), to start it again when it dies.
    commands: dict[int, tuple[list[str], str]] = field(default_factory=dict)
    spawn: Callable[[list[str], str], subprocess.Popen[bytes]] | None = None

    def stop(self) -> None:
        """Stop every process, answers first: nginx stops taking requests and waits for the ones in flight
        (SIGQUIT), then the rest get :data:`GRACE_SECONDS` to finish (SIGTERM)."""
        if self.balancer is not None and self.balancer.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.balancer.pid, signal.SIGQUIT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.balancer.wait(GRACE_SECONDS)
        stop_servers(self.procs, timeout=GRACE_SECONDS)

    def restart(self, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        """Start a process that died again, with the same command; it replaces the dead one everywhere."""
        assert self.spawn is not None
        args, log = self.commands.pop(proc.pid)
        self.procs.remove(proc)
        new = self.spawn(args, log)
        for name, replica in list(self.replicas.items()):
            if replica is proc:
                self.replicas[name] = new
        if self.actions is proc:
            self.actions = new
        if self.balancer is proc:
            self.balancer = new
        return new


def _endpoints(env: Mapping[str, str], target: Path, queue: str | None, broker_port: int | None = None) -> Path:
    """endpoints.prod.yml as Rasa reads it here, with its ``${VAR}`` resolved from ``env``: the privacy
    commands and the housekeeping read the same file without the operator exporting every variable.

    The broker's port is ``RABBITMQ_PORT`` written as a number (Rasa reads ``${VAR}`` as text, which its
    RabbitMQ client refuses), or ``broker_port`` (tests: a forwarder in front of RabbitMQ for the replicas
    only); ``queue`` is another queue name (tests). It holds passwords: written readable by its owner only."""
    text = (PROJECT_ROOT / "endpoints.prod.yml").read_text(encoding="utf-8")
    text = re.sub(r"\$\{(\w+)\}", lambda m: json.dumps(env[m.group(1)]) if m.group(1) in env else m.group(0), text)
    endpoints = yaml.safe_load(text)
    if queue:
        endpoints["event_broker"]["queues"] = [queue]
    endpoints["event_broker"]["port"] = broker_port or int(env.get("RABBITMQ_PORT") or 5672)
    target.unlink(missing_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(yaml.safe_dump(endpoints, allow_unicode=True, sort_keys=False))
    return target


def start_production(
    model: Path,
    *,
    replicas: int = 2,
    ports: Ports | None = None,
    log_dir: Path | None = None,
    console: bool = True,
    env: Mapping[str, str] | None = None,
    queue: str | None = None,
    broker_port: int | None = None,
) -> ProductionStack:
    """Prepare the databases, then start the production profile (module docstring); waits until every
    server answers. ``console=False`` leaves out the console, the housekeeping and the watcher
    (benchmarks); ``queue`` names another RabbitMQ queue (tests); ``broker_port`` is the port the replicas'
    event broker connects to instead of RabbitMQ's 5672 (tests: a forwarder that can fail). Stop it with
    ``ProductionStack.stop``.

    Raises :class:`ProductionError` when a service, nginx or a database is missing.
    """
    if replicas < 1:
        raise ProductionError("--replicas must be at least 1")
    ports = ports or Ports()
    os.umask(PRIVATE_UMASK)
    cfg = settings()
    harden_var_dir(cfg.core.var_dir)
    env = production_env(env)
    check_services(env)
    nginx = nginx_binary()
    prepare(env)
    # The curated catalogue and the demo dossiers, as `make db` loads them (both idempotent).
    for step in (("catalog", "load"), ("dossier", "seed-demo")):
        done = subprocess.run([sys.executable, "-m", "bot", *step], cwd=PROJECT_ROOT, env=env, capture_output=True)
        if done.returncode != 0:
            raise ProductionError(f"python -m bot {' '.join(step)} failed: {done.stderr.decode()[-500:]}")
    from bot.runtime.model import rasa_env

    env = {**rasa_env(serving=True), **env}
    env["ACTION_SERVER_URL"] = env.get("ACTION_SERVER_URL") or f"http://{ports.host}:{ports.actions}/webhook"
    env["ACTION_SERVER_TOKEN"] = cfg.runtime.action_server_token.reveal()
    env["RASA_URL"] = f"http://{ports.host}:{ports.rasa}"  # our processes reach Rasa through the balancer
    env["RASA_TOKEN"] = cfg.runtime.rasa_token.reveal()
    env["BIND_HOST"] = ports.host
    env.setdefault("TRUSTED_PROXIES", "127.0.0.1")  # nginx, for the client's address
    password = f":{quote(env['REDIS_PASSWORD'], safe='')}@" if env.get("REDIS_PASSWORD") else ""
    redis = f"redis://{password}{env['REDIS_HOST']}:{env['REDIS_PORT']}/{env['REDIS_DB']}"
    env.setdefault("SOCKETIO_MESSAGE_QUEUE", redis)  # widget replies across replicas
    origins = cfg.core.cors_origins if cfg.is_set("CORS_ORIGINS") else own_origins(ports.host, ports.rasa)
    env["CORS_ORIGINS"] = ",".join(origins)
    log_dir = log_dir or cfg.core.var_dir / "log" / "prod"
    log_dir.mkdir(parents=True, exist_ok=True)
    endpoints = _endpoints(env, log_dir / "endpoints.yml", queue, broker_port)
    from bot.channels.credentials import write_credentials

    credentials = write_credentials(log_dir / "credentials.yml")
    replica_ports = [ports.rasa + REPLICA_PORT_OFFSET + i for i in range(replicas)]
    procs: list[subprocess.Popen[bytes]] = []
    stack = ProductionStack(
        procs, f"http://{ports.host}:{ports.rasa}", [f"http://{ports.host}:{p}" for p in replica_ports], env, log_dir
    )
    env["RASA_URLS"] = ",".join(stack.rasa_urls)  # a promoted model is loaded by every replica, not the balancer

    def spawn(args: list[str], log: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            args, cwd=PROJECT_ROOT, env=env, start_new_session=True,
            stdout=_log(log_dir / log), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(proc)
        stack.commands[proc.pid] = (args, log)
        return proc

    stack.spawn = spawn

    def start_actions() -> subprocess.Popen[bytes]:
        proc = spawn([*ACTION_SERVER, "--actions", "actions", "--port", str(ports.actions)], "actions.log")
        stack.actions = proc
        _wait_http(f"http://{ports.host}:{ports.actions}/health", proc, 120)
        return proc

    def start_replica(i: int, wait: bool = True) -> subprocess.Popen[bytes]:
        port = replica_ports[i]
        proc = spawn(
            [
                *RASA, "run", "--model", str(model), "--enable-api", "--cors", *origins,
                "--interface", ports.host, "--port", str(port),
                "--credentials", str(credentials), "--endpoints", str(endpoints),
            ],
            f"rasa{i + 1}.log",
        )  # fmt: skip
        stack.replicas[f"rasa{i + 1}"] = proc
        if wait:
            _wait_http(f"http://{ports.host}:{port}/", proc, 300)
        return proc

    stack.start_actions = start_actions
    stack.start_replica = start_replica
    try:
        start_actions()
        started = [start_replica(i, wait=False) for i in range(replicas)]
        for port, proc in zip(replica_ports, started, strict=True):
            _wait_http(f"http://{ports.host}:{port}/", proc, 300)
        prefix = log_dir / "nginx"
        prefix.mkdir(exist_ok=True)
        os.chmod(prefix, 0o755)
        os.chmod(log_dir, 0o711)  # nginx's worker (nobody) reaches its temporary folders here
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_config(ports.host, ports.rasa, replica_ports, prefix), encoding="utf-8")
        balancer = stack.balancer = spawn([nginx, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"], "nginx.log")
        _wait_http(f"http://{ports.host}:{ports.rasa}/", balancer, 30)
        consume = [sys.executable, "-m", "bot", "events", "consume", "--queue", queue or env["RABBITMQ_QUEUE"]]
        spawn(consume, "consumer.log")
        if console:
            spawn([sys.executable, "-m", "bot", "dossier", "watch"], "watcher.log")
            env["CONSOLE_PORT"] = str(ports.console)
            console_proc = spawn([sys.executable, "-m", "bot", "console", "serve"], "console.log")
            _wait_http(f"http://{ports.host}:{ports.console}/health", console_proc, 60)
            spawn([sys.executable, "-m", "bot", "housekeeping", "--endpoints", str(endpoints)], "housekeeping.log")
        return stack
    except BaseException:
        stop_servers(procs)
        raise


def run(replicas: int = 2) -> int:
    """``make run-prod``: train if needed, start the production profile, print the URLs, wait for Ctrl-C."""
    from bot.runtime.model import serving_model
    from bot.settings import validate_or_exit

    validate_or_exit()
    model = serving_model()
    ports = Ports()
    print(f">> production profile: {replicas} Rasa replicas behind nginx, PostgreSQL, Redis, RabbitMQ…")
    try:
        stack = start_production(model, replicas=replicas, ports=ports)
    except ProductionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    replicas_text = ", ".join(stack.rasa_urls)
    print(
        "\nTrợ lý Dịch vụ công (production profile) is running:\n"
        f"  balancer       {stack.balancer_url}/   (nginx, round robin over {replicas_text})\n"
        f"  web widget     {stack.balancer_url}/widget/\n"
        f"  REST webhook   {stack.balancer_url}/webhooks/rest/webhook\n"
        f"  action server  http://{ports.host}:{ports.actions}/health\n"
        f"  staff console  http://{ports.host}:{ports.console}/\n"
        f"  logs           {stack.log_dir}/\n"
        "Press Ctrl-C to stop (each replica finishes its turn first)."
    )
    stop = stop_on_signals()
    deaths: list[float] = []
    failed = False
    try:
        while not stop.is_set():
            for proc in [p for p in stack.procs if p.poll() is not None]:
                # Like a service manager: a process that died is started again, the others go on serving
                # (nginx sends requests to the replicas that answer, the busy sentence covers the rest).
                _args, log = stack.commands[proc.pid]
                print(f">> {log.removesuffix('.log')} exited with code {proc.returncode}; starting it again "
                      f"(see {stack.log_dir / log})", file=sys.stderr)  # fmt: skip
                deaths[:] = [t for t in deaths if time.monotonic() - t < 60] + [time.monotonic()]
                if len(deaths) > RESTARTS_PER_MINUTE:
                    print(f">> more than {RESTARTS_PER_MINUTE} restarts in a minute: stopping", file=sys.stderr)
                    failed = True
                    stop.set()
                    break
                stack.restart(proc)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\n>> stopping…")
        stack.stop()
    return 1 if failed else 0


def _prepare(args: argparse.Namespace) -> int:
    try:
        prepare()
    except ProductionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("databases ready: application schema at head, tracker store's tables and indexes")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``prod prepare``."""
    prod = subparsers.add_parser("prod", help="the production profile (PostgreSQL, Redis, RabbitMQ)")
    sub = prod.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "prepare", help="create missing databases, migrate, make the tracker store's tables and indexes"
    ).set_defaults(func=_prepare)

