#pragma once
// What every convolution kernel of the INT8 engine shares (device code): the epilogue from a
// sum to the stored value, and where an output pixel reads from.
#include "int8/Arith.cuh"

namespace vigil {
namespace int8k {
// The epilogue from the accumulator as float to the value stored (an int8 output's code as a
// float), and with an aux output its code in `aux`; `lut`, `auxLut`: the tables (shared or
// global memory) when there are.
__device__ __forceinline__ float convValue(const ConvArgs& a, const float* lut, const float* auxLut, float y,
                                           int* aux) {
  if (!lut && !a.aux.p && a.e.n == 1 && a.e.op[0] == EpilogueOp::Requantize) {
    // A lone requantize (NanoDet's 1×1 lateral convolutions): epilogue()'s steps without its
    // walk over the ops, for the short-K convolutions whose epilogue is most of their work.
    const int q = quantizeCodeFast(y, a.e.arg[0], a.e.inv[0]);
    return a.e.int8Out ? static_cast<float>(q) : __fmul_rn(static_cast<float>(q), a.e.arg[0]);
  }
  int code = 0;
  y = epilogue(y, a.e, lut ? a.lutAt : a.e.n, &code, aux, a.aux.p && !lut, a.auxAt, a.aux.scale, a.aux.inv);
  if (lut) {
    const int q = quantizeCodeFast(y, a.e.arg[a.lutAt], a.e.inv[a.lutAt]) + 128;
    if (a.aux.p) *aux = static_cast<int>(auxLut[q]);
    return lut[q];
  }
  return a.e.int8Out ? static_cast<float>(code) : y;
}

__device__ __forceinline__ void convStore(const ConvArgs& a, const float* lut, const float* auxLut, int m, int o,
                                          float y) {
  const int at = m * a.out.C + a.out.off + o;
  int aux = 0;
  const float v = convValue(a, lut, auxLut, y, &aux);
  if (a.e.int8Out)
    static_cast<int8_t*>(a.out.p)[at] = static_cast<int8_t>(v);
  else
    static_cast<float*>(a.out.p)[at] = v;
  if (a.aux.p) static_cast<int8_t*>(a.aux.p)[m * a.aux.C + a.aux.off + o] = static_cast<int8_t>(aux);
}

// An INT8 convolution's int32 sum for output channel o with its bias, times its multiplier: the
// float the epilogue starts from.
__device__ __forceinline__ float convAccValue(const ConvArgs& a, int o, int acc) {
  return __fmul_rn(static_cast<float>(acc + (a.bias8 ? __ldg(a.bias8 + o) : 0)), __ldg(a.mult + o));
}

__device__ __forceinline__ void convStoreInt(const ConvArgs& a, int m, int o, int acc) {
  convStore(a, a.lut, a.auxLut, m, o, convAccValue(a, o, acc));
}

// Where output pixel m reads from: its image's first input pixel and the top-left tap.
struct Origin {
  int base;  // img·H·W
  int iy0, ix0;
};
__device__ __forceinline__ Origin originOf(const ConvArgs& a, int m) {
  const int hw = a.out.H * a.out.W;
  const int img = m / hw;
  const int p = m - img * hw;
  const int oy = p / a.out.W, ox = p - oy * a.out.W;
  return {img * a.in.H * a.in.W, oy * a.sh - a.pt, ox * a.sw - a.pl};
}

}  // namespace int8k
}  // namespace vigil
