"""Helpers for the catalogue tests: a migrated throwaway database and small invented curated records."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parent / "fixtures"
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
                "channel": "online",
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
            {"channel": "direct", "processing_time": 0.5, "time_unit": "day", "fees": []},
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
