#pragma once
// One convolution of Vigil's INT8 engine (src/model/int8/plan.ts), the correctness-first form:
// NCHW int8 input, OIHW int8 weights, int32 accumulation plus int32 bias, times a float
// multiplier per output channel (s_in·s_w[o]), then the fused epilogue in order; int8 or float
// output. One thread per output value, plain integer multiply-add: the reference the engine's
// fast kernels (tensor-core implicit GEMM, dp4a) are held to. Checked layer by layer against the
// TypeScript reference arithmetic (bench/int8ConvCheck.ts).
#include <cstdint>
#include <string>

#include "int8/Int8Program.h"

namespace vigil {

struct Int8ConvShape {
  int C = 0, H = 0, W = 0, O = 0, Ho = 0, Wo = 0;
  int kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pl = 0, dh = 1, dw = 1, group = 1;
};

// Runs on the default device from host buffers (checks and tools); false with `err` on a CUDA error.
bool int8ConvFromHost(const Int8ConvShape& s, const Int8ConvEpilogue& e, const int8_t* x, const int8_t* w,
                      const int32_t* bias, const float* mult, void* out, std::string& err);

}  // namespace vigil
