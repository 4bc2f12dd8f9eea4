#!/bin/sh
# One Rasa replica of the production profile (deploy/README.md).
#
# credentials.yml names the Telegram and Zalo secrets as ${VAR}s and Rasa refuses to start on an
# unset one, so the credentials file Rasa reads is written first with only the configured channels
# (`python -m bot channels credentials`, into BOT_VAR_DIR, an emptyDir in Kubernetes).
# CORS_ORIGINS is comma-separated; Rasa's --cors takes one origin per argument.
set -eu
cd /app
: "${CORS_ORIGINS:?set CORS_ORIGINS to the portal's origin, e.g. https://dichvucong.example.gov.vn}"
creds="${BOT_VAR_DIR:-/app/var}/credentials.yml"
python -m bot channels credentials "$creds"
set -f
old_ifs=$IFS
IFS=','
# shellcheck disable=SC2086  # split on commas on purpose
set -- $CORS_ORIGINS
IFS=$old_ifs
set +f
exec python -m bot.runtime.rasa_entry run \
    --model "${RASA_MODEL:-/app/models}" \
    --enable-api \
    --port 5005 \
    --endpoints endpoints.prod.yml \
    --credentials "$creds" \
    --cors "$@"
