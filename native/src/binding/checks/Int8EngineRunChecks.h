#pragma once
#include <napi.h>

namespace vigil {

// The INT8 engine alone, for checks and benches (bench:infer, bench:int8, the sweep), on a handle
// from openInt8Engine:
// checks.int8EngineRun(handle, { input?, batch, iterations, graphs, profile }) → Promise<{ gpuMs,
//   wallMs, opMs }>: `iterations` runs, each run's GPU time (CUDA events) and wall time (enqueue
//   to done, waiting as the detector does); graphs false: each op launched, no graph; profile:
//   each op launched and timed alone instead (the mean per op);
// checks.int8EngineRead(handle, bufferName, image) → Uint8Array (the buffer as stored, NHWC).
// Both hold the handle's lock: one call at a time with its detections.
Napi::Value Int8EngineRun(const Napi::CallbackInfo& info);
Napi::Value Int8EngineRead(const Napi::CallbackInfo& info);

}  // namespace vigil
