#pragma once
#include <napi.h>

#include <memory>
#include <mutex>

#include "binding/TaggedHandle.h"
#include "infer/GpuDetector.h"

namespace vigil {

class Int8Engine;

// What a JS engine handle (openTensorRt, openInt8Engine) holds: the detector and the lock that
// keeps it to one batch at a time. Shared by the detect workers and the checks that hold it.
struct GpuEngineHandle {
  std::mutex mutex;
  std::unique_ptr<GpuDetector> detector;
  Int8Engine* int8 = nullptr;  // the `cuda` backend's engine (owned by the detector), for checks and benches
};
using GpuEngineHandlePtr = std::shared_ptr<GpuEngineHandle>;

// Tags the engine handles' externals, so that another External is not taken for one.
inline constexpr napi_type_tag kGpuEngineTag = {0x7669676c74727464ULL, 0x6574656374000001ULL};

// The engine behind a handle, or nullptr when `v` is not one.
inline GpuEngineHandlePtr gpuEngineHandleOf(const Napi::Value& v) {
  return handleOf<GpuEngineHandle>(v, kGpuEngineTag);
}

}  // namespace vigil
