#!/bin/sh
# First start of the compose PostgreSQL only: the tracker store's own database, owned by the same user.
# (`python -m bot prod prepare` then creates its tables and the sender_id index.)
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -c "CREATE DATABASE \"${TRACKER_DB_NAME:-dvc_tracker}\" OWNER \"$POSTGRES_USER\""
