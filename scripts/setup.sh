#!/usr/bin/env bash
# Sets up everything Vigil needs on Debian bookworm / Ubuntu 24.04 (root or sudo): system
# packages, npm dependencies, the native addon, the TypeScript build, and the demo/test clips.
# Idempotent: a second run only redoes what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Node.js >= 20 is the one prerequisite (Debian's own nodejs is 18).
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Vigil needs Node.js 20 or newer (found: $(node -v 2>/dev/null || echo none))." >&2
  exit 1
fi

PACKAGES=(
  g++ make cmake pkg-config                                   # native build
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev  # FFmpeg libraries the addon links
  ffmpeg                                                      # fixture jobs and the bench peer
  opencv-doc                                                  # vtest.avi: real footage
  python3-gi gir1.2-gst-rtsp-server-1.0                        # the RTSP server of the tests
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  chromium                                                    # the live view's browser tests (playwright-core drives it)
  mosquitto                                                   # the MQTT broker of the tests
  systemd                                                     # systemd-analyze and systemd-sysusers (the unit and installer tests)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  # onnxruntime-node: the CPU build it ships; skip its optional GPU download
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
fi

echo "setup: native addon"
if [ -f build/native/CMakeCache.txt ]; then
  cmake --build build/native --config Release >/dev/null
else
  npx cmake-js compile --out build/native >/dev/null
fi

echo "setup: TypeScript"
npx tsc -p tsconfig.json

echo "setup: browser app"
npm run --silent build:ui

echo "setup: clips"
node dist/scripts/make-fixtures.js

echo "setup: detector model"
node dist/src/cli/main.js model fetch
# Derived models are rebuilt when the code that makes them changes (a stamp of its sources).
stamp() { cat "$@" | sha256sum | cut -c1-16; }
m=.cache/models
fp32_stamp=$(stamp src/detect/convert/*.ts src/detect/onnx/*.ts src/detect/tfjs/*.ts src/detect/nanodet/*.ts)
if [ ! -s $m/nanodet-fp32.onnx ] || [ "$(cat $m/nanodet-fp32.stamp 2>/dev/null)" != "$fp32_stamp" ]; then
  node dist/src/cli/main.js model import && echo "$fp32_stamp" > $m/nanodet-fp32.stamp
fi
# INT8: calibrated once on vtest frames 0–388 (evaluation uses 395–793), kept in the cache.
int8_stamp=$(echo "$fp32_stamp $(stamp src/detect/quant/*.ts src/detect/eval/modelFrames.ts src/detect/letterbox.ts)" | sha256sum | cut -c1-16)
if [ ! -s $m/nanodet-int8.onnx ] || [ "$(cat $m/nanodet-int8.stamp 2>/dev/null)" != "$int8_stamp" ]; then
  node dist/src/cli/main.js calibrate --method mse --keep-fp32 auto && echo "$int8_stamp" > $m/nanodet-int8.stamp
fi
