"""Procedure codes (mã TTHC, e.g. ``1.004222``): the one normalisation, so every lookup compares alike.

The twin of :mod:`bot.dossiers.codes` (dossier codes, ``normalise_dossier_code``).
"""

from __future__ import annotations

import re

__all__ = ["normalise_procedure_code"]

_NON_DIGITS = re.compile(r"\D")


def normalise_procedure_code(code: str) -> str:
    """Digits of a procedure code: ``"1.004222"`` -> ``"1004222"`` (the portal writes it with or without the dot)."""
    return _NON_DIGITS.sub("", code)
