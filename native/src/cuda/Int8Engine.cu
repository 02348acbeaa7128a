#include "cuda/Int8Engine.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda/CudaCheck.h"

namespace vigil {

namespace {

// ---- arithmetic shared by every kernel: the reference's (src/model/int8/reference.ts) -------

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

// ---- element-wise and pooling ops (memory bound: one thread per output element, or per four
// channels where the layout allows; 32-bit indices, checked at open) ---------------------------

struct Tensor {
  void* p = nullptr;
  bool int8 = false;
  float scale = 0, inv = 0;  // int8: value = q·scale; inv = 1/scale
  int H = 0, W = 0, C = 0;   // stored channels
  int off = 0;               // the view's first channel
};

#define GRID_STRIDE(i, total) \
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (total); i += gridDim.x * blockDim.x)

// The engine input, float NCHW [n, C, S, S], to int8 NHWC. space 2 (space to depth): each output
// pixel holds a 2×2 block of input pixels, channel (dy·2 + dx)·C + c, so that a 3×3 stride-2
// first convolution becomes a 2×2 stride-1 one over 12 channels (one K step instead of three).
__global__ void quantizeInputKernel(const float* __restrict__ x, int8_t* __restrict__ y, int n, int C, int S, int Cs,
                                    float s, float inv, int space) {
  const int So = S / space;
  const int pixels = n * So * So;
  GRID_STRIDE(pix, pixels) {
    const int img = pix / (So * So);
    const int p = pix - img * So * So;
    const int by = p / So, bx = p - by * So;
    int8_t* out = y + pix * Cs;
    for (int c0 = 0; c0 < Cs; c0 += 16) {  // Cs is a multiple of 16: one 16-byte store each
      alignas(16) int8_t q[16];
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        const int ch = c0 + j;
        q[j] = 0;
        if (ch < C * space * space) {
          const int cell = ch / C, c = ch - cell * C;
          const int dy = cell / space, dx = cell - dy * space;
          q[j] = static_cast<int8_t>(
              quantizeCodeFast(__ldg(x + ((img * C + c) * S + by * space + dy) * S + bx * space + dx), s, inv));
        }
      }
      *reinterpret_cast<int4*>(out + c0) = *reinterpret_cast<const int4*>(q);
    }
  }
}

__device__ __forceinline__ float activate(float v, UnaryAct act, float alpha) {
  if (act == UnaryAct::LeakyRelu) return v < 0.f ? __fmul_rn(v, alpha) : v;
  if (act == UnaryAct::Relu) return fmaxf(0.f, v);
  if (act == UnaryAct::Sigmoid) return sigmoid(v);
  return v;
}

// `vec`: channels, offsets and strides are multiples of 4: four channels a thread.
__global__ void unaryKernel(Tensor in, Tensor out, int pixels, int channels, UnaryAct act, float alpha, bool vec) {
  if (vec) {
    const int groups = channels >> 2;
    GRID_STRIDE(i, pixels * groups) {
      const int p = i / groups, c = (i - p * groups) << 2;
      float4 v = load4(in.p, p * in.C + in.off + c, in.int8, in.scale);
      v = make_float4(activate(v.x, act, alpha), activate(v.y, act, alpha), activate(v.z, act, alpha),
                      activate(v.w, act, alpha));
      store4(out.p, p * out.C + out.off + c, out.int8, out.scale, out.inv, v);
    }
    return;
  }
  GRID_STRIDE(i, pixels * channels) {
    const int p = i / channels, c = i - p * channels;
    storeValue(out.p, p * out.C + out.off + c, out.int8, out.scale, out.inv,
               activate(loadValue(in.p, p * in.C + in.off + c, in.int8, in.scale), act, alpha));
  }
}

__global__ void addKernel(Tensor a, Tensor b, Tensor out, int pixels, int channels, bool vec) {
  if (vec) {
    const int groups = channels >> 2;
    GRID_STRIDE(i, pixels * groups) {
      const int p = i / groups, c = (i - p * groups) << 2;
      const float4 x = load4(a.p, p * a.C + a.off + c, a.int8, a.scale),
                   y = load4(b.p, p * b.C + b.off + c, b.int8, b.scale);
      store4(out.p, p * out.C + out.off + c, out.int8, out.scale, out.inv,
             make_float4(__fadd_rn(x.x, y.x), __fadd_rn(x.y, y.y), __fadd_rn(x.z, y.z), __fadd_rn(x.w, y.w)));
    }
    return;
  }
  GRID_STRIDE(i, pixels * channels) {
    const int p = i / channels, c = i - p * channels;
    storeValue(out.p, p * out.C + out.off + c, out.int8, out.scale, out.inv,
               __fadd_rn(loadValue(a.p, p * a.C + a.off + c, a.int8, a.scale),
                         loadValue(b.p, p * b.C + b.off + c, b.int8, b.scale)));
  }
}

// Output element i of an [n, Ho, Wo, channels] op: its image, row, column and channel.
struct Pos {
  int img, y, x, c;
};
__device__ __forceinline__ Pos position(int i, int Ho, int Wo, int channels) {
  Pos q;
  q.c = i % channels;
  int r = i / channels;
  q.x = r % Wo;
  r /= Wo;
  q.y = r % Ho;
  q.img = r / Ho;
  return q;
}

__global__ void maxPoolKernel(Tensor in, Tensor out, int n, int channels, int kh, int kw, int sh, int sw, int pt,
                              int pl, bool vec) {
  const int step = vec ? 4 : 1;
  const int groups = channels / step;
  GRID_STRIDE(i, n * out.H * out.W * groups) {
    Pos q = position(i, out.H, out.W, groups);
    q.c *= step;
    float4 m = make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
    for (int ky = 0; ky < kh; ++ky) {
      const int iy = q.y * sh - pt + ky;
      if (iy < 0 || iy >= in.H) continue;
      for (int kx = 0; kx < kw; ++kx) {
        const int ix = q.x * sw - pl + kx;
        if (ix < 0 || ix >= in.W) continue;
        const int at = ((q.img * in.H + iy) * in.W + ix) * in.C + in.off + q.c;
        if (vec) {
          const float4 v = load4(in.p, at, in.int8, in.scale);
          m = make_float4(fmaxf(m.x, v.x), fmaxf(m.y, v.y), fmaxf(m.z, v.z), fmaxf(m.w, v.w));
        } else {
          m.x = fmaxf(m.x, loadValue(in.p, at, in.int8, in.scale));
        }
      }
    }
    const int at = ((q.img * out.H + q.y) * out.W + q.x) * out.C + out.off + q.c;
    if (vec)
      store4(out.p, at, out.int8, out.scale, out.inv, m);
    else
      storeValue(out.p, at, out.int8, out.scale, out.inv, m.x);
  }
}

// Bilinear, half_pixel: source coordinate (o + 0.5) / scale − 0.5, clamped; every step one float32 op.
struct Tap {
  int i0, i1;
  float t;
};
__device__ __forceinline__ Tap resizeTap(int o, float scale, int n) {
  float v = __fsub_rn(__fdiv_rn(__fadd_rn(static_cast<float>(o), 0.5f), scale), 0.5f);
  v = fminf(fmaxf(v, 0.f), static_cast<float>(n - 1));
  Tap t;
  t.i0 = static_cast<int>(floorf(v));
  t.i1 = min(t.i0 + 1, n - 1);
  t.t = __fsub_rn(v, static_cast<float>(t.i0));
  return t;
}

__device__ __forceinline__ float lerp(float a, float b, float t) {
  return __fadd_rn(__fmul_rn(a, __fsub_rn(1.f, t)), __fmul_rn(b, t));
}

__global__ void resizeKernel(Tensor in, Tensor out, int n, int channels, float scaleY, float scaleX, bool vec) {
  const int step = vec ? 4 : 1;
  const int groups = channels / step;
  GRID_STRIDE(i, n * out.H * out.W * groups) {
    Pos q = position(i, out.H, out.W, groups);
    q.c *= step;
    const Tap ty = resizeTap(q.y, scaleY, in.H), tx = resizeTap(q.x, scaleX, in.W);
    auto at = [&](int y, int x) { return ((q.img * in.H + y) * in.W + x) * in.C + in.off + q.c; };
    const int o = ((q.img * out.H + q.y) * out.W + q.x) * out.C + out.off + q.c;
    if (vec) {
      const float4 a = load4(in.p, at(ty.i0, tx.i0), in.int8, in.scale),
                   b = load4(in.p, at(ty.i0, tx.i1), in.int8, in.scale);
      const float4 c = load4(in.p, at(ty.i1, tx.i0), in.int8, in.scale),
                   d = load4(in.p, at(ty.i1, tx.i1), in.int8, in.scale);
      store4(out.p, o, out.int8, out.scale, out.inv,
             make_float4(lerp(lerp(a.x, b.x, tx.t), lerp(c.x, d.x, tx.t), ty.t),
                         lerp(lerp(a.y, b.y, tx.t), lerp(c.y, d.y, tx.t), ty.t),
                         lerp(lerp(a.z, b.z, tx.t), lerp(c.z, d.z, tx.t), ty.t),
                         lerp(lerp(a.w, b.w, tx.t), lerp(c.w, d.w, tx.t), ty.t)));
    } else {
      auto v = [&](int y, int x) { return loadValue(in.p, at(y, x), in.int8, in.scale); };
      storeValue(
          out.p, o, out.int8, out.scale, out.inv,
          lerp(lerp(v(ty.i0, tx.i0), v(ty.i0, tx.i1), tx.t), lerp(v(ty.i1, tx.i0), v(ty.i1, tx.i1), tx.t), ty.t));
    }
  }
}

__global__ void padKernel(Tensor in, Tensor out, int n, int channels, int pt, int pl, float value) {
  GRID_STRIDE(i, n * out.H * out.W * channels) {
    const Pos q = position(i, out.H, out.W, channels);
    const int iy = q.y - pt, ix = q.x - pl;
    const float v = iy >= 0 && iy < in.H && ix >= 0 && ix < in.W
                        ? loadValue(in.p, ((q.img * in.H + iy) * in.W + ix) * in.C + in.off + q.c, in.int8, in.scale)
                        : value;
    storeValue(out.p, ((q.img * out.H + q.y) * out.W + q.x) * out.C + out.off + q.c, out.int8, out.scale, out.inv, v);
  }
}

// ---- convolutions -----------------------------------------------------------------------------

struct ConvArgs {
  Tensor in, out;
  int M;  // output pixels of the batch: n·Ho·Wo
  int O, C, kh, kw, sh, sw, pt, pl;
  int Kpad;  // int8: the packed K (taps · stored channels), a multiple of 32
  // Float: K walks blocks of sumBlock channels, the taps within a block, the block's channels
  // within a tap; the partial sum restarts from zero every sumRestart terms (FloatSum in plan.ts).
  int sumBlock, sumRestart;
  // Float: every 16 of K are one tap's 16 consecutive channels (blocks of 16·k channels, or one
  // tap), stored 4-aligned: a thread's loads are whole float4 / char4 runs. taps1: one tap (K is
  // the channels in order, whatever the blocks).
  bool vec, taps1;
  const int8_t* w8;  // [O, Kpad], k = tap·Cs + c
  const float* wf;   // [K = taps·C, O] in the float sum's K order
  // Float on the tensor cores (3×TF32, convMmaKernel<…, true>): [2][O, Kpad] with k = tap·C + c,
  // each weight's TF32 part, then the TF32 part of what it leaves (zeros past K).
  const float* wt;
  const int32_t* bias8;
  const float* biasf;
  const float* mult;
  int32_t* partial;  // split-K: int32 sums [M, O] the splits add into (then convEpilogueKernel)
  int chunksPerSplit;
  Int8ConvEpilogue e;
  // The epilogue's ops after its requantize number `lutAt` depend only on that int8 code: they
  // are a 256-entry table (results as float; int8 codes exactly), made on the host with the same
  // float32 operations. null: every op computed.
  const float* lut;
  int lutAt;
  // A second int8 output (aux.p null: none): the value after the first auxAt epilogue ops,
  // requantized to aux's scale; with a table, auxLut holds that code for each code at lutAt.
  Tensor aux;
  int auxAt;
  const float* auxLut;
};

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

// Split-K's last step: the summed int32 accumulators through bias, multiplier and epilogue.
__global__ void convEpilogueKernel(ConvArgs a) {
  GRID_STRIDE(i, a.M * a.O) {
    const int m = i / a.O, o = i - m * a.O;
    convStoreInt(a, m, o, a.partial[i]);
  }
}

