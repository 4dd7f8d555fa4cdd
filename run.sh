#!/usr/bin/env bash
# zifviz set-up and launcher. Creates .venv (Python >= 3.10) with everything zifviz needs, then:
#   bash run.sh lab              JupyterLab on the tour notebook (demo data in data/)
#   bash run.sh lab --headless   execute every notebook to HTML in build/notebooks/ instead
#   bash run.sh test [pytest args]   the whole test suite: unit tests, notebooks (nbval), browser
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(pwd)
VENV=${ZIFVIZ_VENV:-$ROOT/.venv}
TOUR=notebooks/00_tour.ipynb

find_python() {
  for py in ${PYTHON:-} python3.12 python3.11 python3.10 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "zifviz needs Python >= 3.10 (set PYTHON=/path/to/python)" >&2; return 1
}

setup_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    "$(find_python)" -m venv "$VENV"
  fi
  # Reinstall only when the dependency list changed.
  local stamp="$VENV/.zifviz-installed" want
  want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "== installing zifviz and its dependencies into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$VENV/bin/python" -m pip install --quiet -e ".[test]"
    echo "$want" > "$stamp"
  fi
  # Reference structures come from ../shared/data when it is there (offline), else by address.
  if [ -z "${ZIFVIZ_DATA_MIRROR:-}" ] && [ -d "$ROOT/../shared/data/structures" ]; then
    export ZIFVIZ_DATA_MIRROR="$ROOT/../shared/data"
  fi
  export PATH="$VENV/bin:$PATH"
}

ensure_chromium() {
  # Browser tests drive Debian's chromium; Playwright never downloads a browser of its own.
  if [ -x /usr/bin/chromium ]; then return 0; fi
  echo "== installing chromium (Debian package) for the browser tests"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
}

cmd=${1:-lab}; shift || true
case "$cmd" in
  lab)
    setup_venv
    if [ "${1:-}" = "--headless" ]; then
      shift
      mkdir -p build/notebooks
      jupyter nbconvert --to html --execute --ExecutePreprocessor.timeout=1200 \
        --output-dir build/notebooks "$@" notebooks/*.ipynb
      echo "== executed notebooks written to build/notebooks/"
    else
      root_flag=()
      [ "$(id -u)" = 0 ] && root_flag=(--allow-root)  # containers and CI machines run as root
      exec jupyter lab "${root_flag[@]}" "$TOUR" "$@"
    fi
    ;;
  test)
    setup_venv
    ensure_chromium
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    exec python -m pytest --nbval-lax -p no:cacheprovider "$@"
    ;;
  *)
    echo "usage: bash run.sh lab [--headless] | bash run.sh test [pytest args]" >&2; exit 2 ;;
esac
