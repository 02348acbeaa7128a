#include "cuda/NanodetPost.h"

#include <algorithm>

#include <cub/device/device_radix_sort.cuh>

#include "cuda/CudaCheck.h"

namespace vigil {
namespace {

constexpr int kMaxLevels = 4;
struct Levels {
  HeadLevelDevice l[kMaxLevels];
  int firstCell[kMaxLevels + 1];  // running cell index: the decode order across levels
  int count;
};

struct Scratch {
  DetectionRecord* cand;
  uint64_t* keys;
  uint32_t* count;
  int maxCandidates;
};

__device__ float expectedDistance(const float* bins, int n) {
  float m = bins[0];
  for (int i = 1; i < n; ++i) m = fmaxf(m, bins[i]);
  float sum = 0.f;
  float acc = 0.f;
  for (int i = 0; i < n; ++i) {
    const float e = expf(bins[i] - m);
    sum += e;
    acc += e * i;
  }
  return acc / sum;
}

// One thread per cell of every level: each class over the threshold becomes a candidate.
__global__ void gpuNanodetCandidates(Levels lv, NanodetPostParams p, Scratch s) {
  const int g = blockIdx.x * blockDim.x + threadIdx.x;
  if (g >= lv.firstCell[lv.count]) return;
  int li = 0;
  while (g >= lv.firstCell[li + 1]) ++li;
  const HeadLevelDevice& L = lv.l[li];
  const int i = g - lv.firstCell[li];
  const float* cls = L.cls + static_cast<size_t>(i) * p.numClasses;
  bool any = false;
  for (int c = 0; c < p.numClasses; ++c) any |= cls[c] > p.scoreThreshold;
  if (!any) return;
  const int w = (p.inputSize + L.stride - 1) / L.stride;
  const float cx = ((i % w) + 0.5f) * L.stride;
  const float cy = ((i / w) + 0.5f) * L.stride;
  const float* reg = L.reg + static_cast<size_t>(i) * 4 * p.bins;
  const float l = expectedDistance(reg, p.bins) * L.stride;
  const float t = expectedDistance(reg + p.bins, p.bins) * L.stride;
  const float r = expectedDistance(reg + 2 * p.bins, p.bins) * L.stride;
  const float b = expectedDistance(reg + 3 * p.bins, p.bins) * L.stride;
  auto src = [&](float v, float pad, float limit) { return fminf(fmaxf((v - pad) / p.scale, 0.f), limit); };
  DetectionRecord d;
  d.x1 = src(cx - l, p.padX, p.srcWidth);
  d.y1 = src(cy - t, p.padY, p.srcHeight);
  d.x2 = src(cx + r, p.padX, p.srcWidth);
  d.y2 = src(cy + b, p.padY, p.srcHeight);
  d.trackId = 0;
  for (int c = 0; c < p.numClasses; ++c) {
    const float score = cls[c];
    if (!(score > p.scoreThreshold)) continue;
    const uint32_t at = atomicAdd(s.count, 1u);
    if (at >= static_cast<uint32_t>(s.maxCandidates)) continue;
    d.score = score;
    d.classId = static_cast<uint16_t>(c);
    s.cand[at] = d;
    // Sort key, ascending = score descending (scores in (0, 1]: their float bits order as
    // integers), then decode order (global cell, class), as the CPU's stable sort has it.
    const uint32_t order = static_cast<uint32_t>(g) * p.numClasses + c;
    s.keys[at] = (static_cast<uint64_t>(~__float_as_uint(score)) << 32) | order;
  }
}

__device__ float iouOf(const DetectionRecord& a, const DetectionRecord& b) {
  const float w = fminf(a.x2, b.x2) - fmaxf(a.x1, b.x1);
  const float h = fminf(a.y2, b.y2) - fmaxf(a.y1, b.y1);
  if (w <= 0.f || h <= 0.f) return 0.f;
  const float inter = w * h;
  const float uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return uni > 0.f ? inter / uni : 0.f;
}

// Candidates in sorted order: bit j of row i set when j comes after i, has i's class and
// overlaps it by more than the threshold.
__global__ void gpuSuppressionMask(const DetectionRecord* sorted, int n, int words, float iouThreshold, uint64_t* mask) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int word = blockIdx.y;
  if (i >= n) return;
  uint64_t bits = 0;
  for (int k = 0; k < 64; ++k) {
    const int j = word * 64 + k;
    if (j <= i || j >= n) continue;
    if (sorted[j].classId == sorted[i].classId && iouOf(sorted[i], sorted[j]) > iouThreshold) bits |= 1ull << k;
  }
  mask[static_cast<size_t>(i) * words + word] = bits;
}

// One thread walks the sorted candidates and keeps those no kept box suppressed.
__global__ void gpuNmsSelect(const DetectionRecord* sorted, int n, int words, const uint64_t* mask, int maxDetections,
                             DetectionRecord* out, uint32_t* outCount, uint64_t* removed) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  for (int w = 0; w < words; ++w) removed[w] = 0;
  uint32_t kept = 0;
  for (int i = 0; i < n && kept < static_cast<uint32_t>(maxDetections); ++i) {
    if (removed[i / 64] & (1ull << (i % 64))) continue;
    out[kept++] = sorted[i];
    const uint64_t* row = mask + static_cast<size_t>(i) * words;
    for (int w = 0; w < words; ++w) removed[w] |= row[w];
  }
  *outCount = kept;
}

