# Sourced by scripts/test and scripts/sandbox: make .venv with Python 3.11+ and install the project into it.
# The install is skipped when nothing it depends on changed since the last one (a stamp in .venv: the digest of
# pyproject.toml, the Python version and the extras), so a start is quiet; LINKAGE_REINSTALL=1 forces it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "linkage needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
_linkage_stamp() {  # what the install depends on, one line per extra installed (the base install is "-")
  .venv/bin/python - "$@" <<'PY'
import hashlib, sys
digest = hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest()
print(*(f"{digest} {sys.version.split()[0]} {extra}" for extra in sys.argv[1:]), sep="\n")
PY
}
_linkage_want=$(_linkage_stamp - ${EXTRAS//,/ })
if [ "${LINKAGE_REINSTALL:-}" != 1 ] && [ -x .venv/bin/linkage ] && [ -f .venv/.linkage-installed ] \
    && [ -z "$(comm -23 <(sort <<<"$_linkage_want") <(sort .venv/.linkage-installed))" ]; then
  :  # installed, and nothing changed since
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  if [ -n "${EXTRAS:-}" ]; then spec=".[${EXTRAS}]"; else spec="."; fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
  printf '%s\n' "$_linkage_want" > .venv/.linkage-installed
fi
unset -f _linkage_stamp
unset _linkage_want