// 16 bytes global → shared, zero-filled where !ok; `ca`: cached in L1 (else L2 only).
__device__ __forceinline__ void cpAsync16(void* smem, const void* src, bool ok, bool ca = false) {
#if __CUDA_ARCH__ >= 800
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  if (ca)
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(ok ? 16 : 0));
  else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(ok ? 16 : 0));
#endif
}

__device__ __forceinline__ void ldmatrix4(const int8_t* smem, int* r) {
#if __CUDA_ARCH__ >= 800
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
#endif
}

// A float's TF32 part (round to nearest, ties away: cvt.rna), as a 32-bit register.
__device__ __forceinline__ unsigned tf32Of(float x) {
  unsigned r = 0;
#if __CUDA_ARCH__ >= 800
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
#endif
  return r;
}

// d += a·b, one m16n8k8 TF32 step (fragments as ldmatrix leaves them).
__device__ __forceinline__ void mmaTf32(float* d, const unsigned* a, int b0, int b1) {
#if __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Tensor cores: an implicit GEMM, M = output pixels of the batch, N = output channels, K = taps ·
// channels (packed weights [O, Kpad]); BM×BN tiles (BM = 64·MT: 128, or 64 where 128-row tiles
// leave the GPU short of blocks: Impl::rowsOf), 64 bytes of K a stage, STAGES in flight with
// cp.async (zero-filled outside the image and past K), four warps of 16·MT×BN, fragments by
// ldmatrix. INT8 (F32 false): K = taps · stored channels, mma.sync m16n8k32 s8·s8 → s32.
// STAGES: 3 in flight for long K, 2 (less shared memory: more blocks an SM to hide the first
// loads) for short. gridDim.z splits K (small grids: batch 1, 13×13 layers): each split adds its
// int32 sums into `partial`, exact in any order, and convEpilogueKernel finishes.
// Float (F32: an FP32 convolution with a float input whose result no int8 code depends on,
// NanoDet's last head layer): 3×TF32, K = taps · the op's channels (a multiple of 4), 16 floats a
// stage. Every input and weight is its TF32 part
// plus the TF32 part of the rest (hi + lo, the weights split on the host), and x·w sums as
// lo·hi + hi·lo + hi·hi with mma.sync m16n8k8 tf32 → f32: the error of FP32 arithmetic in
// another order, not ONNX Runtime's order (convFloatKernel, VIGIL_INT8_FLOAT=exact, keeps that).
// The fragments of both are the same bytes: a row's 32 bytes of K are one m16n8k32 s8 step or one
// m16n8k8 tf32 step, and the accumulators lie alike.
constexpr int kMmaBM = 128, kMmaBK = 64,
              kMmaLds = 80;  // bytes: smem row: 64 bytes of K + 16 of padding (no bank conflicts)

// Registers: ptxas, left to itself, gave the 32-channel tiles 80 and spilled; the bounds say how
// many blocks an SM each should allow (INT8 128×64: 4 at 128 registers; 64×64: 6 at 80, 64×32: 8
// at 64; none spilled).
template <int BN, int STAGES, bool F32, int MT>
__global__ void __launch_bounds__(128, F32        ? 3
                                       : MT == 1  ? (BN == 32 ? 8 : 6)
                                       : BN == 32 ? 6
                                                  : 4) convMmaKernel(ConvArgs a) {
#if __CUDA_ARCH__ >= 800
  constexpr int ES = F32 ? 4 : 1;  // bytes an element
  constexpr int BT = F32 ? 2 : 1;  // weight tiles: the TF32 parts and the rests
  constexpr int KS = kMmaBK / ES;  // elements of K a stage
  constexpr int BM = 64 * MT;      // rows (output pixels) a block: each warp 16·MT
  constexpr int AR = BM / 32;      // rows of A a thread loads a stage
  using Acc = typename std::conditional<F32, float, int>::type;
  // The stages of A (after the main loop the epilogue's staging of 64 rows: room for that too),
  // and of B.
  constexpr int LDY = BN + 8;  // a staged row: 8 of padding, no bank conflicts for the fragments' 8-byte stores
  constexpr int kAStage = BM * kMmaLds, kABytes = STAGES * kAStage > 64 * LDY * 4 ? STAGES * kAStage : 64 * LDY * 4;
  __shared__ __align__(16) int8_t smemA[kABytes];
  __shared__ __align__(16) int8_t smemB[STAGES][BT][BN * kMmaLds];
  auto As = [&](int stage) { return smemA + stage * kAStage; };
  auto Bs = [&](int stage, int bt) { return &smemB[stage][bt][0]; };
  __shared__ float lutS[256], auxS[256];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int m0 = blockIdx.x * BM;
  const int n0 = blockIdx.y * BN;
  const int nkAll = (a.Kpad + KS - 1) / KS;
  const int k0 = blockIdx.z * a.chunksPerSplit;
  const int k1 = min(nkAll, k0 + a.chunksPerSplit);
  const int taps = a.kh * a.kw;
  if (a.lut && !a.partial) {
    lutS[tid] = a.lut[tid];
    lutS[tid + 128] = a.lut[tid + 128];
  }
  if (a.auxLut && !a.partial) {
    auxS[tid] = a.auxLut[tid];
    auxS[tid + 128] = a.auxLut[tid + 128];
  }
  // A: this thread loads 16 bytes (piece tid & 3 of the stage's 64 bytes of K) of rows
  // tid / 4 + 32·j, j < 4, so a warp reads 8 pixels' whole runs (a thread a row: each 16-byte load
  // of a warp touched 32 sectors and used half of each), through L1 (cp.async.ca: a 3×3's taps
  // re-read their neighbours' pixels). On the H200 this took batch 32 from 2.355 to 2.146 ms of
  // GPU time (bench/results/int8sweep-h200-2026-12-04-run1.txt). The piece's tap and channel
  // advance stage by stage, the same for every row (no divisions in the loop); a piece lies in one
  // tap (int8: stored channels are a multiple of 16; float: channels a multiple of 4). Per row,
  // set up once: where its top-left tap's pixel would be and a bit per tap inside the image, so a
  // stage costs a row one test and one add (a row's bounds checks and index products, once a
  // stage, were a third of this loop's instructions).
  const int piece = (tid & 3) * (16 / ES);  // elements
  const int tapC = F32 ? a.C : a.in.C;      // channels a tap in K
  int rowAt[AR];         // element of the row's top-left tap (may lie outside the image: then never read)
  unsigned rowTaps[AR];  // bit t: tap t inside the image (none past M); at most 32 taps (checked at open)
#pragma unroll
  for (int j = 0; j < AR; ++j) {
    const int m = m0 + (tid >> 2) + 32 * j;
    const Origin org = originOf(a, m < a.M ? m : 0);
    rowAt[j] = org.base * a.in.C + (org.iy0 * a.in.W + org.ix0) * a.in.C + (F32 ? a.in.off : 0);
    unsigned cols = 0, bits = 0;  // the kernel columns inside the image; then each kernel row inside adds them
    for (int kx = 0; kx < a.kw; ++kx)
      cols |= static_cast<unsigned>(static_cast<unsigned>(org.ix0 + kx) < static_cast<unsigned>(a.in.W)) << kx;
    for (int ky = 0; ky < a.kh; ++ky)
      if (static_cast<unsigned>(org.iy0 + ky) < static_cast<unsigned>(a.in.H)) bits |= cols << (ky * a.kw);
    rowTaps[j] = m < a.M ? bits : 0u;
  }
  const int8_t* inP = static_cast<const int8_t*>(a.in.p);
  const int8_t* wP = F32 ? reinterpret_cast<const int8_t*>(a.wt) : a.w8;
  int tap = (k0 * KS + piece) / tapC, c0 = k0 * KS + piece - tap * tapC;
  int kx = tap % a.kw;
  int tapAt = ((tap / a.kw) * a.in.W + kx) * a.in.C + c0;  // the piece's element relative to a row's top-left tap
  // B: this thread's 16-byte pieces of the stage's weight rows (and the TF32 rests' rows).
  constexpr int BL = (BT * BN * 4 + 127) / 128;
  int bAt[BL];
  bool bOk[BL];
#pragma unroll
  for (int i = 0; i < BL; ++i) {
    const int c = tid + 128 * i;
    const int bt = c / (BN * 4), row = (c >> 2) - bt * BN;
    bOk[i] = c < BT * BN * 4 && n0 + row < a.O;
    bAt[i] = (bt * a.O + n0 + row) * a.Kpad + (c & 3) * (16 / ES);
  }
  auto load = [&](int kc, int stage) {
    const unsigned bit = tap < taps ? 1u << tap : 0u;
#pragma unroll
    for (int j = 0; j < AR; ++j) {
      const bool ok = rowTaps[j] & bit;
      cpAsync16(As(stage) + ((tid >> 2) + 32 * j) * kMmaLds + (tid & 3) * 16, ok ? inP + (rowAt[j] + tapAt) * ES : wP,
                ok, true);  // byte offsets: F32 inputs under 2^29 floats (open)
    }
    c0 += KS;
    tapAt += KS;
    while (c0 >= tapC) {
      c0 -= tapC;
      tapAt += a.in.C - tapC;
      ++tap;
      if (++kx == a.kw) {
        kx = 0;
        tapAt += (a.in.W - a.kw) * a.in.C;
      }
    }
#pragma unroll
    for (int i = 0; i < BL; ++i) {
      const int c = tid + 128 * i;
      const bool ok = bOk[i] && kc * KS + (c & 3) * (16 / ES) < a.Kpad;
      if (c < BT * BN * 4)
        cpAsync16(Bs(stage, 0) + (c >> 2) * kMmaLds + (c & 3) * 16, ok ? wP + (bAt[i] + kc * KS) * ES : wP, ok, false);
    }
  };
  Acc acc[MT][BN / 8][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[mt][nt][r] = 0;
#pragma unroll
  for (int st = 0; st < STAGES - 1; ++st) {
    if (k0 + st < k1) load(k0 + st, st);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  // ldmatrix addresses: A rows of this lane's 8×8 matrix, B rows (output channels) likewise.
  const int aRow = warp * 16 * MT + (lane & 7) + ((lane >> 3) & 1) * 8, aCol = (lane >> 4) * 16;
  const int bRow = ((lane >> 4) * 8) + (lane & 7), bCol = ((lane >> 3) & 1) * 16;
  for (int kc = k0; kc < k1; ++kc) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(STAGES - 2));
    __syncthreads();
    const int stage = (kc - k0) % STAGES;
    const int8_t* A = As(stage);
#pragma unroll
    for (int kk = 0; kk < kMmaBK; kk += 32) {
      int af[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) ldmatrix4(A + (aRow + mt * 16) * kMmaLds + kk + aCol, af[mt]);
      if constexpr (F32) {
        unsigned hi[MT][4], lo[MT][4];
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const float x = __int_as_float(af[mt][r]);
            hi[mt][r] = tf32Of(x);
            lo[mt][r] = tf32Of(x - __uint_as_float(hi[mt][r]));
          }
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt += 2) {
          int bh[4], bl[4];  // b0, b1 of n-tile nt, then of nt + 1: the weights' TF32 parts, their rests
          ldmatrix4(Bs(stage, 0) + (nt * 8 + bRow) * kMmaLds + kk + bCol, bh);
          ldmatrix4(Bs(stage, 1) + (nt * 8 + bRow) * kMmaLds + kk + bCol, bl);
#pragma unroll
          for (int h = 0; h < 2; ++h)
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              // The small products first, then the large.
              mmaTf32(acc[mt][nt + h], lo[mt], bh[2 * h], bh[2 * h + 1]);
              mmaTf32(acc[mt][nt + h], hi[mt], bl[2 * h], bl[2 * h + 1]);
              mmaTf32(acc[mt][nt + h], hi[mt], bh[2 * h], bh[2 * h + 1]);
            }
        }
      } else {
#pragma unroll
        for (int nt = 0; nt < BN / 8; nt += 2) {
          int b[4];  // b0, b1 of n-tile nt, then of nt + 1
          ldmatrix4(Bs(stage, 0) + (nt * 8 + bRow) * kMmaLds + kk + bCol, b);
#pragma unroll
          for (int h = 0; h < 2; ++h) {
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
              int* d = acc[mt][nt + h];
              asm volatile(
                  "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                  "{%0,%1,%2,%3};\n"
                  : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
                  : "r"(af[mt][0]), "r"(af[mt][1]), "r"(af[mt][2]), "r"(af[mt][3]), "r"(b[2 * h]), "r"(b[2 * h + 1]));
            }
          }
        }
      }
    }
    const int next = kc + STAGES - 1;
    if (next < k1) load(next, (next - k0) % STAGES);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
  __syncthreads();  // the table is in shared memory even where this block had no K to run
  const int g = lane >> 2, t = lane & 3;
  if constexpr (!F32) {
    if (a.partial) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int mm = m0 + warp * 16 * MT + mt * 16 + g + half * 8;
          if (mm >= a.M) continue;
#pragma unroll
          for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
            for (int j = 0; j < 2; ++j) {
              const int o = n0 + nt * 8 + t * 2 + j;
              if (o < a.O) atomicAdd(a.partial + mm * a.O + o, acc[mt][nt][half * 2 + j]);
            }
        }
      return;
    }
  }
  // The epilogue runs from shared memory in one compact loop, not unrolled over this thread's 64
  // fragment values: each unrolled copy of the epilogue is large, and 64 of them made this kernel
  // 2 MB of machine code that every block streamed through the instruction cache (the 1×1
  // convolutions, short K, ran at 5–7 TMAC/s). 64 rows at a time (BM 128: the rows of warps 2h and
  // 2h + 1; 64: all) as 64 × BN accumulators in the stages, then four channels a thread, a warp along a pixel's
  // channels. A thread's four channels are the same in every row: their bias and multiplier are
  // loaded once (ncu, batch 32: the 1×1 of 128 → 128 channels at 52×52 ran 6,300 instructions a
  // warp for its 64 mma, most of them this loop).
  Acc* Ys = reinterpret_cast<Acc*>(smemA);
  const float* lut = a.lut ? lutS : nullptr;
  const float* auxLut = a.auxLut ? auxS : nullptr;
  const bool quads =
      ((a.out.C | a.out.off | a.aux.C | a.aux.off) & 3) == 0;  // four channels (o a multiple of 4) in one store
  constexpr int QR = BN / 4;                                   // quads a row
  const int o0 = n0 + (tid % QR) * 4;
  // The float the epilogue starts from: the int32 sum with its bias times the multiplier, or the
  // float sum with the bias added last (convAccValue, convFloatKernel).
  int bias[4];
  float mul[4], fbias[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const bool ok = o0 + q < a.O;
    if constexpr (F32) {
      fbias[q] = ok && a.biasf ? __ldg(a.biasf + o0 + q) : 0.f;
    } else {
      bias[q] = ok && a.bias8 ? __ldg(a.bias8 + o0 + q) : 0;
      mul[q] = ok ? __ldg(a.mult + o0 + q) : 0.f;
    }
  }
  auto value = [&](int q, Acc v) -> float {
    if constexpr (F32)
      return __fadd_rn(v, fbias[q]);
    else
      return __fmul_rn(static_cast<float>(v + bias[q]), mul[q]);
  };
