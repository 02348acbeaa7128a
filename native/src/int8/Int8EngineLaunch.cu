// One run of the INT8 engine: each op's kernels, on one stream or on the branch streams of a
// graph's capture.
#include <algorithm>
#include <iterator>
#include <tuple>

#include "cuda/CudaCheck.h"
#include "int8/ConvDp4a.h"
#include "int8/ConvFloat.h"
#include "int8/ConvMma.h"
#include "int8/ElementwiseKernels.h"
#include "int8/Int8EngineImpl.h"
#include "int8/Stem.h"

namespace vigil {

using namespace int8k;

Tensor Int8Engine::Impl::view(const BufferView& v) const {
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

cudaError_t Int8Engine::Impl::launchOp(size_t k, int n, const float* in, cudaStream_t st, int P) {
  const ProgramOp& op = prog.ops[k];
  const Tensor out = view(op.out);
  const int pixels = n * out.H * out.W;
  switch (op.kind) {
    case ProgramOpKind::QuantizeInput:
      return cudaQuantizeInput(in, out, n, op.channels, prog.inputSize, op.space, st, P);
    case ProgramOpKind::Unary:
      return cudaUnary(view(op.in), out, pixels, op.channels, op.act, op.alpha, st, P);
    case ProgramOpKind::Add:
      return cudaAdd(view(op.in), view(op.in2), out, pixels, op.channels, st, P);
    case ProgramOpKind::MaxPool:
      return cudaMaxPool(view(op.in), out, n, op.channels, op.kh, op.kw, op.sh, op.sw, op.pt, op.pl, st, P);
    case ProgramOpKind::Resize:
      return cudaResize(view(op.in), out, n, op.channels, op.scaleY, op.scaleX, st, P);
    case ProgramOpKind::Pad:
      return cudaPad(view(op.in), out, n, op.channels, op.pt, op.pl, op.value, st, P);
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
      return cudaStem(sa, n, st, P);
    }
    case ProgramOpKind::ConvInt8:
    case ProgramOpKind::ConvFloat:
      break;
  }
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
    a.chunksPerSplit = (d.KpadT + 15) / 16;
    return cudaConvMmaTf32(a, colsOf(op), st, P);
  }
  if (op.kind == ProgramOpKind::ConvFloat) {
    a.w8 = nullptr;
    a.bias8 = nullptr;
    a.wf = static_cast<const float*>(d.w);
    a.biasf = static_cast<const float*>(d.bias);
    a.vec = op.C % 16 == 0 && a.in.C % 4 == 0 && a.in.off % 4 == 0 && (d.sumBlock % 16 == 0 || op.kh * op.kw == 1);
    a.taps1 = op.kh * op.kw == 1;
    return cudaConvFloat(a, st, P);
  }
  a.wf = nullptr;
  a.biasf = nullptr;
  a.w8 = static_cast<const int8_t*>(d.w);
  a.bias8 = static_cast<const int32_t*>(d.bias);
  if (!mma) return cudaConvDp4a(a, st, P);
  int splits = 1;
  std::tie(splits, a.chunksPerSplit) = splitOf(op, d, n, pixels);
  if (splits > 1) a.partial = partial;
  return cudaConvMmaInt8(a, rowsOf(op, pixels), colsOf(op), splits, st, P);
}

bool Int8Engine::Impl::launchAll(int n, const float* in, cudaStream_t origin, std::string& err,
                                 const std::function<void(size_t)>& after, bool branches) {
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
    const cudaError_t lrc = launchOp(k, n, in, st, P);  // the first failed launch of this op
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

}  // namespace vigil
