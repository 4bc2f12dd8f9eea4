"""Start Rasa (server or action server) with personal data masked in every log line.

``python -m bot.runtime.rasa_entry run …`` is ``rasa run …`` with
:func:`bot.privacy.install_log_masking` installed first (its log-record factory
masks phone and ID numbers in records created after Rasa configures logging)
and the fixes of :mod:`bot.runtime.rasa_patches` applied. With ``--enable-api`` the
HTTP API always needs the token (``--auth-token`` from ``RASA_TOKEN``); files the
process creates are readable by their owner only.
"""

from __future__ import annotations

import logging
import sys


def main() -> None:
    """Install log masking, then hand over to Rasa's own command line."""
    import os

    from bot.privacy import install_log_masking
    from bot.settings import PRIVATE_UMASK, settings, validate_or_exit

    # A mistyped variable (REDIS_PORT=redis, …) stops Rasa here with one line naming it.
    validate_or_exit()
    # The tracker database and the logs this process creates are readable by their owner only.
    os.umask(PRIVATE_UMASK)
    install_log_masking()
    # Rasa reports some problems with a message (with the message in it) as Python warnings on
    # stderr; through logging they are masked like every other line.
    logging.captureWarnings(True)
    if sys.argv[1:2] == ["run"] and "--enable-api" in sys.argv and "--auth-token" not in sys.argv:
        # Rasa's HTTP API always needs the token (RASA_TOKEN, else var/secrets/rasa_token). It is
        # added here rather than by the caller, so other local users cannot read it in `ps`.
        # One argument with "=": a token that starts with "-" would otherwise read as an option.
        sys.argv += [f"--auth-token={settings().runtime.rasa_token.reveal()}"]
    if sys.argv[1:3] != ["run", "actions"]:
        # The patches concern the Rasa server; importing them would load TensorFlow into the action server.
        from bot.runtime.rasa_patches import apply_all

        apply_all()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
