"""Personal-data masking for text and logs (no Rasa imports)."""

from bot.privacy.masking import (
    PIIMaskingFilter,
    install_log_masking,
    mask_email,
    mask_id,
    mask_name,
    mask_phone,
    mask_text,
)

__all__ = [
    "PIIMaskingFilter",
    "install_log_masking",
    "mask_email",
    "mask_id",
    "mask_name",
    "mask_phone",
    "mask_text",
]
