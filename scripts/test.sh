#!/usr/bin/env bash
# Sets everything up, checks lint and format, then runs the whole test suite (unit, real addon,
# real RTSP server, CLI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/lint.sh
exec npx vitest run "$@"
