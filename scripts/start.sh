#!/usr/bin/env bash
# Install (first run only) and start the XunHu dashboard on the shipped data at
# http://127.0.0.1:8501 . On first start it installs the demo history and demo accounts (see README).
# Extra arguments go to `streamlit run`, e.g. --server.port 8600.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh
install_cjk_font
setup_venv
# First start: unpack the prebuilt SIMULATED history (seconds, not minutes of simulation) and, while
# no account exists at all, create the demo accounts; their random passwords are printed here once.
.venv/bin/python -c 'from simulation.snapshot import install_demo_snapshot
if install_demo_snapshot():
    print("first start: installed the SIMULATED demo history (data/demo/records_demo.sqlite.gz)")'
if .venv/bin/python -c 'import sys
from records.accounts import list_accounts
from records.store import open_store
with open_store() as store:
    sys.exit(0 if list_accounts(store).empty else 1)'; then
  echo "first start: no account yet; demo accounts (one per role), passwords shown once:"
  .venv/bin/python -m records demo-accounts --out var/demo-accounts.txt
fi
exec .venv/bin/python -m streamlit run app.py --server.address 127.0.0.1 "$@"