__global__ void gpuIota(uint32_t* v, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) v[i] = static_cast<uint32_t>(i);
}

__global__ void gpuGather(const DetectionRecord* cand, const uint32_t* slotOf, int n, DetectionRecord* sorted) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) sorted[i] = cand[slotOf[i]];
}

}  // namespace

struct GpuNanodetPost::Impl {
  int maxCandidates;
  cudaStream_t stream = nullptr;
  DeviceBuffer<DetectionRecord> cand, sorted, out;
  DeviceBuffer<uint64_t> keys, keysSorted, mask, removed;
  DeviceBuffer<uint32_t> slots, slotsSorted, counts;  // counts: [0] candidates, [1] kept
  DeviceBuffer<uint8_t> sortTemp;
  DeviceBuffer<float> hostInputs;  // runFromHost's copies of the head outputs
  uint32_t* pinnedCounts = nullptr;
  DetectionRecord* pinnedOut = nullptr;
  int pinnedOutCap = 0;
};

GpuNanodetPost::GpuNanodetPost(int maxCandidates) : impl_(std::make_unique<Impl>()) { impl_->maxCandidates = (maxCandidates + 63) / 64 * 64; }

GpuNanodetPost::~GpuNanodetPost() {
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
  cudaFreeHost(impl_->pinnedCounts);
  cudaFreeHost(impl_->pinnedOut);
}