#pragma unroll 1
  for (int h = 0; h < MT; ++h) {
    if (warp * 16 * MT / 64 == h) {  // this warp's rows are in this pass
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
          for (int nt = 0; nt < BN / 8; ++nt) {
            Acc* y = Ys + (warp * 16 * MT % 64 + mt * 16 + g + half * 8) * LDY + nt * 8 + t * 2;
            if constexpr (F32)
              *reinterpret_cast<float2*>(y) = make_float2(acc[mt][nt][half * 2], acc[mt][nt][half * 2 + 1]);
            else
              *reinterpret_cast<int2*>(y) = make_int2(acc[mt][nt][half * 2], acc[mt][nt][half * 2 + 1]);
          }
    }
    __syncthreads();
#pragma unroll 1
    for (int r = tid / QR; r < 64 && o0 < a.O; r += 128 / QR) {
      const int mm = m0 + h * 64 + r;
      if (mm >= a.M) break;
      Acc v[4];
      if constexpr (F32) {
        const float4 p = *reinterpret_cast<const float4*>(Ys + r * LDY + o0 - n0);
        v[0] = p.x, v[1] = p.y, v[2] = p.z, v[3] = p.w;
      } else {
        const int4 p = *reinterpret_cast<const int4*>(Ys + r * LDY + o0 - n0);
        v[0] = p.x, v[1] = p.y, v[2] = p.z, v[3] = p.w;
      }
      if (quads && o0 + 3 < a.O) {
        int x[4] = {0, 0, 0, 0};
        float w[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) w[q] = convValue(a, lut, auxLut, value(q, v[q]), &x[q]);
        const int at = mm * a.out.C + a.out.off + o0;
        if (a.e.int8Out) {
          *reinterpret_cast<char4*>(static_cast<int8_t*>(a.out.p) + at) =
              make_char4(static_cast<signed char>(w[0]), static_cast<signed char>(w[1]), static_cast<signed char>(w[2]),
                         static_cast<signed char>(w[3]));
        } else {
          *reinterpret_cast<float4*>(static_cast<float*>(a.out.p) + at) = make_float4(w[0], w[1], w[2], w[3]);
        }
        if (a.aux.p)
          *reinterpret_cast<char4*>(static_cast<int8_t*>(a.aux.p) + mm * a.aux.C + a.aux.off + o0) =
              make_char4(x[0], x[1], x[2], x[3]);
        continue;
      }
#pragma unroll 1
      for (int q = 0; q < 4 && o0 + q < a.O;
           ++q) {  // the loaded bias and multiplier are not indexed at run time here (no stack)
        const Acc vq = q == 0 ? v[0] : q == 1 ? v[1] : q == 2 ? v[2] : v[3];
        float y;
        if constexpr (F32)
          y = __fadd_rn(vq, a.biasf ? __ldg(a.biasf + o0 + q) : 0.f);
        else
          y = convAccValue(a, o0 + q, vq);
        convStore(a, lut, auxLut, mm, o0 + q, y);
      }
    }
    __syncthreads();
  }
#else
  __trap();  // never launched: the host picks dp4a where this architecture's code lacks mma
#endif
}

// Where float K index k reads: channel c of tap (ky, kx), in the float sum's K order (blocks of
// sumBlock channels, taps, the block's channels; only the last block may be short, and then
// only with one tap).
struct FloatTerm {
  int blk, n, tap, ci;  // block, its channels, tap, channel within the block
};
__device__ __forceinline__ FloatTerm floatTermOf(const ConvArgs& a, int k) {
  const int taps = a.kh * a.kw;
  FloatTerm t;
  t.blk = k / (a.sumBlock * taps);
  t.n = max(1, min(a.sumBlock, a.C - t.blk * a.sumBlock));  // 1 past K (never read)
  const int r = k - t.blk * a.sumBlock * taps;
  t.tap = r / t.n;
  t.ci = r - t.tap * t.n;
  return t;
}

// A float convolution's epilogue from its output tile in shared memory ([rows][cols] sums with
// their bias, pixels m0…, channels n0…) in one compact loop (not unrolled over a thread's outputs:
// unrolled copies of the epilogue made these kernels half a megabyte of machine code), four
// channels a thread, a warp along a pixel's channels.
__device__ __forceinline__ void convFloatTileEpilogue(const ConvArgs& a, const float* tile, int rows, int cols, int m0,
                                                      int n0) {
  const bool quadsOk = ((a.out.C | a.out.off | a.aux.C | a.aux.off) & 3) == 0;  // four channels in one store
#pragma unroll 1
  for (int i = threadIdx.x; i < rows * cols / 4; i += blockDim.x) {
    const int r = i / (cols / 4), c = (i - r * (cols / 4)) * 4;
    const int m = m0 + r, o = n0 + c;
    if (m >= a.M || o >= a.O) continue;
    const float4 y = *reinterpret_cast<const float4*>(tile + r * cols + c);
    if (quadsOk && o + 3 < a.O) {
      int x[4] = {0, 0, 0, 0};
      const float4 v =
          make_float4(convValue(a, a.lut, a.auxLut, y.x, &x[0]), convValue(a, a.lut, a.auxLut, y.y, &x[1]),
                      convValue(a, a.lut, a.auxLut, y.z, &x[2]), convValue(a, a.lut, a.auxLut, y.w, &x[3]));
      if (a.aux.p)
        *reinterpret_cast<char4*>(static_cast<int8_t*>(a.aux.p) + m * a.aux.C + a.aux.off + o) =
            make_char4(x[0], x[1], x[2], x[3]);
      const int at = m * a.out.C + a.out.off + o;
      if (a.e.int8Out) {
        *reinterpret_cast<char4*>(static_cast<int8_t*>(a.out.p) + at) =
            make_char4(static_cast<signed char>(v.x), static_cast<signed char>(v.y), static_cast<signed char>(v.z),
                       static_cast<signed char>(v.w));
      } else {
        *reinterpret_cast<float4*>(static_cast<float*>(a.out.p) + at) = v;
      }
      continue;
    }
#pragma unroll 1
    for (int j = 0; j < 4 && o + j < a.O; ++j)
      convStore(a, a.lut, a.auxLut, m, o + j, j == 0 ? y.x : j == 1 ? y.y : j == 2 ? y.z : y.w);
  }
}

// Float convolution (FP32 layers, and int8 ones whose output stays float: dequantized input,
// weights and bias): an implicit GEMM on the CUDA cores, BM pixels × BN channels a block of 256
// threads (BM·BN = 4096: 128×32 or 64×64), 16 of K a step through shared memory, each thread 4
// pixels × 4 channels. Each output sums as ONNX Runtime's MLAS does (plan.ts FloatSum, the
// reference's order): one fused multiply-add a term in K order into a partial sum from zero,
// added into the total every sumRestart terms, the bias added last; taps outside the image add
// nothing. The order only decides which K index a step reads and adds a flush every sumRestart
// terms: the work is spread over the outputs as before.
constexpr int kFloatBK = 16;

