"""Write the credentials file Rasa starts with: only the channels whose environment variables are set.

Rasa expands ``${VAR}`` in credentials.yml and refuses to start when a variable
is unset, so a province that uses only the widget would otherwise have to
invent Telegram and Zalo secrets. :func:`write_credentials` copies the
project's credentials.yml, leaving out every channel that references an unset
(or empty) variable, and keeps the ``${VAR}`` references themselves: no
secret is ever written to disk.

    python -m bot.channels.credentials [OUTPUT]   # default var/credentials.yml; --help
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.settings import PROJECT_ROOT, settings, validate_or_exit

logger = logging.getLogger(__name__)

TEMPLATE = PROJECT_ROOT / "credentials.yml"
_VAR_RE = re.compile(r"\$\{([^}]+)\}")


def _variables(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_VAR_RE.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(_variables(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_variables(v) for v in value)) if value else set()
    return set()


def active_channels(
    template: Path = TEMPLATE, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The channel entries to enable, and for each left-out channel the variables it is missing.

    ``environ``: the variables that are set (default: those of :mod:`bot.settings`).
    """
    environ = settings().raw() if environ is None else environ
    config = yaml.safe_load(template.read_text(encoding="utf-8")) or {}
    if not isinstance(config, dict):
        raise ValueError(f"{template}: expected a mapping of channel name to options")
    enabled: dict[str, Any] = {}
    skipped: dict[str, list[str]] = {}
    for channel, options in config.items():
        missing = sorted(v for v in _variables(options) if not environ.get(v))
        if missing:
            skipped[channel] = missing
        else:
            enabled[channel] = options
    return enabled, skipped


def write_credentials(path: Path | None = None, template: Path = TEMPLATE) -> Path:
    """Write the Rasa credentials file for the current environment and return its path."""
    path = path or settings().core.var_dir / "credentials.yml"
    enabled, skipped = active_channels(template)
    for channel, missing in skipped.items():
        logger.info("channel %s left out: %s not set", channel, ", ".join(missing))
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Generated from credentials.yml by bot.channels.credentials; do not edit.\n"
    if skipped:
        header += "".join(f"# left out: {c} (unset: {', '.join(m)})\n" for c, m in skipped.items())
    body = yaml.safe_dump(enabled, sort_keys=False, allow_unicode=True, default_flow_style=False)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(header + body, encoding="utf-8")
    tmp.replace(path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the file and say which channels are on (``--help`` for the arguments)."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.channels.credentials",
        description="Write the Rasa credentials file with only the channels of credentials.yml whose "
        "variables are set (the ${VAR} references are kept; no secret is written).",
    )
    parser.add_argument(
        "output", nargs="?", type=Path, default=None, help="where to write it (default: BOT_VAR_DIR/credentials.yml)"
    )
    args = parser.parse_args(argv)
    validate_or_exit()
    path = write_credentials(args.output)
    enabled, skipped = active_channels()
    print(f"wrote {path}")
    print("enabled: " + ", ".join(enabled))
    for channel, missing in skipped.items():
        print(f"left out: {channel} (set {', '.join(missing)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
