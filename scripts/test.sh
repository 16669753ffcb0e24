#!/usr/bin/env bash
# Install what the tests need (Debian's Chromium for the browser tests, .venv with the pinned
# requirements) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh
# The browser tests drive the system Chromium (never a browser downloaded by `playwright install`).
command -v chromium >/dev/null 2>&1 || apt_install chromium
install_cjk_font
setup_venv
exec .venv/bin/python -m pytest -q "$@"
