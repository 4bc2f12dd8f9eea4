#!/usr/bin/env bash
# Debian's Chromium and its driver for the widget's browser tests (root only; a no-op when present).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: chromium/chromium-driver missing and cannot be installed here; browser tests will skip" >&2
  exit 0
fi
echo ">> installing chromium and chromium-driver (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium chromium-driver >/dev/null
