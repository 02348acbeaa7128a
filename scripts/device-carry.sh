#!/usr/bin/env bash
# Packs what the lent GPU box needs for Vigil's GPU benches into device-carry/ (git-ignored; the
# box has no Node, npm or FFmpeg, and at most 64 MiB travels): Node (../shared/device/node-bin.sh),
# the addon linked against a minimal static FFmpeg (../shared/device/ffmpeg-min.sh) with CUDA for
# CUDA_ARCHS (90: H100/H200), each bench bundled with its JavaScript dependencies (esbuild), the
# INT8 model, and each bench's inputs, all but Node in one xz stream. Then `run` on the device,
# carrying device-carry: bash bench/device.sh BENCH...
# usage: scripts/device-carry.sh BENCH...     (e2e, int8, infer, kernels, sweep)
# env: FFMPEG_MIN (default build/ffmpeg-min: made by ffmpeg-min.sh when missing), CUDA_ARCHS
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: scripts/device-carry.sh BENCH... (e2e, int8, infer, kernels, sweep)" >&2; exit 2; }
shared=$(cd .. && pwd)/shared/device
ffmpeg_min=${FFMPEG_MIN:-$PWD/build/ffmpeg-min}
archs=${CUDA_ARCHS:-90}
out=device-carry
rm -rf "$out" && mkdir -p "$out/cache/models"

[ -f "$ffmpeg_min/lib/libavcodec.a" ] || bash "$shared/ffmpeg-min.sh" "$ffmpeg_min"
[ -f build/node.xz ] || bash "$shared/node-bin.sh" build >/dev/null
cp build/node.xz "$out/"
PKG_CONFIG_PATH="$ffmpeg_min/lib/pkgconfig" npx cmake-js compile --out build/native-device \
  --CDVIGIL_FFMPEG_STATIC=ON --CDCMAKE_CUDA_ARCHITECTURES="$archs" >/dev/null
strip --strip-unneeded -o "$out/vigil.node" build/native-device/Release/vigil.node

cp .cache/models/nanodet-int8.onnx "$out/cache/models/"
for bench in "$@"; do
  case "$bench" in
    e2e) node --input-type=module -e "import { ensureClip } from './dist/src/cli/demoClips.js'; await ensureClip('hevc', { hd: true });"
         mkdir -p "$out/cache/fixtures" && cp .cache/fixtures/vtest-hevc-1080p30.mkv "$out/cache/fixtures/" ;;
    int8|infer|kernels|sweep) [ -f .cache/int8check/ort.json ] || node dist/bench/int8Prepare.js
         mkdir -p "$out/cache/int8check" && cp -r .cache/int8check/. "$out/cache/int8check/"
         cp bench/peers/infer_peers.py bench/peers/torch_kernels.py "$out/" ;;
    *) echo "unknown bench $bench" >&2; exit 2 ;;
  esac
  src=bench/$bench.ts
  [ "$bench" = int8 ] && src=bench/int8Engine.ts
  [ "$bench" = kernels ] && src=bench/int8Kernels.ts
  [ "$bench" = sweep ] && src=bench/int8Sweep.ts
  # One file per bench: its npm dependencies inlined (the box has no node_modules).
  npx esbuild "$src" --bundle --platform=node --format=esm --target=node20 --log-level=warning \
    --banner:js="import { createRequire as vigilRequire } from 'node:module'; const require = vigilRequire(import.meta.url);" \
    --outfile="$out/$bench.mjs"
done
echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +)" > "$out/commit"
du -sh "$out"/* "$out"/cache/* | sort -h
# All but Node as one xz stream (the addon, letterboxed frames and int8 codes shrink several times).
tar -C "$out" --exclude=node.xz --exclude=commit -cf - . | xz -T0 -6 > "$out.tar.xz"
find "$out" -mindepth 1 -maxdepth 1 ! -name node.xz ! -name commit -exec rm -rf {} + && mv "$out.tar.xz" "$out/payload.tar.xz"
ls -l "$out"; du -sh "$out"
