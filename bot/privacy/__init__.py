"""Personal-data masking for text and logs, and sealed originals (no Rasa imports)."""

from bot.privacy.masking import (
    PIIMaskingFilter,
    install_log_masking,
    mask_email,
    mask_id,
    mask_name,
    mask_phone,
    mask_text,
)
from bot.privacy.sealing import SealError, seal, unseal

__all__ = [
    "PIIMaskingFilter",
    "SealError",
    "install_log_masking",
    "mask_email",
    "mask_id",
    "mask_name",
    "mask_phone",
    "mask_text",
    "seal",
    "unseal",
]