// Three blocks an SM (79 registers). 8×4 outputs a thread measured slower on the H200 (2 blocks an
// SM at 128 registers: the FP32 3×3 0.33 → 0.39 ms at batch 32, int8sweep-h200-2026-12-04-run3.json).
template <int BM, int BN>
__global__ void __launch_bounds__(256, 3) convFloatKernel(ConvArgs a) {
  static_assert(BM * BN == 4096, "256 threads of 4×4 outputs");
  constexpr int KPT = 16 * BM / 256;  // K values a thread loads a step, for one pixel
  // The two stages of A and B, and after the last step the output tile (the epilogue's staging).
  constexpr int kStages = 2 * kFloatBK * (BM + BN), kSmem = kStages > BM * BN ? kStages : BM * BN;
  __shared__ __align__(16) float smem[kSmem];
  float(*As)[kFloatBK][BM] = reinterpret_cast<float(*)[kFloatBK][BM]>(smem);
  float(*Bs)[kFloatBK][BN] = reinterpret_cast<float(*)[kFloatBK][BN]>(smem + 2 * kFloatBK * BM);
  const int tid = threadIdx.x;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  const int K = a.kh * a.kw * a.C;
  // This thread's loads: KPT consecutive K values of one pixel (a block's channels of one tap:
  // reads along NHWC's channels; or one channel's taps where blocks are one channel),
  // neighbouring threads the rest of that pixel's 16.
  constexpr int TPR = 16 / KPT;  // threads a pixel
  const int lm = tid / TPR, lk = (tid % TPR) * KPT;
  const bool lmOk = m0 + lm < a.M;
  const Origin org = originOf(a, lmOk ? m0 + lm : 0);
  // Its outputs: pixels tm…tm+3, channels tn…tn+3. A warp spans 8 pixel groups × 4 channel
  // groups, so its shared-memory reads are 8 distinct float4 of A and 4 of B (broadcasts).
  constexpr int MG = BM / 4, WM = MG / 8;  // pixel groups; warps along the pixels
  const int warp = tid >> 5, lane = tid & 31;
  const int tm = ((warp % WM) * 8 + (lane & 7)) * 4, tn = ((warp / WM) * 4 + (lane >> 3)) * 4;
  float acc[4][4], total[4][4];  // the partial sum since the last restart; the sum of the partials
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = total[i][j] = 0.f;
  // Two shared-memory stages: the next step's values are fetched into registers while this
  // step computes, then stored into the other stage (one barrier a step).
  constexpr int BPT = kFloatBK * BN / 256;  // B values a thread loads a step
  float ra[KPT], rb[BPT];
  const int taps = a.kh * a.kw;
  // Vec: where step k0's 16 K values read (one tap's 16 consecutive channels), advanced a step
  // at a time (no divisions): channel vc0 + vci of tap (vky, vkx); vn: the block's channels.
  int vc0 = 0, vci = 0, vn = a.taps1 ? a.C : min(a.sumBlock, a.C), vtap = 0, vky = 0, vkx = 0;
  auto fetch = [&](int k0) {
    if (a.vec) {
      const int iy = org.iy0 + vky, ix = org.ix0 + vkx;
      const bool ok = lmOk && iy >= 0 && iy < a.in.H && ix >= 0 && ix < a.in.W;
      const int at = (org.base + iy * a.in.W + ix) * a.in.C + a.in.off + vc0 + vci + lk;
      vci += kFloatBK;
      if (vci == vn) {  // the block's channels done for this tap: the next tap, or the next block
        vci = 0;
        if (++vkx == a.kw) {
          vkx = 0;
          ++vky;
        }
        if (++vtap == taps) {
          vtap = vky = vkx = 0;
          vc0 += vn;
          vn = min(a.sumBlock, a.C - vc0);
        }
      }
#pragma unroll
      for (int j = 0; j < KPT; j += 4) {
        const float4 v = ok ? load4(a.in.p, at + j, a.in.int8, a.in.scale) : make_float4(0.f, 0.f, 0.f, 0.f);
        ra[j] = v.x;
        ra[j + 1] = v.y;
        ra[j + 2] = v.z;
        ra[j + 3] = v.w;
      }
    } else {
      int k = k0 + lk;
      FloatTerm t = floatTermOf(a, k);
      int ky = t.tap / a.kw, kx = t.tap - ky * a.kw;
#pragma unroll
      for (int j = 0; j < KPT; ++j, ++k) {
        const int iy = org.iy0 + ky, ix = org.ix0 + kx;
        const int c = t.blk * a.sumBlock + t.ci;
        ra[j] = lmOk && k < K && iy >= 0 && iy < a.in.H && ix >= 0 && ix < a.in.W
                    ? loadValue(a.in.p, (org.base + iy * a.in.W + ix) * a.in.C + a.in.off + c, a.in.int8, a.in.scale)
                    : 0.f;
        if (++t.ci == t.n) {
          t.ci = 0;
          if (++kx == a.kw) {
            kx = 0;
            ++ky;
          }
          if (++t.tap == taps) {
            t.tap = ky = kx = 0;
            ++t.blk;
            t.n = max(1, min(a.sumBlock, a.C - t.blk * a.sumBlock));
          }
        }
      }
    }
#pragma unroll
    for (int j = 0; j < BPT; ++j) {
      const int e = tid + j * 256;
      const int kr = e / BN, n = e - kr * BN;
      rb[j] = k0 + kr < K && n0 + n < a.O ? __ldg(a.wf + (k0 + kr) * a.O + n0 + n) : 0.f;
    }
  };
  auto put = [&](int stage) {
#pragma unroll
    for (int j = 0; j < KPT; ++j) As[stage][lk + j][lm] = ra[j];
#pragma unroll
    for (int j = 0; j < BPT; ++j) {
      const int e = tid + j * 256;
      Bs[stage][e / BN][e % BN] = rb[j];
    }
  };
  fetch(0);
  put(0);
  __syncthreads();
  int cur = 0;
  int restartAt = min(a.sumRestart, K);  // uniform over the block: no divergence
  // Whole steps (K and the restart both multiples of 16, the vec layouts): the step's 16 terms
  // with no checks between them, the restart checked once a step.
  const bool whole = a.vec && a.sumRestart % kFloatBK == 0;
  auto flush = [&]() {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        total[i][j] = __fadd_rn(total[i][j], acc[i][j]);
        acc[i][j] = 0.f;
      }
    restartAt = min(restartAt + a.sumRestart, K);
  };
  auto term = [&](int kk) {
    const float4 x = *reinterpret_cast<const float4*>(&As[cur][kk][tm]);
    const float4 w = *reinterpret_cast<const float4*>(&Bs[cur][kk][tn]);
    const float xs[4] = {x.x, x.y, x.z, x.w}, ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = __fmaf_rn(xs[i], ws[j], acc[i][j]);
  };
  for (int k0 = 0; k0 < K; k0 += kFloatBK) {
    const bool more = k0 + kFloatBK < K;
    if (more) fetch(k0 + kFloatBK);
    if (whole) {
#pragma unroll
      for (int kk = 0; kk < kFloatBK; ++kk) term(kk);
      if (k0 + kFloatBK == restartAt) flush();
      if (more) put(cur ^ 1);
      __syncthreads();
      cur ^= 1;
      continue;
    }
#pragma unroll 1
    for (int kk = 0; kk < kFloatBK; ++kk) {
      if (k0 + kk >= K) break;
      term(kk);
      if (k0 + kk + 1 == restartAt) flush();
    }
    if (more) put(cur ^ 1);
    __syncthreads();
    cur ^= 1;
  }
  // The bias last, as MLAS adds it (after the last partial, before the activation).
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const float b = a.biasf && n0 + tn + j < a.O ? a.biasf[n0 + tn + j] : 0.f;
#pragma unroll
    for (int i = 0; i < 4; ++i) total[i][j] = __fadd_rn(total[i][j], b);
  }
  // The epilogue from shared memory (convFloatTileEpilogue).
#pragma unroll
  for (int i = 0; i < 4; ++i)
    *reinterpret_cast<float4*>(smem + (tm + i) * BN + tn) =
        make_float4(total[i][0], total[i][1], total[i][2], total[i][3]);
  __syncthreads();
  convFloatTileEpilogue(a, smem, BM, BN, m0, n0);
}

// ---- the stem: NanoDet's first layers in one kernel (program.ts stemOf) ---------------------------
// The float input quantized (QuantizeInput's codes) and read back dequantized (q·s), a 3×3
// stride-2 convolution of 3 → 32 channels summed as convFloatKernel sums it (one chain of 27
// fused multiply-adds, channel then tap, taps outside the image adding zero products; added to
// zero, then the bias), its epilogue, then the 3×3 stride-2 max-pool (pads 1: taps outside
// skipped, the rest in order). Neither the int8 input nor the convolution's float output is
// stored. A block makes 7×8 pooled pixels of one image from the 15×17 convolution outputs under
// them (shared memory; those outside the image are −∞, which the max leaves out), which read
// 31×35 input pixels.
constexpr int kStemPY = 7, kStemPX = 8;
constexpr int kStemCY = 2 * kStemPY + 1, kStemCX = 2 * kStemPX + 1;  // 255 convolution outputs: one a thread
constexpr int kStemIY = 2 * kStemCY + 1, kStemIX = 2 * kStemCX + 1;
constexpr int kStemC = 3, kStemO = 32,
              kStemLd = kStemO + 1;  // a row of 32 outputs and one float of padding (no bank conflicts)

struct StemArgs {
  const float* x;  // the engine input, float NCHW [n, 3, S, S]
  int S;
  float s, inv;  // the input's quantize scale, 1/scale
  int convH, convW;
  const float* w;     // [27, 32], k = channel·9 + tap (the float sum's order)
  const float* bias;  // [32] or null
  Int8ConvEpilogue e;
  // The epilogue is monotone (requantize, ReLU, LeakyReLU with alpha ≥ 0): max(f(x)) = f(max(x))
  // exactly, so it runs on the pooled values (a quarter as many) rather than on every convolution
  // output. Otherwise every convolution output goes through it before the pool.
  bool poolFirst;
  Tensor out;  // the max-pool's output, float
};

// Whether every op of the epilogue is monotone non-decreasing in float32 as the kernels compute it
// (the stem may then pool first).
bool monotone(const Int8ConvEpilogue& e) {
  for (int k = 0; k < e.n; ++k) {
    if (e.op[k] == EpilogueOp::Sigmoid) return false;
    if (e.op[k] == EpilogueOp::LeakyRelu && !(e.arg[k] >= 0.f)) return false;
  }
  return true;
}

__global__ void __launch_bounds__(256) stemKernel(StemArgs a) {
  __shared__ int8_t xq[kStemC][kStemIY][kStemIX + 1];
  __shared__ float conv[kStemCY * kStemCX * kStemLd];
  __shared__ __align__(16) float ws[kStemC * 9 * kStemO];
  const int tid = threadIdx.x, img = blockIdx.z;
  const int py0 = blockIdx.y * kStemPY, px0 = blockIdx.x * kStemPX;
  const int iy0 = 4 * py0 - 3, ix0 = 4 * px0 - 3;  // input under convolution output (2·py0 − 1, 2·px0 − 1)'s first tap
  const float* x = a.x + static_cast<size_t>(img) * kStemC * a.S * a.S;
  // Every load of the block issued before any is used (latency: one round trip, not thirteen);
  // outside the image 0, whose code is 0.
  constexpr int kIn = kStemC * kStemIY * kStemIX, kPer = (kIn + 255) / 256, kW = kStemC * 9 * kStemO;
  float v[kPer], wv[(kW + 255) / 256];
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int i = tid + j * 256;
    const int c = i / (kStemIY * kStemIX), r = i - c * (kStemIY * kStemIX);
    const int yy = r / kStemIX, xx = r - yy * kStemIX;
    const int gy = iy0 + yy, gx = ix0 + xx;
    v[j] = i < kIn && gy >= 0 && gy < a.S && gx >= 0 && gx < a.S ? __ldg(x + (c * a.S + gy) * a.S + gx) : 0.f;
  }
#pragma unroll
  for (int j = 0; j < (kW + 255) / 256; ++j) wv[j] = tid + j * 256 < kW ? __ldg(a.w + tid + j * 256) : 0.f;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int i = tid + j * 256;
    if (i < kIn)
      (&xq[0][0][0])[(i / kStemIX) * (kStemIX + 1) + i % kStemIX] =
          static_cast<int8_t>(quantizeCodeFast(v[j], a.s, a.inv));
  }
#pragma unroll
  for (int j = 0; j < (kW + 255) / 256; ++j)
    if (tid + j * 256 < kW) ws[tid + j * 256] = wv[j];
  __syncthreads();
  if (tid < kStemCY * kStemCX) {
    const int cy = tid / kStemCX, cx = tid - cy * kStemCX;
    const int gy = 2 * py0 - 1 + cy, gx = 2 * px0 - 1 + cx;
    float* dst = conv + tid * kStemLd;
    if (gy < 0 || gy >= a.convH || gx < 0 || gx >= a.convW) {
#pragma unroll
      for (int o = 0; o < kStemO; ++o) dst[o] = -INFINITY;
    } else {
      float acc[kStemO];
#pragma unroll
      for (int o = 0; o < kStemO; ++o) acc[o] = 0.f;
#pragma unroll
      for (int c = 0; c < kStemC; ++c)
#pragma unroll
        for (int t = 0; t < 9; ++t) {
          const float v = __fmul_rn(static_cast<float>(xq[c][2 * cy + t / 3][2 * cx + t % 3]), a.s);
          const float4* w4 = reinterpret_cast<const float4*>(ws + (c * 9 + t) * kStemO);
#pragma unroll
          for (int q = 0; q < kStemO / 4; ++q) {
            const float4 w = w4[q];
            acc[4 * q] = __fmaf_rn(v, w.x, acc[4 * q]);
            acc[4 * q + 1] = __fmaf_rn(v, w.y, acc[4 * q + 1]);
            acc[4 * q + 2] = __fmaf_rn(v, w.z, acc[4 * q + 2]);
            acc[4 * q + 3] = __fmaf_rn(v, w.w, acc[4 * q + 3]);
          }
        }
#pragma unroll
      for (int o = 0; o < kStemO; ++o) dst[o] = __fadd_rn(__fadd_rn(0.f, acc[o]), a.bias ? a.bias[o] : 0.f);
    }
  }
  __syncthreads();
  // Unless it runs after the pool: the epilogue in one compact loop over the tile (32 unrolled
  // copies of it made this kernel large machine code); outputs outside the convolution stay −∞.
