"""Settings read from environment variables, with safe on-premise defaults.

One place for every knob: other modules call :func:`settings` rather than
reading ``os.environ`` themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; build it with :func:`settings`."""

    database_url: str
    catalog_dir: Path
    var_dir: Path
    portal_base_url: str
    portal_procedure_url: str
    hotline: str
    office_hours: str
    extra: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Return the process-wide settings (cached; call ``settings.cache_clear()`` in tests)."""
    var_dir = Path(_env("BOT_VAR_DIR", str(PROJECT_ROOT / "var")))
    return Settings(
        database_url=_env("DATABASE_URL", f"sqlite:///{var_dir / 'bot.db'}"),
        catalog_dir=Path(_env("CATALOG_DIR", str(PROJECT_ROOT / "data" / "catalog"))),
        var_dir=var_dir,
        portal_base_url=_env("PORTAL_BASE_URL", "https://dichvucong.gov.vn"),
        # The public detail page of a procedure; {code} is the mã TTHC.
        portal_procedure_url=_env(
            "PORTAL_PROCEDURE_URL",
            "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc={code}",
        ),
        hotline=_env("HELPDESK_HOTLINE", "1900 xxxx (tổng đài của Trung tâm Phục vụ hành chính công)"),
        office_hours=_env("HELPDESK_HOURS", "7h30–11h30 và 13h30–17h00, thứ Hai đến thứ Sáu; sáng thứ Bảy"),
    )
