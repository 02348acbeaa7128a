#pragma once
#include <napi.h>

namespace vigil {

// checks.deviceBatchRead(handle, first, count) → Float32Array of slots [first, first + count) of
// a GPU input batch (createDeviceBatch), copied to the host: checks and tools (the frame path
// never reads a batch back). Synchronous; throws without CUDA.
Napi::Value DeviceBatchRead(const Napi::CallbackInfo& info);

}  // namespace vigil
