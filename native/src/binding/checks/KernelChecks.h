#pragma once
#include <napi.h>

namespace vigil {

// checks.nanodetPostGpu(levels, params): NanoDet head decode + NMS on the GPU from head outputs
// in JS memory (Float32Arrays), for checks and tools; returns { records: Uint8Array (24-byte
// DetectionRecords), candidates }. Synchronous (a few ms). Throws when the addon was built
// without CUDA or no GPU is usable. The GPU inference path owns its own GpuNanodetPost.
Napi::Value NanodetPostGpu(const Napi::CallbackInfo& info);

// checks.int8ConvGpu(layer): one INT8 engine convolution on the GPU from JS memory (int8/Int8Conv.h),
// for checks; returns the output codes (Int8Array) or values (Float32Array). Synchronous.
Napi::Value Int8ConvGpu(const Napi::CallbackInfo& info);

}  // namespace vigil
