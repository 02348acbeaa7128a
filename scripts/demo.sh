#!/usr/bin/env bash
# Sets everything up, then runs the demo: vtest.avi as H.264 and HEVC cameras looped in real
# time. Prints the URL to open. Extra arguments go to `vigil demo` (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node dist/src/cli/main.js demo "$@"
