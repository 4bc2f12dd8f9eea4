"""The 34 provinces and centrally-run cities after the 1 July 2025 merger, with their codes.

Used to scope provincial procedure variants: the portal names a variant's province in
free text ("UBND tỉnh Bắc Ninh", "Sở Xây dựng - tỉnh Quảng Ngãi"), and the catalogue
keys it by the province code.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.text import fold

PROVINCES: dict[str, str] = {
    "01": "Thành phố Hà Nội",
    "04": "Tỉnh Cao Bằng",
    "08": "Tỉnh Tuyên Quang",
    "11": "Tỉnh Điện Biên",
    "12": "Tỉnh Lai Châu",
    "14": "Tỉnh Sơn La",
    "15": "Tỉnh Lào Cai",
    "19": "Tỉnh Thái Nguyên",
    "20": "Tỉnh Lạng Sơn",
    "22": "Tỉnh Quảng Ninh",
    "24": "Tỉnh Bắc Ninh",
    "25": "Tỉnh Phú Thọ",
    "31": "Thành phố Hải Phòng",
    "33": "Tỉnh Hưng Yên",
    "37": "Tỉnh Ninh Bình",
    "38": "Tỉnh Thanh Hóa",
    "40": "Tỉnh Nghệ An",
    "42": "Tỉnh Hà Tĩnh",
    "44": "Tỉnh Quảng Trị",
    "46": "Thành phố Huế",
    "48": "Thành phố Đà Nẵng",
    "51": "Tỉnh Quảng Ngãi",
    "52": "Tỉnh Gia Lai",
    "56": "Tỉnh Khánh Hòa",
    "66": "Tỉnh Đắk Lắk",
    "68": "Tỉnh Lâm Đồng",
    "75": "Thành phố Đồng Nai",
    "79": "Thành phố Hồ Chí Minh",
    "80": "Tỉnh Tây Ninh",
    "82": "Tỉnh Đồng Tháp",
    "86": "Tỉnh Vĩnh Long",
    "91": "Tỉnh An Giang",
    "92": "Thành phố Cần Thơ",
    "96": "Tỉnh Cà Mau",
}

_PREFIX = re.compile(r"^(tinh|thanh pho)\s+")


def _bare(name: str) -> str:
    """Folded name without "Tỉnh"/"Thành phố": "Thành phố Huế" -> "hue"."""
    # Both "Hòa" and "Hoà" spellings occur; fold() removes the mark either way.
    return _PREFIX.sub("", fold(name))


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    # Longest names first so that e.g. "ha tinh" is not taken for something shorter.
    items = sorted(((_bare(n), c) for c, n in PROVINCES.items()), key=lambda x: -len(x[0]))
    return [(re.compile(rf"(?:^|\b)(?:tinh|thanh pho|tp\.?)\s+{re.escape(b)}\b"), c) for b, c in items]


def province_in(text: str | None) -> str | None:
    """The code of the province named in ``text`` as "tỉnh X" / "Thành phố X", or None.

    >>> province_in("UBND tỉnh Bắc Ninh")
    '24'
    >>> province_in("Bộ Công an") is None
    True
    """
    if not text:
        return None
    folded = fold(text)
    for pattern, code in _patterns():
        if pattern.search(folded):
            return code
    return None