#pragma unroll 1
  for (int i = tid; i < (a.poolFirst ? 0 : kStemCY * kStemCX * kStemO); i += 256) {
    const int p = i / kStemO, o = i - p * kStemO;
    const int cy = p / kStemCX, cx = p - cy * kStemCX;
    const int gy = 2 * py0 - 1 + cy, gx = 2 * px0 - 1 + cx;
    if (gy < 0 || gy >= a.convH || gx < 0 || gx >= a.convW) continue;
    int code = 0;
    float* v = conv + p * kStemLd + o;
    *v = epilogue(*v, a.e, a.e.n, &code);
  }
  __syncthreads();
  for (int i = tid; i < kStemPY * kStemPX * kStemO; i += 256) {
    const int o = i % kStemO, p = i / kStemO;
    const int py = p / kStemPX, px = p - py * kStemPX;
    const int gy = py0 + py, gx = px0 + px;
    if (gy >= a.out.H || gx >= a.out.W) continue;
    float m = -INFINITY;
#pragma unroll
    for (int ky = 0; ky < 3; ++ky)
#pragma unroll
      for (int kx = 0; kx < 3; ++kx) m = fmaxf(m, conv[((2 * py + ky) * kStemCX + 2 * px + kx) * kStemLd + o]);
    if (a.poolFirst) {
      int code = 0;
      m = epilogue(m, a.e, a.e.n, &code);
    }
    static_cast<float*>(a.out.p)[((img * a.out.H + gy) * a.out.W + gx) * a.out.C + a.out.off + o] = m;
  }
}

// The stem convolution's output size (square: the engine input is square).
int stemConvSize(const Int8Program& p, const ProgramOp& op) { return (p.inputSize + 2 * op.pt - op.kh) / op.sh + 1; }

// The float sum's order for a float convolution, as src/model/int8/plan.ts (ortFloatSum) gives
// it for the step, from what the op carries (program.ts checks the two agree): ONNX Runtime's
// MLAS order on AVX-512. An int8 input means a DequantizeLinear → Conv (MlasConv: im2col, channel
// then tap, slices of 128); a float one an NCHWc convolution with 16-channel blocks (fewer than
// 16 channels: one channel a call; 1×1 unpadded: 128 channels a call), or MlasConv where the
// channels are not a multiple of 16.
std::pair<int, int> floatSumOf(const ProgramOp& op, bool int8In) {
  const int taps = op.kh * op.kw;
  if (int8In || (op.C > 16 && op.C % 16 != 0)) return {1, std::min(op.C * taps, 128)};
  if (op.C < 16) return {1, taps};
  if (taps == 1 && op.pt == 0 && op.pl == 0) return {128, 128};
  return {16, 16 * taps};
}

// Whether op k's result, and everything computed from it, stays float: no int8 code depends on
// it. Only such convolutions may sum in another order than ONNX Runtime's: NanoDet's INT8 layers
// carry a one-step difference far (eight codes moved by one in its first FP32 convolution's output
// moved 16 % of the codes after it, up to 9 steps: bench/int8Cascade.ts), and 3×TF32 in that
// layer left 96 % of the codes within one step of ONNX Runtime and mAP@0.5 0.93
// (bench/results/int8engine-h200-2026-12-04-tf32x3-op1.json).
bool floatOnlyDownstream(const Int8Program& p, size_t k) {
  // An op that makes int8 codes: an int8 output, an aux output, or a requantize in its epilogue
  // (whose code the float output after it carries).
  auto quantizes = [&](const ProgramOp& op) {
    if (p.buffers[op.out.buffer].int8 || op.aux.buffer >= 0) return true;
    for (int i = 0; i < op.epilogue.n; ++i)
      if (op.epilogue.op[i] == EpilogueOp::Requantize) return true;
    return false;
  };
  std::vector<bool> reached(p.buffers.size(), false);
  if (quantizes(p.ops[k])) return false;
  reached[p.ops[k].out.buffer] = true;
  for (size_t j = k + 1; j < p.ops.size(); ++j) {
    const ProgramOp& op = p.ops[j];
    const bool reads = (op.in.buffer >= 0 && reached[op.in.buffer]) || (op.in2.buffer >= 0 && reached[op.in2.buffer]);
    if (!reads) continue;
    if (quantizes(op)) return false;
    reached[op.out.buffer] = true;
  }
  return true;
}

// A float's TF32 part as the device's cvt.rna.tf32.f32 takes it: the 10-bit mantissa rounded to
// nearest, ties away from zero (infinities and NaN as they are).
float tf32Part(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&x, &u, 4);
  return x;
}

// No priority attribute on a launch (launchKernel).
constexpr int kNoPriority = 1 << 30;

// A kernel launch on `st`, with `priority` (a stream priority: lower runs first) unless kNoPriority.
template <typename... Params, typename... Args>
cudaError_t launchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t st, int priority,
                         Args... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.stream = st;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributePriority;
  attr[0].val.priority = priority;
  cfg.attrs = attr;
  cfg.numAttrs = priority == kNoPriority ? 0 : 1;
  return cudaLaunchKernelEx(&cfg, kernel, args...);
}

unsigned gridFor(long total, int threads) {
  const long blocks = (total + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks > (1L << 30) ? (1L << 30) : blocks);
}

}  // namespace

// ---- the engine ---------------------------------------------------------------------------------

struct Int8Engine::Impl {
  Int8Program prog;
  int maxBatch = 0;
  bool mma = false;
  // Float convolutions with a float input and a float-only result on the tensor cores (3×TF32)
  // where mma runs; false (VIGIL_INT8_FLOAT=exact): all on the CUDA cores in ONNX Runtime's
  // order, every value the reference's. Int8 codes are the reference's either way.
  bool tf32 = false;
  bool graphs = true;
  std::string key;
  float* input = nullptr;
  std::vector<void*> buffers;
  std::vector<float*> outputPtrs;
  std::vector<std::string> outputNames;
  // Per op: its packed weights, bias and multipliers in device memory.
  struct OpDevice {
    void* w = nullptr;
    void* bias = nullptr;
    float* mult = nullptr;
    float* lut = nullptr;     // the epilogue's table (ConvArgs::lut), or null
    float* auxLut = nullptr;  // the aux output's table (ConvArgs::auxLut), or null
    int lutAt = -1;
    int Kpad = 0;
    int sumBlock = 1, sumRestart = 1;  // ConvFloat: floatSumOf
    float* wt = nullptr;               // ConvFloat on the tensor cores: ConvArgs::wt, or null (convFloatKernel)
    int KpadT = 0;                     // its K rounded up to a stage (16)
  };
  std::vector<OpDevice> opDev;
  std::map<std::pair<int, const float*>, cudaGraphExec_t> graphExecs;
  int sms = 1;
  // At least this many K splits a convolution (VIGIL_INT8_MIN_SPLIT, for benches comparing the
  // mma kernel's own epilogue with the separate one): 1 by default.
  int minSplit = 1;
  // Blocks an SM that split-K aims for where the tiles alone are fewer (VIGIL_INT8_SPLIT_BLOCKS);
  // 0, the default: 2 at batches under 4, 1 from 4 (on the H200, against 2 at every batch: batch 8
  // 11–14 % faster in four sweeps, 3–5 % before the faster epilogues; 32 3–4 %, 64 1–2 %; at
  // batch 1, 1 was 1–3 % slower; 4 slower everywhere).
  int splitBlocks = 0;
  // 64-row tiles for INT8 convolutions whose 128-row tiles are fewer than this many blocks an SM
  // (rowsOf; VIGIL_INT8_SMALL_TILES, 0: never).
  int smallBelow = 2;
  int32_t* partial = nullptr;  // split-K sums, the largest M·O of the INT8 convolutions at maxBatch
  // Branches in the graphs (launchAll): side streams, an event per op, fork and join events;
  // false with VIGIL_INT8_BRANCHES=0 (one stream, for benches comparing the two).
  static constexpr int kSide = 3;
  bool branches = true;
  // Critical-path priorities in the branch graphs (prioritiesOf); VIGIL_INT8_PRIORITY=0: none.
  bool priorities = true;
  int leastPriority = 0, greatestPriority = 0;  // the device's range (cudaDeviceGetStreamPriorityRange)
  cudaStream_t side[kSide] = {};
  std::vector<cudaEvent_t> opEvents;
  cudaEvent_t forkEvent = nullptr, joinEvents[kSide] = {};
  size_t partialCount = 0;

  ~Impl() {
    for (auto& [k, g] : graphExecs) cudaGraphExecDestroy(g);
    for (OpDevice& d : opDev) {
      cudaFree(d.lut);
      cudaFree(d.auxLut);
      cudaFree(d.w);
      cudaFree(d.bias);
      cudaFree(d.mult);
      cudaFree(d.wt);
    }
    for (void* b : buffers) cudaFree(b);
    cudaFree(input);
    cudaFree(partial);
    for (cudaEvent_t e : opEvents)
      if (e) cudaEventDestroy(e);
    if (forkEvent) cudaEventDestroy(forkEvent);
    for (int s = 0; s < kSide; ++s) {
      if (joinEvents[s]) cudaEventDestroy(joinEvents[s]);
      if (side[s]) cudaStreamDestroy(side[s]);
    }
  }

  size_t bytesPerImage(const ProgramBuffer& b) const { return static_cast<size_t>(b.H) * b.W * b.C * (b.int8 ? 1 : 4); }

  Tensor view(const BufferView& v) const {
    const ProgramBuffer& b = prog.buffers[v.buffer];
    Tensor t;
    t.p = buffers[v.buffer];
    t.int8 = b.int8;
    t.scale = b.scale;
    t.inv = b.int8 ? 1.f / b.scale : 0.f;
    t.H = b.H;
    t.W = b.W;
    t.C = b.C;
    t.off = v.offset;
    return t;
  }

  // Four channels a thread where every channel count, offset and stride is a multiple of 4.
  static bool vec4(int channels, std::initializer_list<Tensor> ts) {
    if (channels % 4) return false;
    for (const Tensor& t : ts)
      if (t.C % 4 || t.off % 4) return false;
    return true;
  }

  // A convolution's output channels a block on the tensor cores.
  static int colsOf(const ProgramOp& op) { return op.O <= 32 ? 32 : 64; }

  // An INT8 convolution's rows (output pixels) a block on the tensor cores: 64 where 128-row
  // tiles would be fewer than smallBelow blocks an SM (small batches, late layers: each warp then
  // runs half the instructions, and twice the warps hide each other's latency), else 128.
  int rowsOf(const ProgramOp& op, int pixels) const {
    const int bn = colsOf(op);
    const long tiles = static_cast<long>((pixels + kMmaBM - 1) / kMmaBM) * ((op.O + bn - 1) / bn);
    return tiles < static_cast<long>(smallBelow) * sms ? 64 : 128;
  }

  // An INT8 convolution's K splits on the tensor cores at batch n, and its stages a split. Too few
  // tiles to fill the GPU (small batches, late layers): split K, at least two stages a split (one
  // where K is two or three stages: a 1×1 of 128 channels at batch 1 took 70 µs unsplit on the
  // H200, 19 µs split), for about splitBlocks blocks an SM.
  std::pair<int, int> splitOf(const ProgramOp& op, const OpDevice& d, int n, int pixels) const {
    const int bn = colsOf(op), bm = rowsOf(op, pixels);
    const long tiles = static_cast<long>((pixels + bm - 1) / bm) * ((op.O + bn - 1) / bn);
    const int chunks = (d.Kpad + kMmaBK - 1) / kMmaBK;
    const int most = chunks < 4 ? chunks : chunks / 2;
    const long want = static_cast<long>(splitBlocks ? splitBlocks : n < 4 ? 2 : 1) * sms;
    int splits = tiles >= want ? 1 : static_cast<int>(std::min<long>(most, (want + tiles - 1) / tiles));
    splits = std::max(splits, std::min(minSplit, chunks));  // VIGIL_INT8_MIN_SPLIT (benches)
    if (splits < 1 || static_cast<size_t>(pixels) * op.O > partialCount) splits = 1;
    const int per = (chunks + splits - 1) / splits;
    return {(chunks + per - 1) / per, per};
  }

