#!/usr/bin/env bash
# Debian packages the project uses when they are available: bubblewrap (sandbox jail),
# python3-seccomp (syscall filter) and chromium (browser tests). Installed only when we are
# root on a Debian-like host; otherwise we say what is missing and carry on, because each
# feature degrades cleanly (the sandbox falls back to rlimits, browser tests skip).
set -uo pipefail
wanted=(bubblewrap python3-seccomp chromium)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
    || echo "WARNING: could not install ${missing[*]}; the sandbox/browser tests will degrade."
else
  echo "NOTE: missing system packages (${missing[*]}); install them with apt for full isolation and browser tests."
fi
exit 0
