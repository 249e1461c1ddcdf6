#!/usr/bin/env bash
# Debian packages the project uses: bubblewrap (sandbox jail), python3-seccomp (syscall
# filter), chromium (browser tests), nodejs/npm (browser libraries), and the PostgreSQL and
# Redis server binaries (the outage tests start private instances of their own on other
# ports), promtool (from prometheus: alert rules are checked in CI) and pgbouncer (the
# transaction-pooling tests start a private one) and shellcheck (the workflows' run: scripts
# are checked in CI) and gcc (`make install` compiles the engine's kernel, kernel.c). Installed
# when we are root on a Debian-like host; otherwise we say what is missing and carry on: the
# app still runs (the sandbox falls back to rlimits, the engine to its pure-Python path), but
# the tests and checks that need a missing package FAIL, never skip.
set -uo pipefail
wanted=(bubblewrap python3-seccomp chromium postgresql redis-server prometheus pgbouncer shellcheck gcc)
# npm installs the browser libraries (package-lock.json); a Node that ships its own npm will do.
command -v npm >/dev/null || wanted+=(nodejs npm)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
    || echo "WARNING: could not install ${missing[*]}; the tests that need them will fail."
else
  echo "NOTE: missing system packages (${missing[*]}); install them with apt (tests need them)."
fi
exit 0
