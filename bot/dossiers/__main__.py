"""``python -m bot.dossiers …`` (the same commands as ``python -m bot dossier …``)."""

from __future__ import annotations

import sys

from bot.dossiers.cli import main

if __name__ == "__main__":
    sys.exit(main())
