"""Fault injection on the production profile (:func:`bot.runtime.production.start_production`).

One stack for the whole module: the action server, two Rasa replicas behind nginx on this machine's
PostgreSQL (a throwaway tracker database and application database), a PRIVATE redis-server started
here (the machine's Redis is never touched) and the machine's RabbitMQ reached by the replicas through
a TCP forwarder in this module (``broker_port``), plus the event consumer writing the record of
conversations. Each fault, and what is asserted afterwards on the events the tracker store holds
(``events``: ``sender_id``, ``type_name``, ``data``):

- the balancer: ``GET /`` answers; a malformed REST body (``[]``, ``"x"``, ``{}``) is 400, never 5xx;
- the action server killed (SIGKILL) mid-conversation: the next message is answered with the polite
  "busy" sentence (200, not silence); once restarted, the same question is answered about the same
  procedure (the conversation went on); the three citizen messages are stored once each and the busy
  reply is stored;
- PostgreSQL terminates every connection of both databases between two turns: the following turns are
  answered normally (``pool_pre_ping``), and all five citizen messages are stored once, in order;
- Redis (the lock store) killed: the next message gets the busy sentence and a replica's log names the
  Redis/lock error; nothing of that turn is stored half-way; once Redis is back on the same port the
  conversation continues;
- RabbitMQ unreachable (the forwarder closes its listener and every forwarded connection): three
  messages are answered normally meanwhile; once the forwarder listens again, those turns reach the
  record of conversations (``conv_turns`` in the application database) within 60 s; the tracker store
  holds them all along;
- the events of a conversation's turns reaching the record out of order (what two replicas
  re-publishing after such an outage produce): the real stored events of a two-turn conversation are
  applied turn 2 first; the transcript must still read turn 1, then turn 2, each with its reply;
- replica ``rasa1`` killed (SIGKILL of its process group) under the load of 6 concurrent clients of
  8 turns each, every message with its own ``message_id``, a client re-sending the same message with
  the same id on 502/503/504 or a connection error: every message gets a non-empty 200 answer (within
  60 s a try), each (sender, message_id) is stored exactly once as a ``user`` event, and each turn
  stored as many bot replies as the same script gives undisturbed (no reply stored twice). The replica
  is restarted;
- the conversation lock a killed replica leaves in Redis (the minimal case of the previous test): a
  turn that waits for a dead ticket must get the lock once that ticket expired.

Skips with a message when PostgreSQL, RabbitMQ, redis-server, nginx or the trained model is absent.
The lock lifetime (``TICKET_LOCK_LIFETIME``) is 20 s here, so a conversation whose turn died with the
replica waits 20 s, not Rasa's 60 s, for its lock; every HTTP call has a timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.settings import overridden
from bot.wording import text as wording
from tests.fakes import free_port
from tests.rabbitmq import delete_queues

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REST = "/webhooks/rest/webhook"
TOKEN = "faults-rasa-token"
ACTION_TOKEN = "faults-action-token"
REDIS_SERVER = "/usr/bin/redis-server"
RABBITMQ = ("127.0.0.1", 5672)
HTTP_TIMEOUT = 60.0
LOCK_LIFETIME = 20
BUSY = wording("common.busy")
TEMP_STAY = "đăng ký tạm trú cần giấy tờ gì"
FEE = "còn lệ phí thì sao?"
TEMP_STAY_CODE = "1.004194"


# --- helpers ---------------------------------------------------------------------------------------


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _pg() -> Any:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=5)
    conn.autocommit = True
    return conn


def _query(dbname: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run ``sql`` on a new connection (connections may have been terminated by a test)."""
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=dbname, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


