// How the INT8 engine lays a run on the GPU: tile sizes and K splits per convolution, which op
// waits for which in the graphs' branches, and the branches' stream priorities.
#include <algorithm>
#include <cmath>

#include "int8/Int8EngineImpl.h"

namespace vigil {

using int8k::kMmaBK;
using int8k::kMmaBM;

// A convolution's output channels a block on the tensor cores.
int Int8Engine::Impl::colsOf(const ProgramOp& op) { return op.O <= 32 ? 32 : 64; }

// An INT8 convolution's rows (output pixels) a block on the tensor cores: 64 where 128-row
// tiles would be fewer than smallBelow blocks an SM (small batches, late layers: each warp then
// runs half the instructions, and twice the warps hide each other's latency), else 128.
int Int8Engine::Impl::rowsOf(const ProgramOp& op, int pixels) const {
  const int bn = colsOf(op);
  const long tiles = static_cast<long>((pixels + kMmaBM - 1) / kMmaBM) * ((op.O + bn - 1) / bn);
  return tiles < static_cast<long>(smallBelow) * sms ? 64 : 128;
}

// An INT8 convolution's K splits on the tensor cores at batch n, and its stages a split. Too few
// tiles to fill the GPU (small batches, late layers): split K, at least two stages a split (one
// where K is two or three stages: unsplit, such a layer runs on a few SMs while the rest idle),
// for about splitBlocks blocks an SM.
std::pair<int, int> Int8Engine::Impl::splitOf(const ProgramOp& op, const OpDevice& d, int n, int pixels) const {
  const int bn = colsOf(op), bm = rowsOf(op, pixels);
  const long tiles = static_cast<long>((pixels + bm - 1) / bm) * ((op.O + bn - 1) / bn);
  const int chunks = (d.Kpad + kMmaBK - 1) / kMmaBK;
  const int most = chunks < 4 ? chunks : chunks / 2;
  const long want = static_cast<long>(splitBlocks ? splitBlocks : n < 4 ? 2 : 1) * sms;
  int splits = tiles >= want ? 1 : static_cast<int>(std::min<long>(most, (want + tiles - 1) / tiles));
  splits = std::max(splits, std::min(minSplit, chunks));  // Int8EngineOptions::minSplit (benches)
  if (splits < 1 || static_cast<size_t>(pixels) * op.O > partialCount) splits = 1;
  const int per = (chunks + splits - 1) / splits;
  return {(chunks + per - 1) / per, per};
}

// Branches (a CUDA graph's capture, unless Int8EngineOptions::branches is off): each op on one of the origin
// stream and kSide side streams, after the ops it depends on (dependencies), so that independent
// ops (the heads, the lateral convolutions, a block's branches) run side by side where their
// grids leave the GPU room. An op goes on the stream whose last op it depends on, else on the
// least recently used.
//
// What each op waits for at batch n: the last writer of each buffer it reads; the last writer
// and the readers since of each it writes; the last split-K convolution if it splits K too (they
// share the workspace).
std::vector<std::vector<int>> Int8Engine::Impl::dependencies(int n) const {
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

// An op's time at batch n, roughly (µs, for priorities only: only the ratios matter): a kernel's
// fixed cost, then its work at a rate per kind (multiply-adds a µs for convolutions, INT8 ten
// times the float ones; bytes a µs for element-wise ops).
double Int8Engine::Impl::costOf(size_t k, int n) const {
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

// Stream priorities for the branch graphs (unless Int8EngineOptions::priorities is off): each op's
// longest path to the end in costOf, spread over the device's priority levels, so that where ops
// compete for the GPU the blocks of the longer remaining chain go first (the stride-8 head, two
// long layers after the neck, would otherwise end last).
std::vector<int> Int8Engine::Impl::prioritiesOf(int n, const std::vector<std::vector<int>>& deps) const {
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

}  // namespace vigil
