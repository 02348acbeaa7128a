#pragma once
// The arithmetic every INT8 engine kernel shares: the reference's (src/model/int8/reference.ts),
// float32 with round-half-to-even requantization. Device code only (included by the kernels' .cu).
#include <cuda_runtime.h>

#include <cstdint>

#include "int8/KernelArgs.h"

namespace vigil {
namespace int8k {

#define GRID_STRIDE(i, total) \
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += gridDim.x * blockDim.x)

__device__ __forceinline__ int quantizeCode(float x, float s) {
  const float q = rintf(__fdiv_rn(x, s));  // round half to even (the default rounding mode)
  return static_cast<int>(fminf(127.f, fmaxf(-128.f, q)));
}

// The same code from x·(1/s) where that cannot round differently: the product is within a few
// ulps of x/s, so unless it lies that close to a half-way point its nearest integer is the
// quotient's. Near one (rare), the correctly rounded division decides. `inv` = 1/s.
__device__ __forceinline__ int quantizeCodeFast(float x, float s, float inv) {
  const float y = x * inv;
  const float r = rintf(y);
  if (fabsf(fabsf(y - r) - 0.5f) < 1e-3f) return quantizeCode(x, s);
  return static_cast<int>(fminf(127.f, fmaxf(-128.f, r)));
}

// A stored element as float: int8 codes dequantized (q·s, one float32 product), floats as they are.
__device__ __forceinline__ float loadValue(const void* p, int i, bool int8, float s) {
  return int8 ? __fmul_rn(static_cast<float>(static_cast<const int8_t*>(p)[i]), s) : static_cast<const float*>(p)[i];
}

__device__ __forceinline__ void storeValue(void* p, int i, bool int8, float s, float inv, float v) {
  if (int8)
    static_cast<int8_t*>(p)[i] = static_cast<int8_t>(quantizeCodeFast(v, s, inv));
  else
    static_cast<float*>(p)[i] = v;
}

// Four consecutive channels at once (element i a multiple of 4): one 4-byte or 16-byte access.
__device__ __forceinline__ float4 load4(const void* p, int i, bool int8, float s) {
  if (int8) {
    const char4 q = *reinterpret_cast<const char4*>(static_cast<const int8_t*>(p) + i);
    return make_float4(__fmul_rn(q.x, s), __fmul_rn(q.y, s), __fmul_rn(q.z, s), __fmul_rn(q.w, s));
  }
  return *reinterpret_cast<const float4*>(static_cast<const float*>(p) + i);
}

__device__ __forceinline__ void store4(void* p, int i, bool int8, float s, float inv, float4 v) {
  if (int8) {
    *reinterpret_cast<char4*>(static_cast<int8_t*>(p) + i) =
        make_char4(quantizeCodeFast(v.x, s, inv), quantizeCodeFast(v.y, s, inv), quantizeCodeFast(v.z, s, inv),
                   quantizeCodeFast(v.w, s, inv));
  } else {
    *reinterpret_cast<float4*>(static_cast<float*>(p) + i) = v;
  }
}

__device__ __forceinline__ float sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

// A convolution's accumulator (int32 with the bias, or float) through its epilogue; `code` is the
// int8 code of the last requantize. Unrolled over the fixed maximum: no local-memory indexing.
// With `wantAux`, `aux` gets the value after the first `auxAt` ops requantized to (auxScale,
// auxInv) (a convolution's aux output). One expansion of the ops per call site (compile time);
// `code` and `aux` always point at the caller's locals (registers, not local memory).
__device__ __forceinline__ float epilogue(float y, const Int8ConvEpilogue& e, int n, int* code, int* aux = nullptr,
                                          bool wantAux = false, int auxAt = 0, float auxScale = 0, float auxInv = 0) {
#pragma unroll
  for (int k = 0; k < kMaxEpilogue; ++k) {
    if (wantAux && k == auxAt) *aux = quantizeCodeFast(y, auxScale, auxInv);
    if (k >= n) break;
    switch (e.op[k]) {
      case EpilogueOp::Requantize:
        *code = quantizeCodeFast(y, e.arg[k], e.inv[k]);
        y = __fmul_rn(static_cast<float>(*code), e.arg[k]);
        break;
      case EpilogueOp::LeakyRelu:
        y = y < 0.f ? __fmul_rn(y, e.arg[k]) : y;
        break;
      case EpilogueOp::Relu:
        y = fmaxf(0.f, y);
        break;
      case EpilogueOp::Sigmoid:
        y = sigmoid(y);
        break;
    }
  }
  if (wantAux && auxAt == kMaxEpilogue) *aux = quantizeCodeFast(y, auxScale, auxInv);
  return y;
}

}  // namespace int8k
}  // namespace vigil