bool GpuNanodetPost::run(const HeadLevelDevice* levels, int levelCount, const NanodetPostParams& p, std::vector<DetectionRecord>& out,
                         uint32_t& candidates, std::string& err) {
  Impl& m = *impl_;
  auto fail = [&](cudaError_t rc, const char* what) {
    err = std::string("GPU post-processing: ") + what + ": " + cudaErrorText(rc);
    return false;
  };
  if (levelCount < 1 || levelCount > kMaxLevels || p.bins < 1 || p.numClasses < 1 || p.maxDetections < 1) return fail(cudaErrorInvalidValue, "parameters");
  const int cap = m.maxCandidates;
  const int words = cap / 64;
  cudaError_t rc = cudaSuccess;
  usePrimaryContextFlags();
  if (!m.stream) rc = CUDA(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking));
  if (rc == cudaSuccess && !m.pinnedCounts) rc = CUDA(cudaMallocHost(reinterpret_cast<void**>(&m.pinnedCounts), 2 * sizeof(uint32_t)));
  if (rc == cudaSuccess && m.pinnedOutCap < p.maxDetections) {
    cudaFreeHost(m.pinnedOut);
    m.pinnedOut = nullptr;
    rc = CUDA(cudaMallocHost(reinterpret_cast<void**>(&m.pinnedOut), p.maxDetections * sizeof(DetectionRecord)));
    m.pinnedOutCap = rc == cudaSuccess ? p.maxDetections : 0;
  }
  for (auto r : {m.cand.reserve(cap), m.sorted.reserve(cap), m.out.reserve(p.maxDetections), m.keys.reserve(cap), m.keysSorted.reserve(cap),
                 m.mask.reserve(static_cast<size_t>(cap) * words), m.removed.reserve(words), m.slots.reserve(cap), m.slotsSorted.reserve(cap),
                 m.counts.reserve(2)}) {
    if (rc == cudaSuccess) rc = CUDA(r);
  }
  if (rc != cudaSuccess) return fail(rc, "allocation");

  Levels lv{};
  lv.count = levelCount;
  lv.firstCell[0] = 0;
  for (int i = 0; i < levelCount; ++i) {
    lv.l[i] = levels[i];
    const int w = (p.inputSize + levels[i].stride - 1) / levels[i].stride;
    lv.firstCell[i + 1] = lv.firstCell[i] + w * w;
  }
  const int cells = lv.firstCell[levelCount];
  rc = CUDA(cudaMemsetAsync(m.counts.get(), 0, 2 * sizeof(uint32_t), m.stream));
  if (rc != cudaSuccess) return fail(rc, "reset");
  gpuNanodetCandidates<<<(cells + 127) / 128, 128, 0, m.stream>>>(lv, p, Scratch{m.cand.get(), m.keys.get(), m.counts.get(), cap});
  rc = CUDA(cudaGetLastError());
  if (rc == cudaSuccess) rc = CUDA(cudaMemcpyAsync(m.pinnedCounts, m.counts.get(), sizeof(uint32_t), cudaMemcpyDeviceToHost, m.stream));
  if (rc == cudaSuccess) rc = CUDA(cudaStreamSynchronize(m.stream));
  if (rc != cudaSuccess) return fail(rc, "candidates");
  candidates = m.pinnedCounts[0];
  const int n = static_cast<int>(std::min<uint32_t>(candidates, static_cast<uint32_t>(cap)));
  out.clear();
  if (n == 0) return true;

  gpuIota<<<(n + 255) / 256, 256, 0, m.stream>>>(m.slots.get(), n);
  size_t tempBytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, tempBytes, m.keys.get(), m.keysSorted.get(), m.slots.get(), m.slotsSorted.get(), n, 0, 64, m.stream);
  rc = CUDA(m.sortTemp.reserve(tempBytes));
  if (rc == cudaSuccess) {
    rc = CUDA(cub::DeviceRadixSort::SortPairs(m.sortTemp.get(), tempBytes, m.keys.get(), m.keysSorted.get(), m.slots.get(), m.slotsSorted.get(), n, 0, 64,
                                              m.stream));
  }
  if (rc != cudaSuccess) return fail(rc, "sort");
  gpuGather<<<(n + 255) / 256, 256, 0, m.stream>>>(m.cand.get(), m.slotsSorted.get(), n, m.sorted.get());
  const int usedWords = (n + 63) / 64;
  gpuSuppressionMask<<<dim3((n + 127) / 128, usedWords), 128, 0, m.stream>>>(m.sorted.get(), n, usedWords, p.iouThreshold, m.mask.get());
  gpuNmsSelect<<<1, 1, 0, m.stream>>>(m.sorted.get(), n, usedWords, m.mask.get(), p.maxDetections, m.out.get(), m.counts.get() + 1, m.removed.get());
  rc = CUDA(cudaGetLastError());
  if (rc == cudaSuccess) rc = CUDA(cudaMemcpyAsync(m.pinnedCounts + 1, m.counts.get() + 1, sizeof(uint32_t), cudaMemcpyDeviceToHost, m.stream));
  if (rc == cudaSuccess) rc = CUDA(cudaMemcpyAsync(m.pinnedOut, m.out.get(), p.maxDetections * sizeof(DetectionRecord), cudaMemcpyDeviceToHost, m.stream));
  if (rc == cudaSuccess) rc = CUDA(cudaStreamSynchronize(m.stream));
  if (rc != cudaSuccess) return fail(rc, "NMS");
  out.assign(m.pinnedOut, m.pinnedOut + m.pinnedCounts[1]);
  return true;
}

bool GpuNanodetPost::runFromHost(const float* const* cls, const float* const* reg, const int* strides, int levelCount, const NanodetPostParams& p,
                                 std::vector<DetectionRecord>& out, uint32_t& candidates, std::string& err) {
  if (levelCount < 1 || levelCount > kMaxLevels) {
    err = "GPU post-processing: 1 to 4 levels";
    return false;
  }
  usePrimaryContextFlags();
  size_t total = 0;
  size_t sizes[kMaxLevels][2];
  for (int i = 0; i < levelCount; ++i) {
    const size_t w = (p.inputSize + strides[i] - 1) / strides[i];
    sizes[i][0] = w * w * p.numClasses;
    sizes[i][1] = w * w * 4 * p.bins;
    total += sizes[i][0] + sizes[i][1];
  }
  cudaError_t rc = CUDA(impl_->hostInputs.reserve(total));
  HeadLevelDevice levels[kMaxLevels];
  float* at = impl_->hostInputs.get();
  for (int i = 0; i < levelCount && rc == cudaSuccess; ++i) {
    levels[i] = HeadLevelDevice{at, at + sizes[i][0], strides[i]};
    rc = CUDA(cudaMemcpy(at, cls[i], sizes[i][0] * sizeof(float), cudaMemcpyHostToDevice));
    if (rc == cudaSuccess) rc = CUDA(cudaMemcpy(at + sizes[i][0], reg[i], sizes[i][1] * sizeof(float), cudaMemcpyHostToDevice));
    at += sizes[i][0] + sizes[i][1];
  }
  if (rc != cudaSuccess) {
    err = "GPU post-processing: copying the head outputs: " + cudaErrorText(rc);
    return false;
  }
  return run(levels, levelCount, p, out, candidates, err);
}

}  // namespace vigil
