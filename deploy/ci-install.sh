#!/usr/bin/env bash
# deploy/ci-install.sh: installs what the nginx tests in deploy/ need on a
# fresh Debian machine: Debian's nginx (/usr/sbin/nginx). The tests run it
# as their own foreground process, so the system service is neither needed
# nor started (policy-rc.d permitting). Safe to run again: an installed
# package is left alone. Runs apt-get through sudo when not root.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
PACKAGES=(nginx)

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null; then
		SUDO=(sudo)
	else
		echo "deploy/ci-install.sh: warning: not root and no sudo; apt-get will likely fail" >&2
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
/usr/sbin/nginx -v
