#pragma once
#include <napi.h>

#include <memory>

namespace vigil {

class DeviceBatch;

// createDeviceBatch(maxBatch, size) → an opaque handle to a GPU input batch (cuda/DeviceBatch),
// freed when collected; throws without CUDA or a GPU. (checks.deviceBatchRead reads one back.)
Napi::Value CreateDeviceBatch(const Napi::CallbackInfo& info);

// The batch behind a handle, or nullptr when `v` is not one.
std::shared_ptr<DeviceBatch> deviceBatchOf(const Napi::Value& v);

}  // namespace vigil
