// The INT8 engine's entry points: open() (settings, program, device, memory, branches in that
// order), and enqueue(), which runs each batch size as a CUDA graph captured on its first use.
#include "int8/Int8Engine.h"

#include <utility>

#include "cuda/CudaCheck.h"
#include "int8/ConvMma.h"
#include "int8/Int8EngineImpl.h"

namespace vigil {

Int8Engine::Int8Engine() : impl_(std::make_unique<Impl>()) {}
Int8Engine::~Int8Engine() = default;

std::unique_ptr<Int8Engine> Int8Engine::open(Int8Program program, int maxBatch, const Int8EngineOptions& options,
                                             std::string& err) {
  // The settings and the program first: a wrong one is named on any machine, GPU or not.
  if (!checkInt8EngineOptions(options, err) || !validateInt8Program(program, maxBatch, err)) return nullptr;
  usePrimaryContextFlags();
  std::unique_ptr<Int8Engine> self(new Int8Engine());
  Impl& m = *self->impl_;
  m.prog = std::move(program);
  m.opts = options;
  m.maxBatch = maxBatch;
  m.minSplit = options.minSplit;
  m.splitBlocks = options.splitBlocks;
  m.smallBelow = options.smallTiles;
  m.branches = options.branches;
  m.priorities = options.priorities;
  if (!m.pickKernels(err) || !m.allocate(err) || !m.createBranches(err)) return nullptr;
  for (const ProgramOutput& o : m.prog.outputs) {
    m.outputNames.push_back(o.name);
    m.outputPtrs.push_back(static_cast<float*>(m.buffers[o.buffer]));
  }
  return self;
}

bool Int8Engine::Impl::pickKernels(std::string& err) {
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    cudaGetLastError();
    err = "no CUDA device for the INT8 engine";
    return false;
  }
  const int cc = prop.major * 10 + prop.minor;
  sms = prop.multiProcessorCount;
  if (cc < 61) {
    err = "the INT8 engine needs a GPU with dp4a (sm_61 or newer); this one is sm_" + std::to_string(cc);
    return false;
  }
  // Tensor cores where the GPU has mma.sync int8 and this build carries code for it.
  const bool mmaCode = int8k::convMmaCompiled();
  mma = cc >= 80 && mmaCode && opts.kernel != Int8KernelFamily::Dp4a;
  tf32 = mma && opts.floatMode != Int8FloatMode::Exact;
  key = std::string("vigil-int8 ") + (mma ? "mma" : "dp4a") + (tf32 ? " tf32x3" : "") + " sm_" + std::to_string(cc);
  return true;
}

float* Int8Engine::input() const { return impl_->input; }
const std::vector<float*>& Int8Engine::outputs() const { return impl_->outputPtrs; }
const std::vector<std::string>& Int8Engine::outputNames() const { return impl_->outputNames; }
int Int8Engine::maxBatch() const { return impl_->maxBatch; }
const std::string& Int8Engine::cacheKey() const { return impl_->key; }

bool Int8Engine::Impl::captureGraph(int n, const float* in, cudaStream_t st, cudaGraphExec_t& exec, std::string& err) {
  cudaGraph_t graph = nullptr;
  exec = nullptr;
  cudaError_t rc = CUDA(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
  if (rc != cudaSuccess) {
    err = "INT8 engine: cannot capture a CUDA graph: " + cudaErrorText(rc);
    return false;
  }
  const bool launched = launchAll(n, in, st, err, nullptr, branches);
  rc = CUDA(cudaStreamEndCapture(st, &graph));
  if (!launched) {
    if (graph) cudaGraphDestroy(graph);
    return false;
  }
  // The kernels' own priorities (launchAll's) only with UseNodePriority: without it every node
  // runs at the launch stream's priority.
  const bool withPriorities = branches && priorities;
  if (rc == cudaSuccess)
    rc =
        CUDA(cudaGraphInstantiateWithFlags(&exec, graph, withPriorities ? cudaGraphInstantiateFlagUseNodePriority : 0));
  if (graph) cudaGraphDestroy(graph);
  if (rc != cudaSuccess) {
    err = "INT8 engine: cannot build the CUDA graph for batch " + std::to_string(n) + ": " + cudaErrorText(rc);
    return false;
  }
  return true;
}

bool Int8Engine::enqueue(int batch, void* stream, std::string& err, const float* input) {
  Impl& m = *impl_;
  if (batch < 1 || batch > m.maxBatch) {
    err = "Expected a batch of 1.." + std::to_string(m.maxBatch) + " frames but received " + std::to_string(batch);
    return false;
  }
  const float* in = input ? input : m.input;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  // One CUDA graph per batch size (and input buffer), captured the first time it runs.
  auto it = m.graphExecs.find({batch, in});
  if (it == m.graphExecs.end()) {
    cudaGraphExec_t exec = nullptr;
    if (!m.captureGraph(batch, in, st, exec, err)) return false;
    it = m.graphExecs.emplace(std::make_pair(batch, in), exec).first;
  }
  const cudaError_t rc = CUDA(cudaGraphLaunch(it->second, st));
  if (rc != cudaSuccess) {
    err = "INT8 engine: graph launch failed: " + cudaErrorText(rc);
    return false;
  }
  return true;
}

}  // namespace vigil
