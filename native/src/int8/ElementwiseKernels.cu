#include "int8/ElementwiseKernels.h"

#include <initializer_list>

#include "int8/Arith.cuh"

namespace vigil {
namespace int8k {

namespace {

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

constexpr int kThreads = 256;

// Four channels a thread where every channel count, offset and stride is a multiple of 4.
bool vec4(int channels, std::initializer_list<Tensor> ts) {
  if (channels % 4) return false;
  for (const Tensor& t : ts)
    if (t.C % 4 || t.off % 4) return false;
  return true;
}

// Blocks for `items` output elements, or groups of four channels where `vec`.
unsigned gridOf(int pixels, int channels, bool vec) {
  return gridFor(static_cast<long>(pixels) * channels / (vec ? 4 : 1), kThreads);
}

}  // namespace

cudaError_t cudaQuantizeInput(const float* x, const Tensor& out, int n, int C, int S, int space, cudaStream_t st,
                              int priority) {
  const int pixels = n * out.H * out.W;
  return launchKernel(quantizeInputKernel, gridFor(pixels, kThreads), kThreads, st, priority, x,
                      static_cast<int8_t*>(out.p), n, C, S, out.C, out.scale, out.inv, space);
}

cudaError_t cudaUnary(const Tensor& in, const Tensor& out, int pixels, int channels, UnaryAct act, float alpha,
                      cudaStream_t st, int priority) {
  const bool v = vec4(channels, {in, out});
  return launchKernel(unaryKernel, gridOf(pixels, channels, v), kThreads, st, priority, in, out, pixels, channels, act,
                      alpha, v);
}

cudaError_t cudaAdd(const Tensor& a, const Tensor& b, const Tensor& out, int pixels, int channels, cudaStream_t st,
                    int priority) {
  const bool v = vec4(channels, {a, b, out});
  return launchKernel(addKernel, gridOf(pixels, channels, v), kThreads, st, priority, a, b, out, pixels, channels, v);
}

cudaError_t cudaMaxPool(const Tensor& in, const Tensor& out, int n, int channels, int kh, int kw, int sh, int sw,
                        int pt, int pl, cudaStream_t st, int priority) {
  const bool v = vec4(channels, {in, out});
  return launchKernel(maxPoolKernel, gridOf(n * out.H * out.W, channels, v), kThreads, st, priority, in, out, n,
                      channels, kh, kw, sh, sw, pt, pl, v);
}

cudaError_t cudaResize(const Tensor& in, const Tensor& out, int n, int channels, float scaleY, float scaleX,
                       cudaStream_t st, int priority) {
  const bool v = vec4(channels, {in, out});
  return launchKernel(resizeKernel, gridOf(n * out.H * out.W, channels, v), kThreads, st, priority, in, out, n,
                      channels, scaleY, scaleX, v);
}

cudaError_t cudaPad(const Tensor& in, const Tensor& out, int n, int channels, int pt, int pl, float value,
                    cudaStream_t st, int priority) {
  return launchKernel(padKernel, gridOf(n * out.H * out.W, channels, false), kThreads, st, priority, in, out, n,
                      channels, pt, pl, value);
}

}  // namespace int8k
}  // namespace vigil
