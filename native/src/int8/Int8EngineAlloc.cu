// The INT8 engine's device memory, made once at open for the largest batch: the input, every
// activation buffer, each op's constants in the layouts its kernels read, the epilogue tables,
// the split-K workspace, and the branch streams and events. All owned by Impl (its destructor).
#include <algorithm>
#include <tuple>

#include "cuda/CudaCheck.h"
#include "int8/Int8EngineImpl.h"
#include "int8/Int8Weights.h"

namespace vigil {

using int8k::EpilogueTables;

namespace {

// Where the engine's allocations fail: the message open() rejects with.
bool failed(std::string& err, cudaError_t rc, const std::string& what) {
  err = "INT8 engine: " + what + ": " + cudaErrorText(rc);
  return false;
}

// `bytes` of host memory at `src` copied into a new allocation at *dst (none for 0 bytes).
cudaError_t upload(void** dst, const void* src, size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  cudaError_t r = CUDA(cudaMalloc(dst, bytes));
  return r == cudaSuccess ? CUDA(cudaMemcpy(*dst, src, bytes, cudaMemcpyHostToDevice)) : r;
}

}  // namespace

Int8Engine::Impl::~Impl() {
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

bool Int8Engine::Impl::allocate(std::string& err) {
  const Int8Program& p = prog;
  cudaError_t rc;
  const size_t inFloats = static_cast<size_t>(maxBatch) * 3 * p.inputSize * p.inputSize;
  if ((rc = CUDA(cudaMalloc(reinterpret_cast<void**>(&input), inFloats * sizeof(float)))) != cudaSuccess)
    return failed(err, rc, "input buffer");
  for (const ProgramBuffer& b : p.buffers) {
    void* d = nullptr;
    const size_t bytes = bytesPerImage(b) * maxBatch;
    if ((rc = CUDA(cudaMalloc(&d, bytes))) != cudaSuccess)
      return failed(err, rc, "buffer " + b.name + " (" + std::to_string(bytes >> 20) + " MiB)");
    buffers.push_back(d);
    // Padding channels stay zero (their weights are zero too).
    if ((rc = CUDA(cudaMemset(d, 0, bytes))) != cudaSuccess) return failed(err, rc, "clearing buffer " + b.name);
  }
  for (ProgramOp& op : prog.ops) {
    for (int k = 0; k < op.epilogue.n; ++k)
      op.epilogue.inv[k] = op.epilogue.op[k] == EpilogueOp::Requantize ? 1.f / op.epilogue.arg[k] : 0.f;
  }
  if (!uploadWeights(err) || !uploadTables(err)) return false;
  // Split-K sums: room for the largest INT8 convolution output at maxBatch.
  size_t most = 0;
  for (const ProgramOp& op : p.ops) {
    if (op.kind == ProgramOpKind::ConvInt8)
      most = std::max(most, static_cast<size_t>(p.buffers[op.out.buffer].H) * p.buffers[op.out.buffer].W * op.O);
  }
  partialCount = most * maxBatch;
  if (mma && partialCount &&
      (rc = CUDA(cudaMalloc(reinterpret_cast<void**>(&partial), partialCount * sizeof(int32_t)))) != cudaSuccess) {
    return failed(err, rc, "split-K workspace");
  }
  if (!mma) partialCount = 0;
  return true;
}

// Weights: int8 packed [O, Kpad] with k = tap·Cs + c (zeros for padded channels and the K tail);
// float transposed to [K, O] in the order the float sum runs (floatSumOf).
bool Int8Engine::Impl::uploadWeights(std::string& err) {
  const Int8Program& p = prog;
  cudaError_t rc;
  opDev.resize(p.ops.size());
  for (size_t k = 0; k < p.ops.size(); ++k) {
    const ProgramOp& op = p.ops[k];
    OpDevice& d = opDev[k];
    if (op.kind == ProgramOpKind::ConvInt8) {
      const int Cs = p.buffers[op.in.buffer].C;
      const int taps = op.kh * op.kw;
      d.Kpad = (taps * Cs + 31) / 32 * 32;
      const std::vector<int8_t> packed = int8k::packInt8Weights(op, Cs, d.Kpad);
      if ((rc = upload(&d.w, packed.data(), packed.size())) != cudaSuccess ||
          (rc = upload(&d.bias, op.bias8.data(), op.bias8.size() * 4)) != cudaSuccess ||
          (rc = upload(reinterpret_cast<void**>(&d.mult), op.mult.data(), op.mult.size() * 4)) != cudaSuccess) {
        return failed(err, rc, "uploading weights");
      }
    } else if (op.kind == ProgramOpKind::ConvFloat || op.kind == ProgramOpKind::Stem) {
      const int taps = op.kh * op.kw;
      // The stem reads the quantized input: one channel a block, its taps (27 terms, one chain).
      std::tie(d.sumBlock, d.sumRestart) =
          int8k::floatSumOf(op, op.kind == ProgramOpKind::Stem || p.buffers[op.in.buffer].int8);
      const std::vector<float> t = int8k::floatWeightsInSumOrder(op, d.sumBlock);
      if ((rc = upload(&d.w, t.data(), t.size() * 4)) != cudaSuccess ||
          (rc = upload(&d.bias, op.biasf.data(), op.biasf.size() * 4)) != cudaSuccess) {
        return failed(err, rc, "uploading weights");
      }
      // 3×TF32 on the tensor cores: a float input whose 16-byte runs of 4 channels stay aligned,
      // under 2^29 floats, and a result no int8 code depends on (floatOnlyDownstream).
      const ProgramBuffer* in =
          op.kind == ProgramOpKind::ConvFloat ? &p.buffers[op.in.buffer] : nullptr;  // the stem has no input buffer
      const bool small = in && static_cast<long>(maxBatch) * in->H * in->W * in->C <
                                   (1L << 29);  // the kernel's byte offsets stay in 32 bits
      if (tf32 && in && !in->int8 && small && op.C % 4 == 0 && in->C % 4 == 0 && op.in.offset % 4 == 0 && taps <= 32 &&
          int8k::floatOnlyDownstream(p, k)) {
        d.KpadT = (taps * op.C + 15) / 16 * 16;
        const std::vector<float> split = int8k::tf32SplitWeights(op, d.KpadT);
        if ((rc = upload(reinterpret_cast<void**>(&d.wt), split.data(), split.size() * 4)) != cudaSuccess)
          return failed(err, rc, "uploading weights");
      }
    }
  }
  return true;
}

// Epilogue tables: what follows a convolution's first requantize is a function of its int8
// code (Int8Weights.h).
bool Int8Engine::Impl::uploadTables(std::string& err) {
  cudaError_t rc;
  for (size_t k = 0; k < prog.ops.size(); ++k) {
    const ProgramOp& op = prog.ops[k];
    if (op.kind != ProgramOpKind::ConvInt8 && op.kind != ProgramOpKind::ConvFloat) continue;
    EpilogueTables t;
    if (!int8k::epilogueTables(prog, op, t)) continue;
    OpDevice& d = opDev[k];
    if ((rc = CUDA(cudaMalloc(reinterpret_cast<void**>(&d.lut), sizeof t.table))) != cudaSuccess ||
        (rc = CUDA(cudaMemcpy(d.lut, t.table, sizeof t.table, cudaMemcpyHostToDevice))) != cudaSuccess ||
        (t.aux &&
         ((rc = CUDA(cudaMalloc(reinterpret_cast<void**>(&d.auxLut), sizeof t.auxTable))) != cudaSuccess ||
          (rc = CUDA(cudaMemcpy(d.auxLut, t.auxTable, sizeof t.auxTable, cudaMemcpyHostToDevice))) != cudaSuccess))) {
      return failed(err, rc, "epilogue table");
    }
    d.lutAt = t.at;
  }
  return true;
}

bool Int8Engine::Impl::createBranches(std::string& err) {
  if (cudaDeviceGetStreamPriorityRange(&leastPriority, &greatestPriority) != cudaSuccess) {
    cudaGetLastError();
    priorities = false;
  }
  if (!branches) return true;
  cudaError_t rc;
  opEvents.assign(prog.ops.size(), nullptr);
  for (cudaEvent_t& e : opEvents)
    if ((rc = CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming))) != cudaSuccess)
      return failed(err, rc, "branch events");
  if ((rc = CUDA(cudaEventCreateWithFlags(&forkEvent, cudaEventDisableTiming))) != cudaSuccess)
    return failed(err, rc, "branch events");
  for (int s = 0; s < kSide; ++s) {
    if ((rc = CUDA(cudaEventCreateWithFlags(&joinEvents[s], cudaEventDisableTiming))) != cudaSuccess ||
        (rc = CUDA(cudaStreamCreateWithFlags(&side[s], cudaStreamNonBlocking))) != cudaSuccess) {
      return failed(err, rc, "branch streams");
    }
  }
  return true;
}

}  // namespace vigil
