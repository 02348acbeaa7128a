#pragma once
// What the INT8 engine's host code hands its kernels (namespace int8k: the engine's kernels and
// their arguments): a view of an activation buffer, a convolution's arguments, and the launch
// helper every kernel family's cudaX() uses. Every pointer here is device memory the engine owns
// (Int8EngineImpl.h); the kernels only read and write through it.
#include <cuda_runtime.h>

#include <cstdint>

#include "int8/Int8Program.h"

namespace vigil {
namespace int8k {

// An activation buffer's view (32-bit indices: the engine checks the sizes at open).
struct Tensor {
  void* p = nullptr;
  bool int8 = false;
  float scale = 0, inv = 0;  // int8: value = q·scale; inv = 1/scale
  int H = 0, W = 0, C = 0;   // stored channels
  int off = 0;               // the view's first channel
};

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

// Tensor-core tiles: 128 rows (output pixels) a block at most, 64 bytes of K a stage.
constexpr int kMmaBM = 128, kMmaBK = 64;

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

// Blocks of `threads` for `total` grid-stride items (1 to 2^30).
inline unsigned gridFor(long total, int threads) {
  const long blocks = (total + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks > (1L << 30) ? (1L << 30) : blocks);
}

}  // namespace int8k
}  // namespace vigil
