#include "int8/ConvDp4a.h"

#include "int8/ConvCommon.cuh"

namespace vigil {
namespace int8k {

namespace {

// The 16 input bytes of packed-K segment `s` (tap, 16 channels) for an output pixel; false: zeros.
__device__ __forceinline__ bool segmentSource(const ConvArgs& a, const Origin& o, int s, const int8_t** src) {
  const int cseg = a.in.C >> 4;
  const int tap = s / cseg;
  if (tap >= a.kh * a.kw) return false;
  const int c0 = (s - tap * cseg) << 4;
  const int ky = tap / a.kw, kx = tap - ky * a.kw;
  const int iy = o.iy0 + ky, ix = o.ix0 + kx;
  if (iy < 0 || iy >= a.in.H || ix < 0 || ix >= a.in.W) return false;
  *src = static_cast<const int8_t*>(a.in.p) + (o.base + iy * a.in.W + ix) * a.in.C + c0;
  return true;
}

__device__ __forceinline__ int dp4a16(int4 x, int4 w, int acc) {
  acc = __dp4a(x.x, w.x, acc);
  acc = __dp4a(x.y, w.y, acc);
  acc = __dp4a(x.z, w.z, acc);
  return __dp4a(x.w, w.w, acc);
}

// dp4a: one thread per (output pixel, output channel), 16 bytes of K at a time. Any GPU from sm_61.
__global__ void convDp4aKernel(ConvArgs a) {
  GRID_STRIDE(i, a.M * a.O) {
    const int m = i / a.O, o = i - m * a.O;
    const Origin org = originOf(a, m);
    const int4* w = reinterpret_cast<const int4*>(a.w8 + o * a.Kpad);
    int acc = 0;
    for (int s = 0; s < a.Kpad / 16; ++s) {
      const int8_t* src;
      if (segmentSource(a, org, s, &src)) acc = dp4a16(__ldg(reinterpret_cast<const int4*>(src)), __ldg(w + s), acc);
    }
    convStoreInt(a, m, o, acc);
  }
}

}  // namespace

cudaError_t cudaConvDp4a(const ConvArgs& a, cudaStream_t st, int priority) {
  return launchKernel(convDp4aKernel, gridFor(static_cast<long>(a.M) * a.O, 128), 128, st, priority, a);
}

}  // namespace int8k
}  // namespace vigil
