"""Errors of the trainer loop: a stable ``code`` and structured ``fields`` for the console to word.

Messages are English, for logs; the console and CLI translate ``code`` (with ``fields``) into
staff sentences from the wording catalogue. No field ever holds personal data in clear (findings
carry masked excerpts only).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrainingError"]


class TrainingError(ValueError):
    """A refused trainer action. ``code`` names the rule (e.g. ``"personal_data"``, ``"bad_intent_name"``,
    ``"intent_exists"``, ``"gate_failed"``); ``fields`` says what was wrong."""

    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.fields = fields
