# Sourced by scripts/test and scripts/sandbox: make .venv with Python 3.11+ and install the project into it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "linkage needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if [ -n "${EXTRAS:-}" ]; then spec=".[${EXTRAS}]"; else spec="."; fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
