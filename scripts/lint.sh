#!/usr/bin/env bash
# Lint, format and import-cycle checks; the test command runs this first, so CI fails on a
# violation. `npm run format` fixes what the formatters own.
set -euo pipefail
cd "$(dirname "$0")/.."
native_sources() { find native -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \); }
if [ "${1:-}" = --fix ]; then
  npx prettier --write --log-level warn .
  native_sources | xargs clang-format -i
  exit 0
fi
echo "lint: eslint, prettier, import cycles, clang-format"
npx eslint --max-warnings 0 .
npx prettier --check --log-level warn . || { echo "lint: run npm run format" >&2; exit 1; }
# A module that needs its user back takes a narrow interface instead (type-only imports count).
npx madge --circular --no-spinner --extensions ts --ts-config tsconfig.json src bench scripts ui/src
native_sources | xargs clang-format --dry-run -Werror || { echo "lint: run npm run format" >&2; exit 1; }
