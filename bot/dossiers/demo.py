"""Demo dossiers so a new user can try the lookup flow (listed in the README).

All are on the invented agency code ``H99`` and flagged ``is_demo``; names are invented. The phone numbers
are public demo values; the store keeps only their HMACs (the whole number and the last 4 digits), like
any imported dossier, so the verification digits are never in the database in clear.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.engine import Engine

from bot.dossiers.store import DossierInput, DossierStore

__all__ = ["DEMO_DOSSIERS", "seed_demo"]

_UNIT = "Trung tâm Phục vụ hành chính công phường Minh Họa, tỉnh Demo (dữ liệu minh họa)"

DEMO_DOSSIERS: tuple[DossierInput, ...] = (
    DossierInput(
        code="000.00.00.H99-261120-0001",
        procedure_code="1.004222",
        procedure_name="Đăng ký thường trú",
        status=4,
        receiving_unit="Công an phường Minh Họa, tỉnh Demo (dữ liệu minh họa)",
        received_date=date(2026, 11, 20),
        promised_date=date(2026, 12, 1),
        phone="0900006789",
        applicant_name="NGUYỄN VĂN DEMO",
        applicant_address="Số 1 đường Minh Họa, phường Minh Họa, tỉnh Demo",
        applicant_id="000000000001",
        is_demo=True,
    ),
    DossierInput(
        code="000.00.00.H99-261102-0002",
        procedure_code="1.001193",
        procedure_name="Đăng ký khai sinh",
        status=5,
        receiving_unit=_UNIT,
        received_date=date(2026, 11, 2),
        promised_date=date(2026, 12, 4),
        phone="0900002468",
        applicant_name="TRẦN THỊ MINH HỌA",
        applicant_address="Số 2 đường Minh Họa, phường Minh Họa, tỉnh Demo",
        applicant_id="000000000002",
        is_demo=True,
    ),
    DossierInput(
        code="000.00.00.H99-261015-0003",
        procedure_code="1.001612",
        procedure_name="Đăng ký thành lập hộ kinh doanh",
        status=4,
        receiving_unit=_UNIT,
        received_date=date(2026, 10, 15),
        promised_date=date(2026, 10, 20),
        phone="0900001357",
        applicant_name="LÊ VĂN THỬ NGHIỆM",
        applicant_address="Số 3 đường Minh Họa, phường Minh Họa, tỉnh Demo",
        applicant_id="000000000003",
        is_demo=True,
    ),
    DossierInput(
        code="000.00.00.H99-260905-0004",
        procedure_code="2.000908",
        procedure_name="Cấp bản sao từ sổ gốc",
        status=10,
        receiving_unit=_UNIT,
        received_date=date(2026, 9, 5),
        promised_date=date(2026, 9, 8),
        phone="0900004321",
        applicant_name="PHẠM THỊ DEMO",
        applicant_address="Số 4 đường Minh Họa, phường Minh Họa, tỉnh Demo",
        applicant_id="000000000004",
        is_demo=True,
    ),
)


def seed_demo(engine: Engine, salt: bytes | None = None, at: datetime | None = None) -> int:
    """Insert the demo dossiers that are missing (idempotent: existing ones are left as they are,
    so a status changed during a demo survives a restart). Returns how many were added.

    ``at`` is when their first status is recorded (default: now); tests pass their own clock."""
    store = DossierStore(engine, salt)
    added = 0
    for item in DEMO_DOSSIERS:
        if store.fetch(item.code) is None:
            store.upsert(item, at=at, note="demo data")
            added += 1
    return added
