#!/usr/bin/env bash
# .ci/apt-install.sh PACKAGE...: installs the Debian packages that are not
# installed yet, through sudo when not root; updates the package lists
# once and retries if the first attempt fails (a fresh machine may have
# none). Safe to run again. .ci/run, e2e/ci-install.sh and
# deploy/ci-install.sh use it.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null; then
		SUDO=(sudo)
	else
		echo "apt-install.sh: warning: not root and no sudo; apt-get will likely fail" >&2
	fi
fi

missing=()
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
	echo "already installed: $*"
	exit 0
fi
install=("${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}")
"${install[@]}" || { "${SUDO[@]}" apt-get update && "${install[@]}"; }
