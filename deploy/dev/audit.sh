#!/usr/bin/env bash
# `make audit`: known vulnerabilities in the pinned Python (pip-audit) and npm (npm audit)
# dependencies. A dependency that could not be checked fails the run (pip-audit --strict,
# npm audit's own error): an audit that could not look is a failure, never a pass. Needs the
# vulnerability services: PyPI's JSON API (or OSV) and the npm registry's audit endpoint.
set -uo pipefail
cd "$(dirname "$0")/../.."
tools=var/audit-venv  # git-ignored; pip-audit stays out of the app's environment
if [ ! -x "$tools/bin/pip-audit" ]; then
  python3 -m venv "$tools" && "$tools/bin/pip" install --quiet --disable-pip-version-check \
    pip-audit==2.10.1 || { echo "audit: could not install pip-audit" >&2; exit 1; }
fi
status=0
echo "== pip-audit (requirements.txt, requirements-dev.txt; every pin, no resolution)"
"$tools/bin/pip-audit" --strict --no-deps --disable-pip --progress-spinner off \
  -r requirements.txt -r requirements-dev.txt || status=1
echo "== npm audit (package-lock.json)"
npm audit --audit-level=low || status=1
[ "$status" = 0 ] && echo "audit: no known vulnerabilities" || echo "audit: FAILED (see above)" >&2
exit "$status"