  // Branches (a CUDA graph's capture, not VIGIL_INT8_BRANCHES=0): each op on one of the origin
  // stream and kSide side streams, after the ops it depends on (dependencies), so that independent
  // ops (the heads, the lateral convolutions, a block's branches) run side by side where their
  // grids leave the GPU room. An op goes on the stream whose last op it depends on, else on the
  // least recently used.
  //
  // What each op waits for at batch n: the last writer of each buffer it reads; the last writer
  // and the readers since of each it writes; the last split-K convolution if it splits K too (they
  // share the workspace).
  std::vector<std::vector<int>> dependencies(int n) const {
    std::vector<int> lastWriter(prog.buffers.size(), -1);
    std::vector<std::vector<int>> readers(prog.buffers.size()), deps(prog.ops.size());
    int lastSplit = -1;
    for (size_t k = 0; k < prog.ops.size(); ++k) {
      const ProgramOp& op = prog.ops[k];
      std::vector<int>& d = deps[k];
      const bool needsIn = op.kind != ProgramOpKind::QuantizeInput && op.kind != ProgramOpKind::Stem;
      const int reads[] = {needsIn ? op.in.buffer : -1, op.kind == ProgramOpKind::Add ? op.in2.buffer : -1};
      for (int b : reads)
        if (b >= 0 && lastWriter[b] >= 0) d.push_back(lastWriter[b]);
      for (int b : {op.out.buffer, op.aux.buffer}) {
        if (b < 0) continue;
        if (lastWriter[b] >= 0) d.push_back(lastWriter[b]);
        d.insert(d.end(), readers[b].begin(), readers[b].end());
      }
      const ProgramBuffer& out = prog.buffers[op.out.buffer];
      const bool splitsK =
          mma && op.kind == ProgramOpKind::ConvInt8 && splitOf(op, opDev[k], n, n * out.H * out.W).first > 1;
      if (splitsK && lastSplit >= 0) d.push_back(lastSplit);
      if (splitsK) lastSplit = static_cast<int>(k);
      for (int b : reads)
        if (b >= 0) readers[b].push_back(static_cast<int>(k));
      for (int b : {op.out.buffer, op.aux.buffer}) {
        if (b < 0) continue;
        lastWriter[b] = static_cast<int>(k);
        readers[b].clear();
      }
    }
    return deps;
  }

  // An op's time at batch n, roughly (µs, for priorities only): a kernel's fixed cost, then its
  // work at the rates the H200 measured (INT8 convolutions ~100 TMAC/s, float ones on the CUDA
  // cores or as 3×TF32 ~10, the stem ~7, element-wise ops ~1.2 TB/s).
  double costOf(size_t k, int n) const {
    const ProgramOp& op = prog.ops[k];
    const ProgramBuffer& out = prog.buffers[op.out.buffer];
    const double pixels = static_cast<double>(n) * out.H * out.W;
    switch (op.kind) {
      case ProgramOpKind::ConvInt8: {
        const bool split = mma && splitOf(op, opDev[k], n, static_cast<int>(pixels)).first > 1;
        return (split ? 8 : 4) + pixels * op.O * op.kh * op.kw * op.C / 1e8;
      }
      case ProgramOpKind::ConvFloat:
        return 4 + pixels * op.O * op.kh * op.kw * op.C / 1e7;
      case ProgramOpKind::Stem:
        return 4 + pixels * 4 * op.O * op.kh * op.kw * op.C / 7e6;  // 4 convolution outputs a pooled pixel
      default:
        return 4 + pixels * op.channels * 8 / 1.2e6;
    }
  }

  // Stream priorities for the branch graphs (VIGIL_INT8_PRIORITY=0: none): each op's longest
  // path to the end in costOf, spread over the device's priority levels, so that where ops
  // compete for the GPU the blocks of the longer remaining chain go first (at batch 32 the
  // stride-8 head, two 0.12 ms layers after the neck, ends last).
  std::vector<int> prioritiesOf(int n, const std::vector<std::vector<int>>& deps) const {
    const size_t N = prog.ops.size();
    std::vector<double> bottom(N, 0.0);
    std::vector<std::vector<int>> after(N);
    for (size_t k = 0; k < N; ++k)
      for (int d : deps[k]) after[d].push_back(static_cast<int>(k));
    double most = 0;
    for (size_t k = N; k-- > 0;) {
      double next = 0;
      for (int j : after[k]) next = std::max(next, bottom[j]);
      bottom[k] = costOf(k, n) + next;
      most = std::max(most, bottom[k]);
    }
    std::vector<int> prio(N, leastPriority);
    const int levels = leastPriority - greatestPriority;  // priorities: lower numbers first
    for (size_t k = 0; k < N && most > 0; ++k)
      prio[k] = leastPriority - static_cast<int>(std::lround(bottom[k] / most * levels));
    return prio;
  }

  bool launchAll(int n, const float* in, cudaStream_t origin, std::string& err,
                 const std::function<void(size_t)>& after = nullptr, bool branches = false) {
    constexpr int T = 256;
    bool launched = true;
    std::vector<std::vector<int>> deps;
    std::vector<int> prio;
    std::vector<int> streamOf;  // per op: 0 the origin, s a side stream
    int tail[kSide + 1];
    std::fill(std::begin(tail), std::end(tail), -1);
    if (branches) {
      deps = dependencies(n);
      if (priorities) prio = prioritiesOf(n, deps);
      streamOf.assign(prog.ops.size(), 0);
      cudaEventRecord(forkEvent, origin);
      for (cudaStream_t s : side) cudaStreamWaitEvent(s, forkEvent, 0);
    }
    for (size_t k = 0; k < prog.ops.size(); ++k) {
      const ProgramOp& op = prog.ops[k];
      const Tensor out = view(op.out);
      const int pixels = n * out.H * out.W;
      cudaStream_t st = origin;
      const int P = prio.empty() ? kNoPriority : prio[k];
      if (branches) {
        int pick = -1, lru = 0;
        for (int d : deps[k])
          if (tail[streamOf[d]] == d && (pick < 0 || d > tail[pick])) pick = streamOf[d];
        for (int s = 1; s <= kSide; ++s)
          if (tail[s] < tail[lru]) lru = s;
        if (pick < 0) pick = lru;
        streamOf[k] = pick;
        st = pick == 0 ? origin : side[pick - 1];
        for (int d : deps[k])
          if (streamOf[d] != pick) cudaStreamWaitEvent(st, opEvents[d], 0);
        tail[pick] = static_cast<int>(k);
      }
      cudaError_t lrc = cudaSuccess;  // the first failed launch of this op
      auto check = [&](cudaError_t r) {
        if (lrc == cudaSuccess) lrc = r;
      };
      switch (op.kind) {
        case ProgramOpKind::QuantizeInput:
          check(launchKernel(quantizeInputKernel, gridFor(pixels, T), T, st, P, in, static_cast<int8_t*>(out.p), n,
                             op.channels, prog.inputSize, out.C, out.scale, out.inv, op.space));
          break;
        case ProgramOpKind::Unary: {
          const Tensor x = view(op.in);
          const bool v = vec4(op.channels, {x, out});
          check(launchKernel(unaryKernel, gridFor(static_cast<long>(pixels) * op.channels / (v ? 4 : 1), T), T, st, P,
                             x, out, pixels, op.channels, op.act, op.alpha, v));
          break;
        }
        case ProgramOpKind::Add: {
          const Tensor a = view(op.in), b = view(op.in2);
          const bool v = vec4(op.channels, {a, b, out});
          check(launchKernel(addKernel, gridFor(static_cast<long>(pixels) * op.channels / (v ? 4 : 1), T), T, st, P, a,
                             b, out, pixels, op.channels, v));
          break;
        }
        case ProgramOpKind::MaxPool: {
          const Tensor x = view(op.in);
          const bool v = vec4(op.channels, {x, out});
          check(launchKernel(maxPoolKernel, gridFor(static_cast<long>(pixels) * op.channels / (v ? 4 : 1), T), T, st, P,
                             x, out, n, op.channels, op.kh, op.kw, op.sh, op.sw, op.pt, op.pl, v));
          break;
        }
        case ProgramOpKind::Resize: {
          const Tensor x = view(op.in);
          const bool v = vec4(op.channels, {x, out});
          check(launchKernel(resizeKernel, gridFor(static_cast<long>(pixels) * op.channels / (v ? 4 : 1), T), T, st, P,
                             x, out, n, op.channels, op.scaleY, op.scaleX, v));
          break;
        }
        case ProgramOpKind::Stem: {
          StemArgs sa{};
          sa.x = in;
          sa.S = prog.inputSize;
          sa.s = op.inScale;
          sa.inv = 1.f / op.inScale;
          sa.convH = sa.convW = stemConvSize(prog, op);
          sa.w = static_cast<const float*>(opDev[k].w);
          sa.bias = static_cast<const float*>(opDev[k].bias);
          sa.e = op.epilogue;
          sa.poolFirst = monotone(op.epilogue);
          sa.out = out;
          check(launchKernel(stemKernel, dim3((out.W + kStemPX - 1) / kStemPX, (out.H + kStemPY - 1) / kStemPY, n), 256,
                             st, P, sa));
          break;
        }
        case ProgramOpKind::Pad:
          check(launchKernel(padKernel, gridFor(static_cast<long>(pixels) * op.channels, T), T, st, P, view(op.in), out,
                             n, op.channels, op.pt, op.pl, op.value));
          break;
        case ProgramOpKind::ConvInt8:
        case ProgramOpKind::ConvFloat: {
          const OpDevice& d = opDev[k];
          ConvArgs a{};
          a.in = view(op.in);
          a.out = out;
          a.M = pixels;
          a.O = op.O;
          a.C = op.C;
          a.kh = op.kh;
          a.kw = op.kw;
          a.sh = op.sh;
          a.sw = op.sw;
          a.pt = op.pt;
          a.pl = op.pl;
          a.Kpad = d.Kpad;
          a.e = op.epilogue;
          a.mult = d.mult;
          a.lut = d.lut;
          a.lutAt = d.lutAt;
          if (op.aux.buffer >= 0) a.aux = view(op.aux);
          a.auxAt = op.auxAt;
          a.auxLut = d.auxLut;
          a.sumBlock = d.sumBlock;
          a.sumRestart = d.sumRestart;
          if (op.kind == ProgramOpKind::ConvFloat && d.wt) {
            a.w8 = nullptr;
            a.wt = d.wt;
            a.biasf = static_cast<const float*>(d.bias);
            a.Kpad = d.KpadT;
            const int bn = colsOf(op);
            a.chunksPerSplit = (d.KpadT + 15) / 16;
            const dim3 grid((pixels + kMmaBM - 1) / kMmaBM, (op.O + bn - 1) / bn, 1);
            check(bn == 64 ? launchKernel(convMmaKernel<64, 2, true, 2>, grid, 128, st, P, a)
                           : launchKernel(convMmaKernel<32, 3, true, 2>, grid, 128, st, P, a));
          } else if (op.kind == ProgramOpKind::ConvFloat) {
            a.w8 = nullptr;
            a.bias8 = nullptr;
            a.wf = static_cast<const float*>(d.w);
            a.biasf = static_cast<const float*>(d.bias);
            a.vec =
                op.C % 16 == 0 && a.in.C % 4 == 0 && a.in.off % 4 == 0 && (d.sumBlock % 16 == 0 || op.kh * op.kw == 1);
            a.taps1 = op.kh * op.kw == 1;
            if (op.O <= 32) {
              check(launchKernel(convFloatKernel<128, 32>, dim3((pixels + 127) / 128, 1), 256, st, P, a));
            } else {
              check(launchKernel(convFloatKernel<64, 64>, dim3((pixels + 63) / 64, (op.O + 63) / 64), 256, st, P, a));
            }
          } else {
            a.wf = nullptr;
            a.biasf = nullptr;
            a.w8 = static_cast<const int8_t*>(d.w);
            a.bias8 = static_cast<const int32_t*>(d.bias);
            if (!mma) {
              check(launchKernel(convDp4aKernel, gridFor(static_cast<long>(pixels) * op.O, 128), 128, st, P, a));
            } else {
              const int bn = colsOf(op), bm = rowsOf(op, pixels);
              const unsigned gx = static_cast<unsigned>((pixels + bm - 1) / bm),
                             gy = static_cast<unsigned>((op.O + bn - 1) / bn);
              int splits = 1;
              std::tie(splits, a.chunksPerSplit) = splitOf(op, d, n, pixels);
              if (splits > 1) {
                a.partial = partial;
                check(cudaMemsetAsync(partial, 0, static_cast<size_t>(pixels) * op.O * sizeof(int32_t), st));
              }
              const dim3 grid(gx, gy, splits);
              const bool longK = a.chunksPerSplit > 8;
              auto launch = [&](auto kernel) { check(launchKernel(kernel, grid, 128, st, P, a)); };
              if (bm == 64) {
                if (bn == 32)
                  longK ? launch(convMmaKernel<32, 3, false, 1>) : launch(convMmaKernel<32, 2, false, 1>);
                else
                  longK ? launch(convMmaKernel<64, 3, false, 1>) : launch(convMmaKernel<64, 2, false, 1>);
              } else {
                if (bn == 32)
                  longK ? launch(convMmaKernel<32, 3, false, 2>) : launch(convMmaKernel<32, 2, false, 2>);
                else
                  longK ? launch(convMmaKernel<64, 3, false, 2>) : launch(convMmaKernel<64, 2, false, 2>);
              }
              if (splits > 1)
                check(launchKernel(convEpilogueKernel, gridFor(static_cast<long>(pixels) * op.O, T), T, st, P, a));
            }
          }
          break;
        }
      }
      const cudaError_t last = cudaGetLastError();
      const cudaError_t rc = lrc != cudaSuccess ? lrc : last;
      if (rc != cudaSuccess) {
        err = "INT8 engine: launching op " + std::to_string(k) + " failed: " + cudaErrorText(rc);
        launched = false;
        break;
      }
      if (branches) cudaEventRecord(opEvents[k], st);
      if (after) after(k);
    }
    if (branches) {  // every side stream back into the origin (the capture ends there), failed or not
      for (int s = 1; s <= kSide; ++s) {
        cudaEventRecord(joinEvents[s - 1], side[s - 1]);
        cudaStreamWaitEvent(origin, joinEvents[s - 1], 0);
      }
    }
    return launched;
  }
};

