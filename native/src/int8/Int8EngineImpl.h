#pragma once
// The INT8 engine's state, shared by the files that implement it: Int8Engine.cu (open, enqueue,
// graphs), Int8EngineAlloc.cu (device memory), Int8Schedule.cu (tiles, split-K, branches,
// priorities), Int8EngineLaunch.cu (one run's launches), Int8EngineChecks.cu. Not for callers.
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "int8/Int8Engine.h"
#include "int8/KernelArgs.h"

namespace vigil {

// Checks a program against what the kernels can run, before anything is allocated
// (Int8ProgramCheck.cu); false with `err` naming the op or buffer.
bool validateInt8Program(const Int8Program& p, int maxBatch, std::string& err);

// Owns every device allocation, stream, event and graph it holds (freed in the destructor, on any
// thread, the device current).
struct Int8Engine::Impl {
  Int8Program prog;
  Int8EngineOptions opts;
  int maxBatch = 0;
  bool mma = false;
  // Float convolutions with a float input and a float-only result on the tensor cores (3×TF32)
  // where mma runs; false (float mode exact): all on the CUDA cores in ONNX Runtime's order,
  // every value the reference's. Int8 codes are the reference's either way.
  bool tf32 = false;
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
  // Tiling and split-K settings (Int8EngineOptions: minSplit, splitBlocks, smallTiles).
  int minSplit = 1;
  int splitBlocks = 0;
  int smallBelow = 2;
  int32_t* partial = nullptr;  // split-K sums, the largest M·O of the INT8 convolutions at maxBatch
  // Branches in the graphs (launchAll): side streams, an event per op, fork and join events;
  // false: one stream (Int8EngineOptions::branches).
  static constexpr int kSide = 3;
  bool branches = true;
  // Critical-path priorities in the branch graphs (prioritiesOf; Int8EngineOptions::priorities),
  // off where the device has no priority range.
  bool priorities = true;
  int leastPriority = 0, greatestPriority = 0;  // the device's range (cudaDeviceGetStreamPriorityRange)
  cudaStream_t side[kSide] = {};
  std::vector<cudaEvent_t> opEvents;
  cudaEvent_t forkEvent = nullptr, joinEvents[kSide] = {};
  size_t partialCount = 0;

  ~Impl();

  // open()'s steps after the program is checked (Int8Engine.cu, Int8EngineAlloc.cu); each false
  // with `err`.
  bool pickKernels(std::string& err);     // the device: mma or dp4a, 3×TF32 or not, the cache key
  bool allocate(std::string& err);        // input, activation buffers, weights, tables, split-K workspace
  bool uploadWeights(std::string& err);   // per op: weights, bias, multipliers (allocate)
  bool uploadTables(std::string& err);    // epilogue tables (allocate)
  bool createBranches(std::string& err);  // side streams and events for the graphs' branches
  // Captures and instantiates the graph of batch n from `in` on `st`.
  bool captureGraph(int n, const float* in, cudaStream_t st, cudaGraphExec_t& exec, std::string& err);

  size_t bytesPerImage(const ProgramBuffer& b) const { return static_cast<size_t>(b.H) * b.W * b.C * (b.int8 ? 1 : 4); }
  int8k::Tensor view(const BufferView& v) const;

  // Tiles and split-K (Int8Schedule.cu).
  static int colsOf(const ProgramOp& op);
  int rowsOf(const ProgramOp& op, int pixels) const;
  std::pair<int, int> splitOf(const ProgramOp& op, const OpDevice& d, int n, int pixels) const;
  // Branches and priorities (Int8Schedule.cu).
  std::vector<std::vector<int>> dependencies(int n) const;
  double costOf(size_t k, int n) const;
  std::vector<int> prioritiesOf(int n, const std::vector<std::vector<int>>& deps) const;

  // Every op of a run of batch n from `in` (device memory) on `origin`, or on the branch streams
  // forked from it (Int8EngineLaunch.cu); `after(k)` runs after op k is launched.
  bool launchAll(int n, const float* in, cudaStream_t origin, std::string& err,
                 const std::function<void(size_t)>& after = nullptr, bool branches = false);
  // Op k's kernels on `st` at priority `priority`: the first failed launch's error.
  cudaError_t launchOp(size_t k, int n, const float* in, cudaStream_t st, int priority);
};

}  // namespace vigil