class RedisServer:
    """A private redis-server on ``port`` (never the machine's own)."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _reachable("127.0.0.1", self.port):
            assert self.proc.poll() is None, f"redis-server exited: see {self.log}"
            assert time.monotonic() < deadline, "redis-server did not listen within 10 s"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


class Forwarder:
    """A TCP forwarder 127.0.0.1:``port`` → ``target`` that can fail: :meth:`outage` closes the listener
    and every forwarded connection; :meth:`start` listens again on the same port."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self.target = target
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.accepted = 0

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, args=(listener, self._stop), daemon=True)
        self._thread.start()

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._close(src, dst)

    def _close(self, *socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._sockets.discard(sock)

    def outage(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            socks = list(self._sockets)
        self._close(*socks)

    def connections(self) -> int:
        with self._lock:
            return len(self._sockets) // 2


@dataclass
class Faults:
    """The running stack and what the tests need to reach and break it."""

    stack: Any
    tracker_db: str
    app_db: str
    redis: RedisServer
    forwarder: Forwarder

    @property
    def url(self) -> str:
        return self.stack.balancer_url


def _free_rasa_port(replicas: int) -> int:
    """A port P free with P + 100 + i free for each replica."""
    for _ in range(50):
        port = free_port()
        if port + 100 + replicas >= 65535:
            continue
        socks = []
        try:
            for p in (port, *(port + 100 + i for i in range(replicas))):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block for the balancer and its replicas")


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    missing = [name for name, port in (("PostgreSQL", 5432), ("RabbitMQ", 5672)) if not _reachable("127.0.0.1", port)]
    if not os.access(REDIS_SERVER, os.X_OK):
        missing.append(f"redis-server ({REDIS_SERVER})")
    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        missing.append("nginx")
    if missing:
        pytest.skip(f"the fault tests need {', '.join(missing)} on this machine")
    from bot.runtime.model import model_path

    model = model_path()
    if not model.is_file():
        pytest.skip("no trained model for the current data yet (make train)")
    from bot.runtime.production import start_production
    from bot.runtime.runner import Ports

    work = tmp_path_factory.mktemp("faults")
    tag = uuid.uuid4().hex[:8]
    tracker_db, app_db, queue = f"dvc_faults_trk_{tag}", f"dvc_faults_app_{tag}", f"dvc_events_faults_{tag}"
    redis = RedisServer(free_port(), work / "redis.log")
    redis.start()
    forwarder = Forwarder(free_port(), RABBITMQ)
    forwarder.start()
    ports = Ports(host="127.0.0.1", rasa=_free_rasa_port(2), actions=free_port(), console=free_port())
    values = {
        "BOT_VAR_DIR": str(work / "var"),
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{app_db}",
        "RASA_TOKEN": TOKEN,
        "ACTION_SERVER_TOKEN": ACTION_TOKEN,
        "TRACKER_DB_HOST": "127.0.0.1", "TRACKER_DB_PORT": "5432", "TRACKER_DB_NAME": tracker_db,
        "TRACKER_DB_USER": "postgres", "TRACKER_DB_PASSWORD": "",
        "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis.port), "REDIS_DB": "0",
        "RABBITMQ_HOST": "127.0.0.1", "RABBITMQ_USER": "guest", "RABBITMQ_PASSWORD": "guest",
        "RABBITMQ_QUEUE": "dvc_events", "REDIS_PASSWORD": "",
        "TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME),
        "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
    }  # fmt: skip
    stack = None
    try:
        with overridden(**values):
            stack = start_production(
                model, replicas=2, ports=ports, log_dir=work / "log", console=False,
                env={**os.environ, **values}, queue=queue, broker_port=forwarder.port,
            )  # fmt: skip
        yield Faults(stack, tracker_db, app_db, redis, forwarder)
    finally:
        if stack is not None:
            stack.stop()
        forwarder.outage()
        redis.kill()
        delete_queues(queue)
        admin = _pg()
        try:
            for db in (tracker_db, app_db):
                admin.cursor().execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        finally:
            admin.close()


def _post(url: str, sender: str, message: str, message_id: str | None = None) -> requests.Response:
    body: dict[str, str] = {"sender": sender, "message": message}
    if message_id:
        body["message_id"] = message_id
    return requests.post(f"{url}{REST}", json=body, timeout=HTTP_TIMEOUT)


def _say(url: str, sender: str, message: str) -> list[str]:
    """The texts of the bot's answer (asserting a 200 with at least one message)."""
    resp = _post(url, sender, message)
    assert resp.status_code == 200, f"{message!r}: {resp.status_code} {resp.text[:300]}"
    texts = [m.get("text") or json.dumps(m, ensure_ascii=False) for m in resp.json()]
    assert texts, f"{message!r} got no answer (silence)"
    return texts


def _events(db: str, sender: str) -> list[tuple[str, dict[str, Any]]]:
    rows = _query(db, "SELECT type_name, data FROM events WHERE sender_id = %s ORDER BY id", (f"rest:{sender}",))
    return [(type_name, json.loads(data)) for type_name, data in rows]


def _user_texts(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [data.get("text") for type_name, data in events if type_name == "user"]


def _turns(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[dict[str, Any], list[str]]]:
    """Each user event with the texts of the bot events that follow it (before the next user event)."""
    turns: list[tuple[dict[str, Any], list[str]]] = []
    for type_name, data in events:
        if type_name == "user":
            turns.append((data, []))
        elif type_name == "bot" and turns:
            turns[-1][1].append(data.get("text") or json.dumps(data.get("data"), ensure_ascii=False))
    return turns


def _is_normal(texts: list[str]) -> bool:
    return bool(texts) and BUSY not in texts


def _sender(label: str) -> str:
    return f"faults-{label}-{uuid.uuid4().hex[:8]}"


# --- the balancer ----------------------------------------------------------------------------------


def test_balancer_answers_and_refuses_malformed_bodies(faults: Faults) -> None:
    assert requests.get(f"{faults.url}/", timeout=10).status_code == 200
    for body in ("[]", '"x"', "{}", "not json", '{"sender": "a"}', '{"sender": "a", "message": 1}'):
        resp = requests.post(f"{faults.url}{REST}", data=body, headers={"Content-Type": "application/json"},
                             timeout=10)  # fmt: skip
        assert resp.status_code == 400, f"{body!r}: {resp.status_code} {resp.text[:200]}"
    bad_id = requests.post(f"{faults.url}{REST}", json={"sender": "a", "message": "hi", "message_id": "x" * 65},
                           timeout=10)  # fmt: skip
    assert bad_id.status_code == 400, bad_id.text


# --- the action server killed ------------------------------------------------------------------------


def test_action_server_killed_mid_conversation(faults: Faults) -> None:
    stack, sender = faults.stack, _sender("actions")
    first = _say(faults.url, sender, TEMP_STAY)
    assert any(TEMP_STAY_CODE in t for t in first), first
    os.killpg(stack.actions.pid, signal.SIGKILL)
    stack.actions.wait(10)
    try:
        during = _post(faults.url, sender, FEE, "fee-1")
        texts = [m.get("text") for m in during.json()]
        assert texts == [BUSY], f"with the action server down the citizen gets the busy sentence: {texts}"
    finally:
        stack.start_actions()
    # The client re-sends the same message with the same id: a turn that only got "busy" is processed again.
    after = " ".join(m.get("text") or "" for m in _post(faults.url, sender, FEE, "fee-1").json())
    assert BUSY not in after
    assert TEMP_STAY_CODE in after and "phí" in after.lower(), f"the conversation did not go on: {after}"

    events = _events(faults.tracker_db, sender)
    assert _user_texts(events) == [TEMP_STAY, FEE, FEE], _user_texts(events)
    turns = _turns(events)
    assert BUSY in turns[1][1], f"the busy reply is stored with its turn: {turns[1]}"
    assert BUSY not in turns[2][1]


# --- PostgreSQL connections terminated --------------------------------------------------------------


def test_postgres_connections_terminated_between_turns(faults: Faults) -> None:
    sender = _sender("pg")
    script = [TEMP_STAY, FEE, "nộp hồ sơ ở đâu", "mất bao lâu thì có kết quả", "cảm ơn"]
    for message in script[:2]:
        assert _is_normal(_say(faults.url, sender, message))
    terminated = _query(
        "postgres",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN (%s, %s) AND pid <> pg_backend_pid()",
        (faults.tracker_db, faults.app_db),
    )
    assert terminated, "the replicas held connections to terminate"
    for message in script[2:]:
        texts = _say(faults.url, sender, message)
        assert _is_normal(texts), f"{message!r} after the connections were terminated: {texts}"
    assert _user_texts(_events(faults.tracker_db, sender)) == script


# --- Redis (the lock store) down ------------------------------------------------------------------


def _log_sizes(log_dir: Path) -> dict[Path, int]:
    return {p: p.stat().st_size for p in sorted(log_dir.glob("rasa*.log"))}


def _logged_since(sizes: dict[Path, int]) -> str:
    """What the replicas logged since ``sizes`` were taken."""
    parts = []
    for path, size in sizes.items():
        with path.open("rb") as fh:
            fh.seek(size)
            parts.append(fh.read().decode("utf-8", errors="replace"))
    return "\n".join(parts)


def test_redis_down_then_back(faults: Faults) -> None:
    sender = _sender("redis")
    assert _is_normal(_say(faults.url, sender, TEMP_STAY))
    sizes = _log_sizes(faults.stack.log_dir)
    faults.redis.kill()
    try:
        during = _say(faults.url, sender, "nộp hồ sơ ở đâu")
        assert during == [BUSY], f"with Redis down the citizen gets the busy sentence: {during}"

        def names_the_error() -> bool:
            logged = _logged_since(sizes)
            return "store failed" in logged and ("redis" in logged.lower() or "LockError" in logged)

        assert _wait_for(names_the_error, 5), _logged_since(sizes)[-2000:]
    finally:
        faults.redis.start()
    after = " ".join(_say(faults.url, sender, FEE))
    assert BUSY not in after
    assert TEMP_STAY_CODE in after and "phí" in after.lower(), f"the conversation did not go on: {after}"

    turns = _turns(_events(faults.tracker_db, sender))
    texts = [user.get("text") for user, _ in turns]
    assert texts in ([TEMP_STAY, FEE], [TEMP_STAY, "nộp hồ sơ ở đâu", FEE]), texts
    if len(texts) == 3:  # stored at all: then as a complete turn
        assert _is_normal(turns[1][1]), f"the outage's turn was stored half-way: {turns[1]}"
    assert all(_is_normal(replies) for user, replies in turns if user.get("text") != "nộp hồ sơ ở đâu"), turns


# --- RabbitMQ unreachable --------------------------------------------------------------------------


def _citizen_turns(app_db: str, sender: str) -> list[str]:
    rows = _query(app_db, "SELECT text FROM conv_turns WHERE sender_id = %s AND author = 'citizen' ORDER BY id",
                  (f"rest:{sender}",))  # fmt: skip
    return [text for (text,) in rows]


def _wait_for(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return bool(predicate())


def test_rabbitmq_down_events_arrive_after(faults: Faults) -> None:
    sender = _sender("amqp")
    assert _is_normal(_say(faults.url, sender, "xin chào"))
    assert _wait_for(lambda: _citizen_turns(faults.app_db, sender) == ["xin chào"], 30), (
        f"the record of conversations does not work even before the outage: {_citizen_turns(faults.app_db, sender)}"
    )
    assert faults.forwarder.connections() >= 2, "each replica's broker connects through the forwarder"
    outage = ["thủ tục cấp hộ chiếu cần gì", "làm căn cước ở đâu", "cảm ơn nhé"]
    faults.forwarder.outage()
    try:
        time.sleep(1)  # the replicas notice the closed connections
        for message in outage:
            texts = _say(faults.url, sender, message)
            assert _is_normal(texts), f"{message!r} with RabbitMQ unreachable: {texts}"
        assert _user_texts(_events(faults.tracker_db, sender)) == ["xin chào", *outage]
    finally:
        accepted = faults.forwarder.accepted
        faults.forwarder.start()
    # All of them, in any order: the replicas re-publish what they kept each on its own reconnection (the
    # order of the record is test_record_keeps_the_order_of_turns_published_late's subject).
    expected = sorted(["xin chào", *outage])
    arrived = _wait_for(lambda: sorted(_citizen_turns(faults.app_db, sender)) == expected, 60)
    assert arrived, (
        f"the turns of the outage never reached the record within 60 s: {_citizen_turns(faults.app_db, sender)}; "
        f"the replicas' brokers made {faults.forwarder.accepted - accepted} connections since RabbitMQ is reachable "
        f"again ({faults.forwarder.connections()} open)"
    )


# --- a replica killed under load --------------------------------------------------------------------

SCRIPTS = (
    ["xin chào", TEMP_STAY, FEE, "nộp hồ sơ ở đâu", "mất bao lâu thì có kết quả", "cấp lại căn cước cần gì",
     "cảm ơn", "tạm biệt"],
    ["chào bạn", "thủ tục cấp hộ chiếu cần gì", "lệ phí bao nhiêu", "làm ở đâu", "đăng ký khai sinh cần gì",
     "có làm online được không", "cảm ơn nhé", "bye"],
)  # fmt: skip
RETRY_STATUSES = {502, 503, 504}


@dataclass
class Sent:
    """One message of a client: its id, what it got (None: no answer) and how many times it was sent."""

    message_id: str
    text: str
    replies: list[str] | None
    tries: int
    problem: str = ""


def _client(url: str, sender: str, script: list[str], start: threading.Event | None) -> list[Sent]:
    """Say ``script`` in order; re-send a message with the same id on 502/503/504 or a connection error
    (up to 5 tries, 0.5 s apart). A message left without an answer is recorded, and the client goes on."""
    if start is not None:
        start.wait(30)
    sent: list[Sent] = []
    for turn, message in enumerate(script):
        message_id = f"{sender}-{turn}"
        outcome = Sent(message_id, message, None, 0)
        for attempt in range(1, 6):
            outcome.tries = attempt
            try:
                resp = _post(url, sender, message, message_id)
            except requests.ConnectionError as exc:
                outcome.problem = type(exc).__name__
            except requests.Timeout:
                outcome.problem = f"no answer within {HTTP_TIMEOUT:.0f} s"
                break  # not a failure the client re-sends on (the balancer still holds the request)
            else:
                if resp.status_code not in RETRY_STATUSES:
                    replies = [m.get("text") or json.dumps(m, ensure_ascii=False) for m in resp.json()]
                    if resp.status_code == 200 and replies:
                        outcome.replies = replies
                    outcome.problem = "" if outcome.replies else f"{resp.status_code} {resp.text[:200]}"
                    break
                outcome.problem = str(resp.status_code)
            time.sleep(0.5)
        sent.append(outcome)
    return sent


def test_replica_killed_under_load(faults: Faults) -> None:
    stack = faults.stack
    # Undisturbed: how many replies each turn of each script stores.
    baseline = []
    for i, script in enumerate(SCRIPTS):
        sender = _sender(f"base{i}")
        assert all(s.replies for s in _client(faults.url, sender, script, None)), "the undisturbed run"
        baseline.append([len(replies) for _, replies in _turns(_events(faults.tracker_db, sender))])
        assert len(baseline[-1]) == len(script)

    senders = [_sender(f"load{i}") for i in range(6)]
    start = threading.Event()
    killed = False
    try:
        with ThreadPoolExecutor(len(senders)) as pool:
            futures = [pool.submit(_client, faults.url, s, SCRIPTS[i % 2], start) for i, s in enumerate(senders)]
            start.set()
            time.sleep(0.3)  # 6 clients × 8 turns take about a second here: killed a third of the way in
            assert not all(f.done() for f in futures), "the load ended before the replica was killed"
            os.killpg(stack.replicas["rasa1"].pid, signal.SIGKILL)
            stack.replicas["rasa1"].wait(10)
            killed = True
            results = [f.result(timeout=8 * (HTTP_TIMEOUT + 5)) for f in futures]
    finally:
        if killed:
            stack.start_replica(0)

    retried = sum(s.tries > 1 for sent in results for s in sent)
    unanswered = [f"{s.message_id} {s.text!r} (tries {s.tries}: {s.problem})" for sent in results for s in sent
                  if not s.replies]  # fmt: skip
    problems: list[str] = []
    for i, (sender, sent) in enumerate(zip(senders, results, strict=True)):
        turns = _turns(_events(faults.tracker_db, sender))
        ids = [user.get("message_id") for user, _ in turns]
        for s in sent:
            times = ids.count(f"rest-{s.message_id}")
            if times != 1 and (s.replies or times > 1):
                problems.append(f"{s.message_id} {s.text!r} stored {times} times (tries {s.tries})")
        for user, replies in turns:
            message_id = str(user.get("message_id"))
            if not message_id.startswith(f"rest-{sender}-"):
                problems.append(f"{sender}: a user event without the client's message id: {user.get('text')!r}")
                continue
            position = int(message_id.rsplit("-", 1)[1])
            if len(replies) != baseline[i % 2][position] or len(set(replies)) != len(replies):
                problems.append(
                    f"{sender} turn {position} {user.get('text')!r}: stored replies {replies}, "
                    f"undisturbed {baseline[i % 2][position]}"
                )
    assert not unanswered and not problems, (
        f"{retried} messages were re-sent; never answered: {unanswered}; stored wrongly: {problems}"
    )
    assert stack.replicas["rasa1"].poll() is None, "the replica restarted"


# --- the record of conversations fed out of order (a minimal case of the RabbitMQ outage) ----------


def test_record_keeps_the_order_of_turns_published_late(faults: Faults, engine: Any) -> None:
    """After a broker outage each replica re-publishes the events it kept when it reconnects: with two
    replicas, the events of a conversation's turn 2 (one replica) may reach the consumer before those of
    turn 1 (the other one). Here the real stored events of a two-turn conversation are applied to the
    record in that order, as the consumer would; the transcript must still read turn 1, then turn 2, each
    with its own reply."""
    from bot.conversations.query import ConversationRecord
    from bot.conversations.recorder import Recorder

    sender = _sender("order")
    first, second = "xin chào", "thủ tục cấp hộ chiếu cần gì"
    replies = [_say(faults.url, sender, first), _say(faults.url, sender, second)]
    published = [{"sender_id": f"rest:{sender}", **data} for _, data in _events(faults.tracker_db, sender)]
    cut = [i for i, event in enumerate(published) if event["event"] == "user"][1]
    recorder = Recorder(engine)
    recorder.apply(published[cut:])  # turn 2's replica reconnected first
    recorder.apply(published[:cut])
    turns = [t for t in ConversationRecord(engine).transcript(f"rest:{sender}") if t.author == "citizen"]
    assert [t.text for t in turns] == [first, second], (
        "the record shows the turns in the order their events arrived, not the conversation's: "
        f"{[(t.id, t.text, t.reply and t.reply[:40]) for t in turns]}"
    )
    for turn, said in zip(turns, replies, strict=True):
        assert turn.reply and said[0][:30] in turn.reply, f"{turn.text!r} has another turn's reply: {turn.reply!r}"


def test_a_dead_process_is_started_again_with_its_command(faults: Faults) -> None:
    """What `make run-prod`'s loop does when a process dies: the same command again, in its place."""
    stack = faults.stack
    consumer = next(p for p in stack.procs if "consume" in " ".join(stack.commands.get(p.pid, ([], ""))[0]))
    os.killpg(consumer.pid, signal.SIGKILL)
    consumer.wait(10)
    again = stack.restart(consumer)
    assert again.poll() is None and again in stack.procs and consumer not in stack.procs
    assert "consume" in " ".join(stack.commands[again.pid][0])
