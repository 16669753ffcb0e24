# Shared by scripts/start.sh and scripts/test.sh (sourced, not run): Debian packages and .venv.
# Idempotent: a second run only checks that everything is in place.

export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=${APT_UPDATED:-0}

# apt_install PACKAGE...: as root, or through sudo when that exists.
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: need root or sudo to apt-get install $*" >&2; return 1; }
    sudo="sudo"
  fi
  if [ "$APT_UPDATED" -eq 0 ]; then
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  echo "apt-get install $*"
  $sudo apt-get install -y -qq "$@" >/dev/null
}

# setup_venv: .venv with Python >= 3.11 and the pinned requirements.
setup_venv() {
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "error: Python 3.11 or newer is needed, found $(python3 --version 2>&1)" >&2; return 1; }
  # Debian's python3 creates venvs only with python3-venv installed; try first, install it if needed.
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv 2>/dev/null || { rm -rf .venv; apt_install python3-venv; python3 -m venv .venv; }
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  # Compile the ruin-and-recreate search now (numba caches it on disk), not in the first plan.
  .venv/bin/python -c 'from planning.ruin_recreate import warm_up; warm_up()'
}

# install_cjk_font: a Chinese font for the browser (without one, Chromium on a bare Debian draws
# every Chinese character as a box: in the dashboard, the printable route sheet and screenshots).
install_cjk_font() {
  if ! { command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; }; then
    apt_install fonts-wqy-zenhei fontconfig
  fi
}
