#!/usr/bin/env bash
# deploy/ci-install.sh: installs what the nginx tests in deploy/ need on a
# fresh Debian machine: Debian's nginx (/usr/sbin/nginx). The tests run it
# as their own foreground process, so the system service is neither needed
# nor started (policy-rc.d permitting). Safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
../.ci/apt-install.sh nginx
/usr/sbin/nginx -v
