#!/usr/bin/env bash
# Makes a local PostgreSQL usable for the store tests (Debian, run as root) and prints its URL.
# Usage: export NETLM_TEST_POSTGRES_URL=$(scripts/services.sh)
# Only the URL goes to stdout; everything else goes to stderr. Safe to run again.
set -euo pipefail
exec 3>&1 1>&2
cd /  # psql run as postgres must be able to enter the working directory

if ! command -v pg_lsclusters >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q postgresql
fi

read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1) || {
  echo "no PostgreSQL cluster found (pg_lsclusters lists none)"
  exit 1
}
if [[ "$status" != online* ]]; then
  # The server must not inherit fd 3 (the caller's $(...) pipe) or the caller waits forever.
  pg_ctlcluster "$version" "$cluster" start 3>&- </dev/null \
    || pg_lsclusters --no-header | grep -q online
fi

as_postgres() {
  if command -v runuser >/dev/null; then
    runuser -u postgres -- "$@"
  else
    su postgres -s /bin/bash -c "$(printf '%q ' "$@")"
  fi
}
psql_query() {
  as_postgres psql --port "$port" --no-psqlrc --tuples-only --no-align --quiet -v ON_ERROR_STOP=1 -c "$1"
}

for _ in $(seq 1 30); do
  psql_query "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.5
done

if [[ "$(psql_query "SELECT 1 FROM pg_roles WHERE rolname = 'netlm'")" != 1 ]]; then
  psql_query "CREATE ROLE netlm LOGIN CREATEDB PASSWORD 'netlm'" >/dev/null
fi
if [[ "$(psql_query "SELECT 1 FROM pg_database WHERE datname = 'netlm_test'")" != 1 ]]; then
  psql_query "CREATE DATABASE netlm_test OWNER netlm" >/dev/null
fi

echo "postgresql+psycopg://netlm:netlm@127.0.0.1:${port}/netlm_test" >&3
