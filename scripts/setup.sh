#!/usr/bin/env bash
# Sets up everything Vigil needs on Debian bookworm / Ubuntu 24.04 (root or sudo): system
# packages, npm dependencies, the native addon, the TypeScript build, and the demo/test clips.
# Idempotent: a second run only redoes what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each long step says what it does and about how long it takes on 2 cores, then how long it took.
SETUP_T0=$SECONDS
mmss() { printf '%dm %02ds' $(($1 / 60)) $(($1 % 60)); }
begin() { STEP_T0=$SECONDS; echo "setup: $1"; }
took() { echo "setup:   done in $(mmss $((SECONDS - STEP_T0)))"; }

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
  clang-format                                                # the C++/CUDA format check (scripts/lint.sh)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  begin "system packages: ${missing[*]} (first time ~2 min, depends on the network)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  took
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  begin "npm dependencies: npm ci (~1 min)"
  # onnxruntime-node: the CPU build it ships; skip its optional GPU download
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
  took
fi

# The native addon. What CMake found when it configured (a CUDA compiler, TensorRT's headers,
# the FFmpeg libraries) is kept as a stamp beside the build: when any of it changes (headers
# put beside the checkout later, nvcc installed or removed, FFmpeg upgraded), the build is
# configured afresh, not rebuilt with what was there before.
native_inputs() {
  echo "nvcc: ${CUDACXX:-} $(command -v nvcc || true) $(ls -d /usr/local/cuda/bin/nvcc /usr/local/cuda-*/bin/nvcc 2>/dev/null | tr '\n' ' ')"
  nvcc --version 2>/dev/null | tail -1 || true
  # The places native/CMakeLists.txt looks for TensorRT's headers, in its order.
  echo "tensorrt: ${VIGIL_TENSORRT_INCLUDE:-}"
  for d in /usr/include/x86_64-linux-gnu /usr/local/TensorRT/include ../shared/sdk/tensorrt/include shared/sdk/tensorrt/include; do
    if [ -f "$d/NvInfer.h" ] && [ -f "$d/NvOnnxParser.h" ]; then echo "$(cd "$d" && pwd) $(cat "$d/NvInferVersion.h" 2>/dev/null | sha256sum)"; fi
  done
  echo "ffmpeg: $(pkg-config --modversion libavformat libavcodec libavutil libswscale 2>/dev/null | tr '\n' ' ')"
  cmake --version | head -1
}
native_stamp=$(native_inputs | sha256sum | cut -c1-16)
stamp_file=build/native/vigil-configure.stamp
build_log=build/native/setup-build.log
if [ -f build/native/CMakeCache.txt ] && [ "$(cat $stamp_file 2>/dev/null)" = "$native_stamp" ]; then
  begin "native addon (up to date: seconds; after a change to native/ ~1 min)"
elif [ -f build/native/CMakeCache.txt ]; then
  begin "native addon: what the build found changed since it was configured (CUDA, TensorRT headers, FFmpeg), configuring afresh (~1 min)"
  rm -rf build/native/CMakeCache.txt build/native/CMakeFiles
elif command -v nvcc >/dev/null || [ -n "${CUDACXX:-}" ]; then
  begin "native addon, with CUDA (first build ~3 min on 2 cores)"
else
  begin "native addon (first build ~1 min on 2 cores)"
fi
mkdir -p build/native
# The build's own output goes to a log; the terminal gets its progress, and the log's end on failure.
: > $build_log
progress() {
  local next=25 pct line
  while IFS= read -r line; do
    printf '%s\n' "$line" >> $build_log
    if [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]]; then pct=$((BASH_REMATCH[1] * 100 / BASH_REMATCH[2]))      # ninja
    elif [[ $line =~ ^\[\ *([0-9]+)%\] ]]; then pct=${BASH_REMATCH[1]}                                # make
    else continue; fi
    if [ "$pct" -ge "$next" ] && [ "$pct" -lt 100 ]; then
      echo "setup:   native addon ${pct} % ($(mmss $((SECONDS - STEP_T0))))"
      next=$(( (pct / 25 + 1) * 25 ))
    fi
  done
}
native_build() {
  if [ ! -f build/native/CMakeCache.txt ]; then npx cmake-js configure --out build/native; fi
  cmake --build build/native --config Release
}
if ! native_build 2>&1 | progress; then
  echo "setup: the native addon did not build; the end of $build_log:" >&2
  tail -n 40 $build_log >&2
  exit 1
fi
echo "$native_stamp" > $stamp_file
grep -h '^-- Vigil: ' $build_log | sed 's/^-- Vigil: /setup:   /' || true
took

begin "TypeScript (~20 s)"
npx tsc -p tsconfig.json
took

begin "browser app (~10 s)"
npm run --silent build:ui
took

begin "clips: vtest.avi as H.264 and HEVC (first time ~30 s; then nothing)"
node dist/scripts/make-fixtures.js
took

begin "detector models: fetch, import to ONNX, calibrate NanoDet's INT8 (first time ~3 min on 2 cores; then kept in .cache/models)"
node dist/src/cli/main.js model fetch
# Derived models are rebuilt when the code that makes them changes (a stamp of its sources).
stamp() { cat "$@" | sha256sum | cut -c1-16; }
m=.cache/models
fp32_stamp=$(stamp src/model/convert/*.ts src/model/onnx/*.ts src/model/tfjs/*.ts src/detect/nanodet/*.ts)
if [ ! -s $m/nanodet-fp32.onnx ] || [ "$(cat $m/nanodet-fp32.stamp 2>/dev/null)" != "$fp32_stamp" ]; then
  echo "setup:   importing the model to ONNX (seconds)"
  node dist/src/cli/main.js model import && echo "$fp32_stamp" > $m/nanodet-fp32.stamp
fi
cn_stamp=$(stamp src/model/convert/*.ts src/model/onnx/*.ts src/model/tfjs/*.ts src/detect/centernet/*.ts)
if [ ! -s $m/centernet-fp32.onnx ] || [ "$(cat $m/centernet-fp32.stamp 2>/dev/null)" != "$cn_stamp" ]; then
  echo "setup:   importing CenterNet to ONNX (seconds)"
  node dist/src/cli/main.js model import --model centernet && echo "$cn_stamp" > $m/centernet-fp32.stamp
fi
# INT8: calibrated once on vtest frames 0–388 (evaluation uses 395–793), kept in the cache.
int8_stamp=$(echo "$fp32_stamp $(stamp src/model/quant/*.ts src/model/eval/modelFrames.ts src/detect/letterbox.ts)" | sha256sum | cut -c1-16)
if [ ! -s $m/nanodet-int8.onnx ] || [ "$(cat $m/nanodet-int8.stamp 2>/dev/null)" != "$int8_stamp" ]; then
  echo "setup:   calibrating the INT8 model on vtest frames (~3 min on 2 cores)"
  node dist/src/cli/main.js calibrate --method mse --keep-fp32 auto && echo "$int8_stamp" > $m/nanodet-int8.stamp
fi
took
echo "setup: ready in $(mmss $((SECONDS - SETUP_T0)))"
