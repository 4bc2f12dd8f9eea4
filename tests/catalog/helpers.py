"""Helpers for the catalogue tests: a migrated throwaway database and small invented curated records."""

from __future__ import annotations

import copy
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from bot.catalog.sync import DETAIL_PATH, LIST_PATH
from tests.fakes import serve_http

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PORTAL_MINI = FIXTURES / "portal_mini"


def curated_record(code: str = "1.004222", province: str | None = None, **changes: Any) -> dict[str, Any]:
    """A valid curated record (invented facts) in the docs/CATALOG_FORMAT.md structure."""
    record: dict[str, Any] = {
        "code": code,
        "province": province,
        "name": "Thủ tục thử nghiệm đăng ký",
        "aliases": ["thử nghiệm", "đăng ký thử"],
        "field": "Lĩnh vực thử nghiệm",
        "agencies": {
            "competent": {"name": "Công an cấp xã", "level": "commune"},
            "implementing": [{"name": "Công an cấp xã", "level": "commune"}],
        },
        "online_level": "partial",
        "online_portals": ["dichvucong", "vneid"],
        "cases": [
            {
                "name": "Trường hợp thông thường",
                "common": True,
                "documents": [
                    {"name": "Tờ khai (mẫu TN01)", "originals": 1, "copies": 0, "e_form": True, "note": None}
                ],
            }
        ],
        "methods": [
            {
                "kind": "online",
                "processing_time": 7,
                "time_unit": "working_day",
                "time_note": None,
                "fees": [
                    {
                        "amount": 10000,
                        "description": "Lệ phí nộp trực tuyến",
                        "legal_basis": "01/2099/TT-BTN",
                        "source": "portal",
                    }
                ],
            },
            {"kind": "direct", "processing_time": 0.5, "time_unit": "day", "fees": []},
        ],
        "steps": ["Chuẩn bị hồ sơ.", "Nộp hồ sơ.", "Nhận kết quả."],
        "legal_basis": [{"code": "01/2099/QH99", "title": "Luật Thử nghiệm"}],
        "results": ["Giấy xác nhận"],
        "requirements": "Không có",
        "source_url": "https://dichvucong.gov.vn/p/home/x.html",
        "verified_on": "2026-07-18",
        "crosscheck_notes": [{"field": "methods.online.fees", "note": "Thử nghiệm", "legal_basis": "01/2099/TT-BTN"}],
    }
    for key, value in changes.items():
        record[key] = value
    return copy.deepcopy(record)


def file_name(code: str, province: str | None = None) -> str:
    """The file name the format requires for a code and province."""
    return code.replace(".", "_") + (f"-{province}" if province else "") + ".yml"


def write_record(directory: Path, record: dict[str, Any], name: str | None = None) -> Path:
    """Write ``record`` as YAML into ``directory`` under its required file name."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or file_name(record["code"], record.get("province")))
    path.write_text(yaml.safe_dump(record, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class FakePortal:
    """Replays catalogue rows (cursor-paginated by lastId) and detail responses, with injectable failures."""

    def __init__(self, rows: list[dict[str, Any]], details: dict[str, Any]) -> None:
        self.rows, self.details = rows, details
        self.fail_next: list[int] = []  # statuses to answer before serving normally
        self.broken_from_row: int | None = None  # list requests from this row on always fail
        self.requests: list[tuple[str, dict[str, Any], str]] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any) -> None:
                body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                portal.requests.append((self.path, body, self.headers.get("User-Agent", "")))
                if portal.fail_next:
                    self._send(portal.fail_next.pop(0), {"code": "ERROR"})
                elif self.path == LIST_PATH:
                    ids = [r["id"] for r in portal.rows]
                    start = ids.index(body["lastId"]) + 1 if body.get("lastId") else 0
                    if portal.broken_from_row is not None and start >= portal.broken_from_row:
                        self._send(503, {"code": "ERROR"})
                        return
                    page = portal.rows[start : start + int(body.get("size", 10))]
                    self._send(201, {"code": "OK", "data": {"rows": page, "total": len(ids)}})
                elif self.path == DETAIL_PATH and body.get("id") in portal.details:
                    self._send(201, portal.details[body["id"]])
                else:
                    self._send(404, {"code": "NOT_FOUND"})

        self._serving = serve_http(Handler)
        self.url = self._serving.__enter__()

    def close(self) -> None:
        self._serving.__exit__(None, None, None)

    def list_cursors(self) -> list[str | None]:
        return [body.get("lastId") for path, body, _ in self.requests if path == LIST_PATH]
