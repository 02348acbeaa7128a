#!/usr/bin/env bash
# On the lent GPU box, from the repository root, with device-carry/ carried
# (scripts/device-carry.sh made it here): unpacks Node, lays the model and inputs where the
# benches look, runs each bench named, and copies their results to $OUT.
# usage: bash bench/device.sh BENCH...     (e2e, int8, infer, kernels, sweep; their env variables pass through)
# BENCH_WRAP: a command line put before each bench (a profiler: ncu ... --).
set -uo pipefail
carry=$PWD/device-carry/unpacked  # inside the checkout: the benches find the package root above them
mkdir -p $carry && xz -dc device-carry/payload.tar.xz | tar -x -C $carry
xz -dc device-carry/node.xz > /tmp/node && chmod +x /tmp/node
export VIGIL_ADDON=$carry/vigil.node VIGIL_COMMIT=$(cat device-carry/commit) UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE:-16}
export VIGIL_BENCH_MACHINE=${VIGIL_BENCH_MACHINE:-$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | grep -oiE 'h100|h200|l4|a100' | tr A-Z a-z || echo gpu)}
mkdir -p .cache && cp -r $carry/cache/. .cache/
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
rc=0
touch /tmp/device-start
for bench in "$@"; do
  echo "== $bench"
  if [ "$bench" = infer ]; then
    # The peers first, in the same session: ONNX Runtime CPU and PyTorch FP16 (no part of Vigil).
    PYTHONUNBUFFERED=1 python3 "$carry/infer_peers.py" .cache/int8check /tmp/peers.json "${INFER_BATCHES:-1,8,32,64}" || rc=1
    export PEERS_JSON=/tmp/peers.json
  fi
  ${BENCH_WRAP:-} /tmp/node "$carry/$bench.mjs" || rc=1
done
# Only what this run wrote ($OUT takes 8 files; the committed results are already here).
mkdir -p "$OUT" && find bench/results -newer /tmp/device-start -name "*-$VIGIL_BENCH_MACHINE-*" -exec cp {} "$OUT/" \;
[ -f /tmp/peers.json ] && cp /tmp/peers.json "$OUT/peers-$VIGIL_BENCH_MACHINE.json"
exit $rc
