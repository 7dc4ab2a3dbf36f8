#!/usr/bin/env bash
# e2e/ci-install.sh: installs what the browser tests in e2e/ need on a fresh
# Debian machine: Debian's chromium (at /usr/bin/chromium). Safe to run
# again: an installed package is left alone. Runs apt-get through sudo when
# not root. .ci/run calls it before `go test` in e2e/.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
PACKAGES=(chromium)

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null; then
		SUDO=(sudo)
	else
		echo "e2e/ci-install.sh: warning: not root and no sudo; apt-get will likely fail" >&2
	fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	install=("${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}")
	# A fresh machine may have no package lists yet: update once and retry.
	"${install[@]}" || { "${SUDO[@]}" apt-get update && "${install[@]}"; }
else
	echo "already installed: ${PACKAGES[*]}"
fi
/usr/bin/chromium --version
