#pragma once
// The INT8 engine's convolutions on any GPU from sm_61: dp4a, one thread per (output pixel,
// output channel), 16 bytes of K at a time. Launches on `st` (priority `priority`, or
// kNoPriority) and returns the launch's error.
#include <cuda_runtime.h>

#include "int8/KernelArgs.h"

namespace vigil {
namespace int8k {

cudaError_t cudaConvDp4a(const ConvArgs& a, cudaStream_t st, int priority);

}  // namespace int8k
}  // namespace vigil
