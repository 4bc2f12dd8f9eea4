"""The one-door HTTP connector against a local HTTP server; the circuit breaker; configuration from env."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.dossiers.connector import CircuitBreaker, FieldMap, HttpDossierSource, OneDoorConfig, get_path
from bot.dossiers.service import DossierLookup, Verified, WrongPhone
from bot.dossiers.source import DossierSourceUnavailable, hash_last4, hash_phone
from bot.dossiers.store import DossierStore
from bot.settings import load
from tests.fakes import serve_http

CODE = "000.00.12.H61-240831-0001"
SALT = b"test-salt"

# A province's answer shape, mapped through ONEDOOR_FIELD_MAP.
PROVINCE_BODY = {
    "result": {
        "hoSo": {
            "maHoSo": CODE,
            "thuTuc": {"ma": "1.004222", "ten": "Đăng ký thường trú"},
            "trangThai": "DANG_XU_LY",
            "donViTiepNhan": "Công an phường A",
            "ngayTiepNhan": "31/08/2024",
            "ngayHenTra": 1725926400000,  # epoch ms: 2024-09-10 07:00 in Vietnam
            "chuHoSo": {"hoTen": "NGUYỄN VĂN X", "soDienThoai": "0912 345 678", "soGiayTo": "001099012345"},
        }
    }
}
FIELD_MAP = {
    "fields": {
        "code": "result.hoSo.maHoSo",
        "procedure_code": "result.hoSo.thuTuc.ma",
        "procedure_name": "$.result.hoSo.thuTuc.ten",
        "status": "result.hoSo.trangThai",
        "receiving_unit": "result.hoSo.donViTiepNhan",
        "received_date": "result.hoSo.ngayTiepNhan",
        "promised_date": "result.hoSo.ngayHenTra",
        "phone": "result.hoSo.chuHoSo.soDienThoai",
        "applicant_name": "result.hoSo.chuHoSo.hoTen",
        "applicant_id": "result.hoSo.chuHoSo.soGiayTo",
    },
    "status_map": {"DANG_XU_LY": 4, "CHO_BO_SUNG": "Yêu cầu bổ sung giấy tờ", "DA_TRA": 10},
}


class _Handler(BaseHTTPRequestHandler):
    """Behaviour chosen by the first path segment: ok, slow, error, garbage, missing, flaky, other, forbidden."""

    calls: ClassVar[list[tuple[str, dict[str, str]]]] = []
    flaky_failures = 0

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        _Handler.calls.append((self.path, dict(self.headers)))
        mode = self.path.strip("/").split("/")[0]
        ok = json.dumps(PROVINCE_BODY).encode()
        if mode == "ok":
            self._send(200, ok)
        elif mode == "slow":
            time.sleep(1.0)
            self._send(200, ok)
        elif mode == "error":
            self._send(500, b'{"error": "internal"}')
        elif mode == "garbage":
            self._send(200, b"<html>502 Bad Gateway</html>", "text/html")
        elif mode == "truncated":
            self._send(200, ok[:40])
        elif mode == "missing":
            self._send(404, b'{"error": "not found"}')
        elif mode == "empty":
            self._send(200, b'{"result": {"hoSo": null}}')
        elif mode == "other":
            body = json.loads(ok)
            body["result"]["hoSo"]["maHoSo"] = "000.00.12.H61-240831-0002"
            self._send(200, json.dumps(body).encode())
        elif mode == "badstatus":
            body = json.loads(ok)
            body["result"]["hoSo"]["trangThai"] = "KHONG_RO"
            self._send(200, json.dumps(body).encode())
        elif mode == "forbidden":
            self._send(403, b"{}")
        elif mode == "flaky":
            if _Handler.flaky_failures > 0:
                _Handler.flaky_failures -= 1
                self._send(503, b"{}")
            else:
                self._send(200, ok)
        else:
            self._send(400, b"{}")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_http(_Handler) as url:
        yield url


@pytest.fixture(autouse=True)
def _reset_handler() -> None:
    _Handler.calls = []
    _Handler.flaky_failures = 0


def make_source(base: str, mode: str, **kwargs: Any) -> HttpDossierSource:
    config = OneDoorConfig(
        base_url=base,
        path=f"/{mode}/ho-so/{{code}}",
        auth_header=("Authorization", "Bearer s3cret"),
        timeout=kwargs.pop("timeout", 0.3),
        retries=kwargs.pop("retries", 1),
        backoff=0.01,
        field_map=FieldMap.from_mapping(FIELD_MAP),
        **kwargs,
    )
    return HttpDossierSource(config, salt=SALT)


def test_valid_answer_is_mapped(server: str) -> None:
    record = make_source(server, "ok").fetch(CODE)
    assert record is not None
    assert (record.code, record.procedure_code, record.procedure_name) == (CODE, "1.004222", "Đăng ký thường trú")
    assert record.status == 4 and record.receiving_unit == "Công an phường A"
    assert record.received_date == date(2024, 8, 31) and record.promised_date == date(2024, 9, 10)
    assert record.phone_last4 == "5678" and record.phone_hash == hash_phone("0912345678", SALT)
    assert record.last4_hash == hash_last4("5678", SALT)  # computed on the fly; nothing is stored
    assert "5678" not in repr(record)
    assert "0912" not in repr(record) and "NGUYỄN" not in repr(record)
    path, headers = _Handler.calls[0]
    assert path == "/ok/ho-so/000.00.12.H61-240831-0001"
    assert headers["Authorization"] == "Bearer s3cret"


def test_lookup_through_the_connector_compares_hashes(server: str, engine: Engine) -> None:
    store = DossierStore(engine, SALT)
    lookup = DossierLookup(make_source(server, "ok"), store, salt=SALT)
    assert isinstance(lookup.status(CODE, "1111", "u", "rest"), WrongPhone)
    assert isinstance(lookup.status(CODE, "5678", "u", "rest"), Verified)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM dossiers")).scalar_one() == 0  # the store keeps no copy


@pytest.mark.parametrize("mode", ["missing", "empty"])
def test_unknown_code_is_none(server: str, mode: str) -> None:
    assert make_source(server, mode).fetch(CODE) is None


@pytest.mark.parametrize(
    ("mode", "expected_calls"),
    [
        ("slow", 2),  # timeout, retried once
        ("error", 2),  # HTTP 500, retried once
        ("garbage", 1),  # not JSON: no retry
        ("truncated", 1),
        ("other", 1),  # an answer about another dossier is never shown
        ("badstatus", 1),
        ("forbidden", 1),  # configuration problem: no retry
    ],
)
def test_failures_raise_unavailable(server: str, mode: str, expected_calls: int) -> None:
    source = make_source(server, mode)
    started = time.monotonic()
    with pytest.raises(DossierSourceUnavailable):
        source.fetch(CODE)
    assert time.monotonic() - started < 2.0
    if mode != "slow":  # the slow server may still be answering the abandoned request
        assert len(_Handler.calls) == expected_calls
    else:
        assert len(_Handler.calls) >= 1


def test_retry_recovers_from_a_transient_503(server: str) -> None:
    _Handler.flaky_failures = 1
    assert make_source(server, "flaky").fetch(CODE) is not None
    assert len(_Handler.calls) == 2


def test_unreachable_host_is_unavailable() -> None:
    source = make_source("http://127.0.0.1:9", "ok", retries=0)
    with pytest.raises(DossierSourceUnavailable):
        source.fetch(CODE)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_circuit_breaker_opens_then_half_opens_and_recovers(server: str) -> None:
    clock = FakeClock()
    source = make_source(server, "flaky", retries=0)
    source.breaker = CircuitBreaker(threshold=3, cooldown=30, clock=clock)
    _Handler.flaky_failures = 100
    for _ in range(3):
        with pytest.raises(DossierSourceUnavailable):
            source.fetch(CODE)
    assert source.breaker.state == "open" and len(_Handler.calls) == 3
    # Open: refused at once, without touching the server.
    with pytest.raises(DossierSourceUnavailable, match="circuit open"):
        source.fetch(CODE)
    assert len(_Handler.calls) == 3
    # Half-open after the cool-down: one trial; it fails, so the circuit opens again.
    clock.t += 30
    assert source.breaker.state == "half-open"
    with pytest.raises(DossierSourceUnavailable):
        source.fetch(CODE)
    assert len(_Handler.calls) == 4 and source.breaker.state == "open"
    # Next trial succeeds: closed again.
    _Handler.flaky_failures = 0
    clock.t += 30
    assert source.fetch(CODE) is not None
    assert source.breaker.state == "closed"


def test_half_open_lets_only_one_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown=5, clock=clock)
    breaker.record_failure()
    assert not breaker.allow()
    clock.t += 5
    assert breaker.allow() and not breaker.allow()
    breaker.record_success()
    assert breaker.allow() and breaker.state == "closed"


def test_not_found_does_not_open_the_circuit(server: str) -> None:
    source = make_source(server, "missing")
    source.breaker = CircuitBreaker(threshold=2, cooldown=30)
    for _ in range(5):
        assert source.fetch(CODE) is None
    assert source.breaker.state == "closed"


def test_config_from_env_with_yaml_field_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: str) -> None:
    import yaml

    map_file = tmp_path / "onedoor.yml"
    map_file.write_text(yaml.safe_dump(FIELD_MAP, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("ONEDOOR_BASE_URL", server + "/")
    monkeypatch.setenv("ONEDOOR_PATH", "/ok/ho-so/{code}")
    monkeypatch.setenv("ONEDOOR_AUTH_HEADER", "X-Api-Key: abc")
    monkeypatch.setenv("ONEDOOR_TIMEOUT", "2.5")
    monkeypatch.setenv("ONEDOOR_FIELD_MAP", str(map_file))
    config = OneDoorConfig.from_settings(load().onedoor)
    assert config.base_url == server and config.timeout == 2.5 and config.auth_header == ("X-Api-Key", "abc")
    assert "abc" not in repr(config)
    assert config.field_map.status("CHO_BO_SUNG") == 5
    record = HttpDossierSource(config, salt=SALT).fetch(CODE)
    assert record is not None and record.status == 4
    assert _Handler.calls[0][1]["X-Api-Key"] == "abc"
    monkeypatch.setenv("ONEDOOR_FIELD_MAP", json.dumps(FIELD_MAP))
    assert OneDoorConfig.from_settings(load().onedoor).field_map.fields["status"] == "result.hoSo.trangThai"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ONEDOOR_BASE_URL", "", "ONEDOOR_BASE_URL"),
        ("ONEDOOR_AUTH_HEADER", "no-colon", "ONEDOOR_AUTH_HEADER"),
        ("ONEDOOR_TIMEOUT", "soon", "ONEDOOR_TIMEOUT"),
        ("ONEDOOR_FIELD_MAP", '{"fields": {"nope": "x"}}', "unknown fields"),
        ("ONEDOOR_FIELD_MAP", "/no/such/file.yml", "neither JSON nor an existing file"),
    ],
)
def test_config_errors_name_the_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv("ONEDOOR_BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        OneDoorConfig.from_settings(load().onedoor)


def test_get_path_and_dates() -> None:
    data = {"a": {"b": [{"c": 1}, {"c": 2}]}}
    assert get_path(data, "a.b[1].c") == 2
    assert get_path(data, "$.a.b[0].c") == 1
    assert get_path(data, "a.x.c") is None and get_path(data, "a.b[5].c") is None
    fm = FieldMap()
    assert fm.date("2026-12-01") == date(2026, 12, 1)
    assert fm.date("2026-11-30T18:00:00Z") == date(2026, 12, 1)  # 01:00 in Vietnam
    assert fm.date("01/12/2026") == date(2026, 12, 1)
    assert fm.date(None) is None
    with pytest.raises(ValueError):
        fm.date("mai")
