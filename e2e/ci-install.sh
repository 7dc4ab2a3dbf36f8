#!/usr/bin/env bash
# e2e/ci-install.sh: installs what the browser tests in e2e/ need on a fresh
# Debian machine: Debian's chromium (at /usr/bin/chromium). Safe to run
# again. .ci/run calls it before `go test` in e2e/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
../.ci/apt-install.sh chromium
/usr/bin/chromium --version
