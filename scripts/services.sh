#!/usr/bin/env bash
# bash scripts/services.sh start|stop|status
#
# A local PostgreSQL + PostGIS server for development and CI (installs Debian's packages when
# missing). The records and the solve queue live in one database, so this is the only service:
# no Redis. Listens on 127.0.0.1 only, port $XUNHU_PG_PORT (54329), data in $XUNHU_SERVICES_DIR
# (/tmp/xunhu-services; outside the repository so the server's own user can reach it). Roles:
#   postgres   superuser (creates databases; the tests make one per test from xunhu_template)
#   xunhu      owns the database and runs the migrations
#   xunhu_app  what the dashboard and workers use: no UPDATE/DELETE on append-only tables
# Local connections are trusted: this is a development server; docs/deployment.md shows production.
# XUNHU_PG_THROWAWAY=1 (the test script sets it) creates the cluster without fsync, for speed.
# The last lines of `start` are the environment to use, e.g. eval "$(bash scripts/services.sh start | tail -3)".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh

PORT=${XUNHU_PG_PORT:-54329}
BASE=${XUNHU_SERVICES_DIR:-/tmp/xunhu-services}
DATA=$BASE/postgres
LOG=$BASE/postgres.log

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && echo "$dir"
}

install_postgres() {
  if [ -z "$(pg_bin)" ]; then
    apt_install postgresql
  fi
  local major
  major=$(basename "$(dirname "$(pg_bin)")")
  if ! ls /usr/share/postgresql/"$major"/extension/postgis.control >/dev/null 2>&1; then
    apt_install "postgresql-$major-postgis-3"
  fi
}

# as_server CMD...: run as the server's own user (PostgreSQL refuses to run as root).
as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

psql_super() {
  "$(pg_bin)/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

start() {
  install_postgres
  local bin
  bin=$(pg_bin)
  mkdir -p "$BASE"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$BASE"; fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    as_server "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $PORT"
      echo "unix_socket_directories = '$DATA'"
      echo "max_connections = 200"
      if [ "${XUNHU_PG_THROWAWAY:-0}" = 1 ]; then
        # CI and test runs: nothing here must survive a crash, and each test clones a database.
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
      fi
    } >>"$DATA/postgresql.conf"
  fi
  if ! as_server "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_server "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null
  fi
  psql_super -d postgres <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xunhu') THEN CREATE ROLE xunhu LOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xunhu_app') THEN CREATE ROLE xunhu_app LOGIN; END IF;
END $$;
SQL
  for db in xunhu xunhu_template; do
    if [ -z "$(psql_super -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
      psql_super -d postgres -c "CREATE DATABASE $db OWNER xunhu"
      # PostGIS and pgcrypto need a superuser to create; the migrations then find them in place.
      psql_super -d "$db" -c "CREATE EXTENSION postgis; CREATE EXTENSION pgcrypto;"
    fi
  done
  psql_super -d postgres -c "ALTER DATABASE xunhu_template IS_TEMPLATE true" >/dev/null
  if [ -x .venv/bin/python ]; then
    XUNHU_DB="postgresql://xunhu@127.0.0.1:$PORT/xunhu" .venv/bin/python -m records init >/dev/null
  fi
  echo "PostgreSQL $(basename "$(dirname "$bin")") + PostGIS on 127.0.0.1:$PORT (data $DATA, log $LOG)"
  echo "XUNHU_DB_OWNER=postgresql://xunhu@127.0.0.1:$PORT/xunhu"
  echo "XUNHU_PG_ADMIN=postgresql://postgres@127.0.0.1:$PORT/postgres"
  echo "XUNHU_DB=postgresql://xunhu_app@127.0.0.1:$PORT/xunhu"
}

stop() {
  local bin
  bin=$(pg_bin) || true
  if [ -n "$bin" ] && [ -f "$DATA/PG_VERSION" ]; then
    as_server "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  echo "stopped PostgreSQL on port $PORT"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    as_server "$(pg_bin)/pg_ctl" -D "$DATA" status
    ;;
  *)
    echo "usage: bash scripts/services.sh start|stop|status" >&2
    exit 2
    ;;
esac
