#!/usr/bin/env bash
# Debian packages the tests and the production profile use: Chromium and its driver (browser tests),
# nginx (the production profile's balancer). Root only; a no-op for what is present.
# Usage: scripts/install_debian.sh [command:package ...]   (default: all of them)
set -euo pipefail
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(chromium:chromium chromedriver:chromium-driver nginx:nginx-light)
missing=()
for pair in "${wanted[@]}"; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${missing[*]} missing and cannot be installed here; the tests that need them will skip" >&2
  exit 0
fi
echo ">> installing ${missing[*]} (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's package starts nginx on port 80 with its default site; the profile runs its own instance.
if printf '%s\n' "${missing[@]}" | grep -q '^nginx'; then
  (command -v systemctl >/dev/null 2>&1 && systemctl disable --now nginx >/dev/null 2>&1) || true
  /usr/sbin/nginx -s quit >/dev/null 2>&1 || true
fi
