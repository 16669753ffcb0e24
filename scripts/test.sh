#!/usr/bin/env bash
# Install what the tests need (Debian's Chromium for the browser tests, PostgreSQL + PostGIS for the
# records tests on a server, .venv with the pinned requirements) and run the whole test suite on the
# embedded SQLite records, then the records tests again on PostgreSQL. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh
# The browser tests drive the system Chromium (never a browser downloaded by `playwright install`).
command -v chromium >/dev/null 2>&1 || apt_install chromium
install_cjk_font
setup_venv
# A throwaway local server (no fsync): each records test clones its own database from a template.
services=$(XUNHU_PG_THROWAWAY=1 bash scripts/services.sh start)
echo "$services" | head -1
XUNHU_PG_ADMIN=$(echo "$services" | sed -n 's/^XUNHU_PG_ADMIN=//p')
export XUNHU_PG_ADMIN
status=0
.venv/bin/python -m pytest -q "$@" || status=$?
echo "== records tests on PostgreSQL + PostGIS"
pg_status=0
.venv/bin/python -m pytest -q -m records --records-backend postgresql "$@" || pg_status=$?
# 5 = no records test among the ones asked for (e.g. `bash scripts/test.sh tests/test_views_map.py`).
if [ "$pg_status" -ne 0 ] && [ "$pg_status" -ne 5 ]; then status=$pg_status; fi
exit "$status"