Int8Engine::Int8Engine() : impl_(std::make_unique<Impl>()) {}
Int8Engine::~Int8Engine() = default;

std::unique_ptr<Int8Engine> Int8Engine::open(Int8Program program, int maxBatch, std::string& err) {
  // The settings first: a wrong one is named on any machine, GPU or not.
  // Two-valued settings (unset, empty or the first value: the default; `other`: set to the second).
  struct Choice {
    const char* name;
    const char* values[2];
    const char* use;  // what the error advises
    bool other;
  };
  Choice choices[] = {{"VIGIL_INT8_FLOAT",
                       {"tf32x3", "exact"},
                       "use tf32x3 (FP32 layers no int8 code depends on as 3×TF32 on the tensor cores, the default) or "
                       "exact (every FP32 layer in ONNX Runtime's order)",
                       false},
                      {"VIGIL_INT8_KERNEL",
                       {"mma", "dp4a"},
                       "use mma (tensor cores where the GPU has them, the default) or dp4a",
                       false},
                      {"VIGIL_INT8_PRIORITY",
                       {"1", "0"},
                       "use 1 (the longer remaining path first in the graphs, the default) or 0 (no priorities)",
                       false},
                      {"VIGIL_INT8_BRANCHES",
                       {"1", "0"},
                       "use 1 (independent ops side by side in the graphs, the default) or 0 (one stream)",
                       false}};
  for (Choice& c : choices) {
    const char* v = std::getenv(c.name);
    if (!v || !*v || std::strcmp(v, c.values[0]) == 0) continue;
    if (std::strcmp(v, c.values[1]) != 0) {
      err = std::string(c.name) + " is '" + v + "': " + c.use;
      return nullptr;
    }
    c.other = true;
  }
  const bool exactFloat = choices[0].other, dp4a = choices[1].other, noPriorities = choices[2].other,
             oneStream = choices[3].other;
  // Whole-number settings (unset or empty: the default).
  struct Count {
    const char* name;
    int value;  // the default, then the setting
    int least;
    const char* means;
  };
  Count counts[] = {
      {"VIGIL_INT8_MIN_SPLIT", 1, 1, "at least this many K splits a convolution (1 or more)"},
      {"VIGIL_INT8_SPLIT_BLOCKS", 0, 0, "the blocks an SM split-K aims for (0: 2 under batch 4, 1 from 4)"},
      {"VIGIL_INT8_SMALL_TILES", 2, 0, "64-row INT8 tiles below this many 128-row blocks an SM (0: never)"}};
  for (Count& c : counts) {
    const char* v = std::getenv(c.name);
    if (!v || !*v) continue;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (*end || x < c.least || x > 1000000) {
      err = std::string(c.name) + " is '" + v + "': use a whole number, " + c.means;
      return nullptr;
    }
    c.value = static_cast<int>(x);
  }
  usePrimaryContextFlags();
  std::unique_ptr<Int8Engine> self(new Int8Engine());
  Impl& m = *self->impl_;
  m.prog = std::move(program);
  m.maxBatch = maxBatch;
  const Int8Program& p = m.prog;
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    cudaGetLastError();
    err = "no CUDA device for the INT8 engine";
    return nullptr;
  }
  const int cc = prop.major * 10 + prop.minor;
  m.sms = prop.multiProcessorCount;
  if (cc < 61) {
    err = "the INT8 engine needs a GPU with dp4a (sm_61 or newer); this one is sm_" + std::to_string(cc);
    return nullptr;
  }
  // Tensor cores where the GPU has mma.sync int8 and this build carries code for it.
  cudaFuncAttributes attr{};
  const bool mmaCode =
      cudaFuncGetAttributes(&attr, convMmaKernel<64, 3, false, 2>) == cudaSuccess && attr.binaryVersion >= 80;
  cudaGetLastError();
  m.mma = cc >= 80 && mmaCode && !dp4a;
  m.tf32 = m.mma && !exactFloat;
  m.key =
      std::string("vigil-int8 ") + (m.mma ? "mma" : "dp4a") + (m.tf32 ? " tf32x3" : "") + " sm_" + std::to_string(cc);
  m.minSplit = counts[0].value;
  m.splitBlocks = counts[1].value;
  m.smallBelow = counts[2].value;

  // Check the program before allocating anything.
  auto bad = [&](size_t k, const std::string& why) {
    err = "INT8 program op " + std::to_string(k) + ": " + why;
    return nullptr;
  };
  const int nb = static_cast<int>(p.buffers.size());
  for (size_t k = 0; k < p.ops.size(); ++k) {
    const ProgramOp& op = p.ops[k];
    const bool needsIn = op.kind != ProgramOpKind::QuantizeInput && op.kind != ProgramOpKind::Stem;
    if (op.out.buffer < 0 || op.out.buffer >= nb || (needsIn && (op.in.buffer < 0 || op.in.buffer >= nb)) ||
        (op.kind == ProgramOpKind::Add && (op.in2.buffer < 0 || op.in2.buffer >= nb))) {
      return bad(k, "a buffer index is out of range");
    }
    if (op.kind == ProgramOpKind::ConvInt8) {
      const ProgramBuffer& in = p.buffers[op.in.buffer];
      if (!in.int8 || in.C % 16 != 0 || op.in.offset != 0)
        return bad(k, "an INT8 convolution reads a whole int8 buffer of 16·k channels");
      if (op.kh * op.kw > 32)
        return bad(
            k, "an INT8 convolution has at most 32 taps (" + std::to_string(op.kh) + "×" + std::to_string(op.kw) + ")");
      if (op.w8.size() != static_cast<size_t>(op.O) * op.C * op.kh * op.kw ||
          op.mult.size() != static_cast<size_t>(op.O) ||
          (!op.bias8.empty() && op.bias8.size() != static_cast<size_t>(op.O)) || op.C > in.C) {
        return bad(k, "weights, bias or multipliers do not match the shape");
      }
    }
    if (op.kind == ProgramOpKind::ConvFloat && (op.wf.size() != static_cast<size_t>(op.O) * op.C * op.kh * op.kw ||
                                                (!op.biasf.empty() && op.biasf.size() != static_cast<size_t>(op.O)))) {
      return bad(k, "weights or bias do not match the shape");
    }
    const bool conv = op.kind == ProgramOpKind::ConvInt8 || op.kind == ProgramOpKind::ConvFloat;
    if (op.epilogue.int8Out != p.buffers[op.out.buffer].int8 && (conv || op.kind == ProgramOpKind::Stem)) {
      return bad(k, "the epilogue's output type is not its buffer's");
    }
    if (op.aux.buffer >= 0) {
      if (!conv || op.aux.buffer >= nb || !p.buffers[op.aux.buffer].int8 || op.auxAt > op.epilogue.n ||
          op.aux.offset + op.O > p.buffers[op.aux.buffer].C) {
        return bad(
            k, "an aux output needs a convolution, an int8 buffer with room for its channels and an epilogue point");
      }
    }
    if (op.kind == ProgramOpKind::Stem) {
      const ProgramBuffer& out = p.buffers[op.out.buffer];
      const int convS = stemConvSize(p, op);
      if (op.C != kStemC || op.O != kStemO || op.kh != 3 || op.kw != 3 || op.sh != 2 || op.sw != 2 || op.pt != 1 ||
          op.pl != 1 || op.pkh != 3 || op.pkw != 3 || op.psh != 2 || op.psw != 2 || op.ppt != 1 || op.ppl != 1 ||
          !(op.inScale > 0) || out.H != (convS + 2 - 3) / 2 + 1 || out.W != out.H || op.out.offset + op.O > out.C ||
          op.wf.size() != static_cast<size_t>(op.O) * op.C * 9 ||
          (!op.biasf.empty() && op.biasf.size() != static_cast<size_t>(op.O))) {
        return bad(k,
                   "the stem kernel runs a 3×3 stride-2 convolution of 3 → 32 channels (pads 1) and a 3×3 stride-2 "
                   "max-pool (pads 1) into a float buffer");
      }
      for (int i = 0; i < op.epilogue.n; ++i)
        if (op.epilogue.op[i] == EpilogueOp::Requantize || op.epilogue.op[i] == EpilogueOp::Sigmoid)
          return bad(k, "the stem's epilogue is ReLU or LeakyReLU");
    }
  }
  for (const ProgramBuffer& b : p.buffers) {
    if (static_cast<long>(maxBatch) * b.H * b.W * b.C >= (1L << 31)) {
      err =
          "INT8 program buffer " + b.name + " is too large for batch " + std::to_string(maxBatch) + " (32-bit indices)";
      return nullptr;
    }
  }
  for (const ProgramOutput& o : p.outputs) {
    if (o.buffer < 0 || o.buffer >= nb || p.buffers[o.buffer].int8) {
      err = "INT8 program output " + o.name + " is not a float buffer";
      return nullptr;
    }
  }

  auto fail = [&](cudaError_t rc, const std::string& what) {
    err = "INT8 engine: " + what + ": " + cudaErrorText(rc);
    return nullptr;
  };
  cudaError_t rc;
  const size_t inFloats = static_cast<size_t>(maxBatch) * 3 * p.inputSize * p.inputSize;
  if ((rc = CUDA(cudaMalloc(reinterpret_cast<void**>(&m.input), inFloats * sizeof(float)))) != cudaSuccess)
    return fail(rc, "input buffer");
  for (const ProgramBuffer& b : p.buffers) {
    void* d = nullptr;
    const size_t bytes = m.bytesPerImage(b) * maxBatch;
    if ((rc = CUDA(cudaMalloc(&d, bytes))) != cudaSuccess)
      return fail(rc, "buffer " + b.name + " (" + std::to_string(bytes >> 20) + " MiB)");
    m.buffers.push_back(d);
    // Padding channels stay zero (their weights are zero too).
    if ((rc = CUDA(cudaMemset(d, 0, bytes))) != cudaSuccess) return fail(rc, "clearing buffer " + b.name);
  }
  for (ProgramOp& op : m.prog.ops) {
    for (int k = 0; k < op.epilogue.n; ++k)
      op.epilogue.inv[k] = op.epilogue.op[k] == EpilogueOp::Requantize ? 1.f / op.epilogue.arg[k] : 0.f;
  }
  // Weights: int8 packed [O, Kpad] with k = tap·Cs + c (zeros for padded channels and the K tail);
  // float transposed to [K, O] in the order the float sum runs (floatSumOf).
  m.opDev.resize(p.ops.size());
  for (size_t k = 0; k < p.ops.size(); ++k) {
    const ProgramOp& op = p.ops[k];
    Impl::OpDevice& d = m.opDev[k];
    auto upload = [&](void** dst, const void* src, size_t bytes) {
      if (bytes == 0) return cudaSuccess;
      cudaError_t r = CUDA(cudaMalloc(dst, bytes));
      return r == cudaSuccess ? CUDA(cudaMemcpy(*dst, src, bytes, cudaMemcpyHostToDevice)) : r;
    };
    if (op.kind == ProgramOpKind::ConvInt8) {
      const int Cs = p.buffers[op.in.buffer].C;
      const int taps = op.kh * op.kw;
      d.Kpad = (taps * Cs + 31) / 32 * 32;
      std::vector<int8_t> packed(static_cast<size_t>(op.O) * d.Kpad, 0);
      for (int o = 0; o < op.O; ++o)
        for (int c = 0; c < op.C; ++c)
          for (int t = 0; t < taps; ++t)
            packed[static_cast<size_t>(o) * d.Kpad + t * Cs + c] =
                op.w8[(static_cast<size_t>(o) * op.C + c) * taps + t];
      if ((rc = upload(&d.w, packed.data(), packed.size())) != cudaSuccess ||
          (rc = upload(&d.bias, op.bias8.data(), op.bias8.size() * 4)) != cudaSuccess ||
          (rc = upload(reinterpret_cast<void**>(&d.mult), op.mult.data(), op.mult.size() * 4)) != cudaSuccess) {
        return fail(rc, "uploading weights");
      }
    } else if (op.kind == ProgramOpKind::ConvFloat || op.kind == ProgramOpKind::Stem) {
      const int taps = op.kh * op.kw;
      // The stem reads the quantized input: one channel a block, its taps (27 terms, one chain).
      std::tie(d.sumBlock, d.sumRestart) =
          floatSumOf(op, op.kind == ProgramOpKind::Stem || p.buffers[op.in.buffer].int8);
      std::vector<float> t(op.wf.size());
      size_t row = 0;  // K index in the sum's order
      for (int c0 = 0; c0 < op.C; c0 += d.sumBlock)
        for (int j = 0; j < taps; ++j)
          for (int c = c0; c < std::min(c0 + d.sumBlock, op.C); ++c, ++row)
            for (int o = 0; o < op.O; ++o) t[row * op.O + o] = op.wf[(static_cast<size_t>(o) * op.C + c) * taps + j];
      if ((rc = upload(&d.w, t.data(), t.size() * 4)) != cudaSuccess ||
          (rc = upload(&d.bias, op.biasf.data(), op.biasf.size() * 4)) != cudaSuccess) {
        return fail(rc, "uploading weights");
      }
      // 3×TF32 on the tensor cores: a float input whose 16-byte runs of 4 channels stay aligned,
      // under 2^29 floats, and a result no int8 code depends on (floatOnlyDownstream).
      const ProgramBuffer* in =
          op.kind == ProgramOpKind::ConvFloat ? &p.buffers[op.in.buffer] : nullptr;  // the stem has no input buffer
      const bool small = in && static_cast<long>(maxBatch) * in->H * in->W * in->C <
                                   (1L << 29);  // the kernel's byte offsets stay in 32 bits
      if (m.tf32 && in && !in->int8 && small && op.C % 4 == 0 && in->C % 4 == 0 && op.in.offset % 4 == 0 &&
          taps <= 32 && floatOnlyDownstream(p, k)) {
        d.KpadT = (taps * op.C + 15) / 16 * 16;
        std::vector<float> split(2 * static_cast<size_t>(op.O) * d.KpadT, 0.f);
        for (int o = 0; o < op.O; ++o)
          for (int c = 0; c < op.C; ++c)
            for (int j = 0; j < taps; ++j) {
              const float w = op.wf[(static_cast<size_t>(o) * op.C + c) * taps + j];
              const float hi = tf32Part(w);
              split[static_cast<size_t>(o) * d.KpadT + j * op.C + c] = hi;
              split[(static_cast<size_t>(op.O) + o) * d.KpadT + j * op.C + c] = tf32Part(w - hi);
            }
        if ((rc = upload(reinterpret_cast<void**>(&d.wt), split.data(), split.size() * 4)) != cudaSuccess)
          return fail(rc, "uploading weights");
      }
    }
  }
  // Epilogue tables: what follows a convolution's first requantize is a function of its int8
  // code, computed here once per code with the same float32 operations the kernels use.
  for (size_t k = 0; k < p.ops.size(); ++k) {
    const ProgramOp& op = p.ops[k];
    if (op.kind != ProgramOpKind::ConvInt8 && op.kind != ProgramOpKind::ConvFloat) continue;
    const Int8ConvEpilogue& e = op.epilogue;
    int at = -1;
    for (int i = 0; i < e.n && at < 0; ++i)
      if (e.op[i] == EpilogueOp::Requantize) at = i;
    bool tabulable = at >= 0 && at < e.n - 1;
    for (int i = at + 1; i < e.n && tabulable; ++i)
      tabulable = e.op[i] != EpilogueOp::Sigmoid;  // expf differs host/device
    const bool aux = op.aux.buffer >= 0;
    if (aux && op.auxAt <= at) tabulable = false;  // the aux value comes before the code the table is indexed by
    if (!tabulable) continue;
    const float auxScale = aux ? p.buffers[op.aux.buffer].scale : 1.f;
    auto quantize = [](float y, float s) {
      return static_cast<int>(std::fmin(127.f, std::fmax(-128.f, std::nearbyint(y / s))));
    };
    float table[256], auxTable[256];
    for (int q = -128; q < 128; ++q) {
      float y = static_cast<float>(q) * e.arg[at];
      int code = q;
      for (int i = at + 1; i <= e.n; ++i) {
        if (aux && i == op.auxAt) auxTable[q + 128] = static_cast<float>(quantize(y, auxScale));
        if (i == e.n) break;
        switch (e.op[i]) {
          case EpilogueOp::Requantize:
            code = quantize(y, e.arg[i]);
            y = static_cast<float>(code) * e.arg[i];
            break;
          case EpilogueOp::LeakyRelu:
            y = y < 0.f ? y * e.arg[i] : y;
            break;
          case EpilogueOp::Relu:
            y = std::fmax(0.f, y);
            break;
          case EpilogueOp::Sigmoid:
            break;
        }
      }
      table[q + 128] = e.int8Out ? static_cast<float>(code) : y;
    }
    Impl::OpDevice& d = m.opDev[k];
    if ((rc = CUDA(cudaMalloc(reinterpret_cast<void**>(&d.lut), sizeof table))) != cudaSuccess ||
        (rc = CUDA(cudaMemcpy(d.lut, table, sizeof table, cudaMemcpyHostToDevice))) != cudaSuccess ||
        (aux &&
         ((rc = CUDA(cudaMalloc(reinterpret_cast<void**>(&d.auxLut), sizeof auxTable))) != cudaSuccess ||
          (rc = CUDA(cudaMemcpy(d.auxLut, auxTable, sizeof auxTable, cudaMemcpyHostToDevice))) != cudaSuccess))) {
      return fail(rc, "epilogue table");
    }
    d.lutAt = at;
  }
  // Split-K sums: room for the largest INT8 convolution output at maxBatch.
  size_t most = 0;
  for (const ProgramOp& op : p.ops) {
    if (op.kind == ProgramOpKind::ConvInt8)
      most = std::max(most, static_cast<size_t>(p.buffers[op.out.buffer].H) * p.buffers[op.out.buffer].W * op.O);
  }
  m.partialCount = most * maxBatch;
  if (m.mma && m.partialCount &&
      (rc = CUDA(cudaMalloc(reinterpret_cast<void**>(&m.partial), m.partialCount * sizeof(int32_t)))) != cudaSuccess) {
    return fail(rc, "split-K workspace");
  }
  if (!m.mma) m.partialCount = 0;
  m.branches = !oneStream;
  m.priorities = !noPriorities;
  if (cudaDeviceGetStreamPriorityRange(&m.leastPriority, &m.greatestPriority) != cudaSuccess) {
    cudaGetLastError();
    m.priorities = false;
  }
  if (m.branches) {
    m.opEvents.assign(p.ops.size(), nullptr);
    for (cudaEvent_t& e : m.opEvents)
      if ((rc = CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming))) != cudaSuccess)
        return fail(rc, "branch events");
    if ((rc = CUDA(cudaEventCreateWithFlags(&m.forkEvent, cudaEventDisableTiming))) != cudaSuccess)
      return fail(rc, "branch events");
    for (int s = 0; s < Impl::kSide; ++s) {
      if ((rc = CUDA(cudaEventCreateWithFlags(&m.joinEvents[s], cudaEventDisableTiming))) != cudaSuccess ||
          (rc = CUDA(cudaStreamCreateWithFlags(&m.side[s], cudaStreamNonBlocking))) != cudaSuccess) {
        return fail(rc, "branch streams");
      }
    }
  }
  for (const ProgramOutput& o : p.outputs) {
    m.outputNames.push_back(o.name);
    m.outputPtrs.push_back(static_cast<float*>(m.buffers[o.buffer]));
  }
  return self;
}

