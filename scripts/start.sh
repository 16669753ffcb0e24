#!/usr/bin/env bash
# Install (first run only) and start the XunHu dashboard on the shipped data at
# http://127.0.0.1:8501 . Extra arguments go to `streamlit run`, e.g. --server.port 8600.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh
setup_venv
exec .venv/bin/python -m streamlit run dashboard.py --server.address 127.0.0.1 "$@"
