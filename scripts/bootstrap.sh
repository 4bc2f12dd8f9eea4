#!/usr/bin/env bash
# Create .venv with Python 3.10 and install the pinned dependencies when they changed.
# Idempotent and quiet when nothing is missing; called by every Makefile target.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.installed"

find_python() {
  local candidates=()
  if command -v pyenv >/dev/null 2>&1; then
    local root; root=$(pyenv root)
    for v in "$root"/versions/3.10.*; do [ -x "$v/bin/python" ] && candidates+=("$v/bin/python"); done
  fi
  [ -d "$HOME/.pyenv/versions" ] && for v in "$HOME"/.pyenv/versions/3.10.*; do [ -x "$v/bin/python" ] && candidates+=("$v/bin/python"); done
  command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
  for p in "${candidates[@]}"; do
    if "$p" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)'; then
  if ! PY=$(find_python); then
    echo "error: Rasa 3.6 needs Python 3.10, and none was found." >&2
    echo "       Install it with 'pyenv install 3.10.13' or your package manager's python3.10, then re-run." >&2
    exit 1
  fi
  echo ">> creating $VENV with $PY"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi

want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo ">> installing pinned dependencies (requirements.lock)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.0"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.lock
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
  "$VENV/bin/python" -m pip check
  echo "$want" > "$STAMP"
fi

# The web widget's socket.io client and the staff console's htmx come from npm, pinned by package-lock.json.
if [ -f package-lock.json ]; then
  lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ "$(cat node_modules/.installed 2>/dev/null)" != "$lock_hash" ]; then
    if command -v npm >/dev/null 2>&1; then
      echo ">> installing browser assets: widget and console (npm ci)"
      npm ci --silent --no-audit --no-fund
      echo "$lock_hash" > node_modules/.installed
    else
      echo "warning: npm not found; the widget's socket.io client and the console's htmx will be missing" >&2
    fi
  fi
fi