float* Int8Engine::input() const { return impl_->input; }
const std::vector<float*>& Int8Engine::outputs() const { return impl_->outputPtrs; }
const std::vector<std::string>& Int8Engine::outputNames() const { return impl_->outputNames; }
int Int8Engine::maxBatch() const { return impl_->maxBatch; }
const std::string& Int8Engine::cacheKey() const { return impl_->key; }
void Int8Engine::useGraphs(bool graphs) { impl_->graphs = graphs; }
const Int8Program& Int8Engine::program() const { return impl_->prog; }

bool Int8Engine::enqueue(int batch, void* stream, std::string& err, const float* input) {
  Impl& m = *impl_;
  if (batch < 1 || batch > m.maxBatch) {
    err = "Expected a batch of 1.." + std::to_string(m.maxBatch) + " frames but received " + std::to_string(batch);
    return false;
  }
  const float* in = input ? input : m.input;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  if (!m.graphs) return m.launchAll(batch, in, st, err);
  // One CUDA graph per batch size (and input buffer), captured the first time it runs.
  auto it = m.graphExecs.find({batch, in});
  if (it == m.graphExecs.end()) {
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    cudaError_t rc = CUDA(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
    if (rc != cudaSuccess) {
      err = "INT8 engine: cannot capture a CUDA graph: " + cudaErrorText(rc);
      return false;
    }
    const bool launched = m.launchAll(batch, in, st, err, nullptr, m.branches);
    rc = CUDA(cudaStreamEndCapture(st, &graph));
    if (!launched) {
      if (graph) cudaGraphDestroy(graph);
      return false;
    }
    // The kernels' own priorities (launchAll's) only with UseNodePriority: without it every node
    // runs at the launch stream's priority.
    const bool withPriorities = m.branches && m.priorities;
    if (rc == cudaSuccess)
      rc = CUDA(
          cudaGraphInstantiateWithFlags(&exec, graph, withPriorities ? cudaGraphInstantiateFlagUseNodePriority : 0));
    if (graph) cudaGraphDestroy(graph);
    if (rc != cudaSuccess) {
      err = "INT8 engine: cannot build the CUDA graph for batch " + std::to_string(batch) + ": " + cudaErrorText(rc);
      return false;
    }
    it = m.graphExecs.emplace(std::make_pair(batch, in), exec).first;
  }
  const cudaError_t rc = CUDA(cudaGraphLaunch(it->second, st));
  if (rc != cudaSuccess) {
    err = "INT8 engine: graph launch failed: " + cudaErrorText(rc);
    return false;
  }
  return true;
}

bool Int8Engine::profile(int batch, void* stream, std::vector<float>& msPerOp, std::string& err) {
  Impl& m = *impl_;
  if (batch < 1 || batch > m.maxBatch) {
    err = "Expected a batch of 1.." + std::to_string(m.maxBatch) + " frames but received " + std::to_string(batch);
    return false;
  }
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  std::vector<cudaEvent_t> ev(m.prog.ops.size() + 1);
  for (cudaEvent_t& e : ev) cudaEventCreate(&e);
  cudaEventRecord(ev[0], st);
  const bool ok = m.launchAll(batch, m.input, st, err, [&](size_t k) { cudaEventRecord(ev[k + 1], st); });
  if (ok && CUDA(cudaStreamSynchronize(st)) == cudaSuccess) {
    msPerOp.assign(m.prog.ops.size(), 0.f);
    for (size_t k = 0; k < m.prog.ops.size(); ++k) cudaEventElapsedTime(&msPerOp[k], ev[k], ev[k + 1]);
  } else if (ok) {
    err = "INT8 engine: profiling run failed";
  }
  for (cudaEvent_t& e : ev) cudaEventDestroy(e);
  return ok && err.empty();
}

bool Int8Engine::readBuffer(const std::string& name, int image, std::vector<uint8_t>& bytes, std::string& err) {
  Impl& m = *impl_;
  for (size_t i = 0; i < m.prog.buffers.size(); ++i) {
    if (m.prog.buffers[i].name != name) continue;
    if (image < 0 || image >= m.maxBatch) {
      err = "image " + std::to_string(image) + " is outside the batch";
      return false;
    }
    const size_t per = m.bytesPerImage(m.prog.buffers[i]);
    bytes.resize(per);
    const cudaError_t rc =
        CUDA(cudaMemcpy(bytes.data(), static_cast<uint8_t*>(m.buffers[i]) + per * image, per, cudaMemcpyDeviceToHost));
    if (rc != cudaSuccess) err = "reading buffer " + name + ": " + cudaErrorText(rc);
    return rc == cudaSuccess;
  }
  err = "the INT8 program has no buffer " + name;
  return false;
}

}  // namespace vigil
