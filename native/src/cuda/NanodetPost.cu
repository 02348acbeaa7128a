#include "cuda/NanodetPost.h"

#include <algorithm>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>

#include "cuda/CudaCheck.h"

namespace vigil {
namespace {

constexpr int kMaxLevels = 4;

struct FrameBox {
  float scale, padX, padY, srcWidth, srcHeight;
};
struct Levels {
  HeadLevelDevice l[kMaxLevels];
  int firstCell[kMaxLevels + 1];  // running cell index: the decode order across levels
  int count;
};

// Per frame of a batch: its candidate region [f·cap, f·cap + cap) of cand/keys, its count, where
// its head outputs are (frame f's level i at l[i] + f·stride) and its letterbox.
struct Scratch {
  DetectionRecord* cand;
  uint64_t* keys;
  uint32_t* count;  // [frames]
  int maxCandidates;
  const FrameBox* boxes;  // [frames]
  size_t clsStride[kMaxLevels], regStride[kMaxLevels];
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

// One thread per cell of every level of frame blockIdx.y: each class over the threshold becomes a
// candidate of that frame.
__global__ void gpuNanodetCandidates(Levels lv, NanodetPostParams p, Scratch s) {
  const int g = blockIdx.x * blockDim.x + threadIdx.x;
  const int f = blockIdx.y;
  if (g >= lv.firstCell[lv.count]) return;
  int li = 0;
  while (g >= lv.firstCell[li + 1]) ++li;
  const HeadLevelDevice& L = lv.l[li];
  const int i = g - lv.firstCell[li];
  const FrameBox box = s.boxes[f];
  const float* cls = L.cls + f * s.clsStride[li] + static_cast<size_t>(i) * p.numClasses;
  bool any = false;
  for (int c = 0; c < p.numClasses; ++c) any |= cls[c] > p.scoreThreshold;
  if (!any) return;
  const int w = (p.inputSize + L.stride - 1) / L.stride;
  const float cx = ((i % w) + 0.5f) * L.stride;
  const float cy = ((i / w) + 0.5f) * L.stride;
  const float* reg = L.reg + f * s.regStride[li] + static_cast<size_t>(i) * 4 * p.bins;
  const float l = expectedDistance(reg, p.bins) * L.stride;
  const float t = expectedDistance(reg + p.bins, p.bins) * L.stride;
  const float r = expectedDistance(reg + 2 * p.bins, p.bins) * L.stride;
  const float b = expectedDistance(reg + 3 * p.bins, p.bins) * L.stride;
  auto src = [&](float v, float pad, float limit) { return fminf(fmaxf((v - pad) / box.scale, 0.f), limit); };
  DetectionRecord d;
  d.x1 = src(cx - l, box.padX, box.srcWidth);
  d.y1 = src(cy - t, box.padY, box.srcHeight);
  d.x2 = src(cx + r, box.padX, box.srcWidth);
  d.y2 = src(cy + b, box.padY, box.srcHeight);
  d.trackId = 0;
  for (int c = 0; c < p.numClasses; ++c) {
    const float score = cls[c];
    if (!(score > p.scoreThreshold)) continue;
    const uint32_t at = atomicAdd(s.count + f, 1u);
    if (at >= static_cast<uint32_t>(s.maxCandidates)) continue;
    d.score = score;
    d.classId = static_cast<uint16_t>(c);
    const size_t slot = static_cast<size_t>(f) * s.maxCandidates + at;
    s.cand[slot] = d;
    // Sort key, ascending = score descending (scores in (0, 1]: their float bits order as
    // integers), then decode order (global cell, class), as the CPU's stable sort has it.
    const uint32_t order = static_cast<uint32_t>(g) * p.numClasses + c;
    s.keys[slot] = (static_cast<uint64_t>(~__float_as_uint(score)) << 32) | order;
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

// Where frame f's sorted candidates and suppression mask lie in the batch's scratch.
struct FrameNms {
  int n;          // candidates (≤ cap)
  int words;      // ⌈n / 64⌉
  size_t maskAt;  // first word of its n × words mask
};

// Frame blockIdx.z's candidates in sorted order: bit j of row i set when j comes after i, has
// i's class and overlaps it by more than the threshold.
__global__ void gpuSuppressionMask(const DetectionRecord* sortedAll, int cap, const FrameNms* frames,
                                   float iouThreshold, uint64_t* maskAll) {
  const FrameNms fr = frames[blockIdx.z];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int word = blockIdx.y;
  if (i >= fr.n || word >= fr.words) return;
  const DetectionRecord* sorted = sortedAll + static_cast<size_t>(blockIdx.z) * cap;
  uint64_t bits = 0;
  for (int k = 0; k < 64; ++k) {
    const int j = word * 64 + k;
    if (j <= i || j >= fr.n) continue;
    if (sorted[j].classId == sorted[i].classId && iouOf(sorted[i], sorted[j]) > iouThreshold) bits |= 1ull << k;
  }
  maskAll[fr.maskAt + static_cast<size_t>(i) * fr.words + word] = bits;
}

// One thread a frame walks its sorted candidates and keeps those no kept box suppressed.
__global__ void gpuNmsSelect(const DetectionRecord* sortedAll, int cap, const FrameNms* frames, int frameCount,
                             const uint64_t* maskAll, int maxDetections, int maxWords, DetectionRecord* outAll,
                             uint32_t* outCount, uint64_t* removedAll) {
  const int f = blockIdx.x * blockDim.x + threadIdx.x;
  if (f >= frameCount) return;
  const FrameNms fr = frames[f];
  const DetectionRecord* sorted = sortedAll + static_cast<size_t>(f) * cap;
  const uint64_t* mask = maskAll + fr.maskAt;
  uint64_t* removed = removedAll + static_cast<size_t>(f) * maxWords;
  DetectionRecord* out = outAll + static_cast<size_t>(f) * maxDetections;
  for (int w = 0; w < fr.words; ++w) removed[w] = 0;
  uint32_t kept = 0;
  for (int i = 0; i < fr.n && kept < static_cast<uint32_t>(maxDetections); ++i) {
    if (removed[i / 64] & (1ull << (i % 64))) continue;
    out[kept++] = sorted[i];
    const uint64_t* row = mask + static_cast<size_t>(i) * fr.words;
    for (int w = 0; w < fr.words; ++w) removed[w] |= row[w];
  }
  outCount[f] = kept;
}

__global__ void gpuIota(uint32_t* v, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) v[i] = static_cast<uint32_t>(i);
}

// Sorted candidate i of frame blockIdx.y from its slot (slots are batch-wide indices).
__global__ void gpuGather(const DetectionRecord* cand, const uint32_t* slotOf, int cap, const FrameNms* frames,
                          DetectionRecord* sorted) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const size_t at = static_cast<size_t>(blockIdx.y) * cap + i;
  if (i < frames[blockIdx.y].n) sorted[at] = cand[slotOf[at]];
}

}  // namespace

struct GpuNanodetPost::Impl {
  int maxCandidates;  // a frame
  cudaStream_t stream = nullptr;
  DeviceBuffer<DetectionRecord> cand, sorted, out;
  DeviceBuffer<uint64_t> keys, keysSorted, mask, removed;
  DeviceBuffer<uint32_t> slots, slotsSorted, counts, keptCounts;
  DeviceBuffer<int> segBegin, segEnd;
  DeviceBuffer<FrameBox> boxes;
  DeviceBuffer<FrameNms> nms;
  DeviceBuffer<uint8_t> sortTemp;
  DeviceBuffer<float> hostInputs;  // runFromHost's copies of the head outputs
  // Pinned host staging: letterboxes and per-frame NMS layout up, counts and detections down.
  uint8_t* pinned = nullptr;
  size_t pinnedBytes = 0;
};

GpuNanodetPost::GpuNanodetPost(int maxCandidates) : impl_(std::make_unique<Impl>()) {
  impl_->maxCandidates = (maxCandidates + 63) / 64 * 64;
}

GpuNanodetPost::~GpuNanodetPost() {
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
  cudaFreeHost(impl_->pinned);
}

bool GpuNanodetPost::run(const HeadLevelDevice* levels, int levelCount, const NanodetPostParams& p,
                         std::vector<DetectionRecord>& out, uint32_t& candidates, std::string& err) {
  std::vector<std::vector<DetectionRecord>> outs;
  std::vector<uint32_t> counts;
  const FrameLetterboxParams box{p.scale, p.padX, p.padY, p.srcWidth, p.srcHeight};
  const size_t strides[kMaxLevels * 2] = {};
  if (!runBatch(levels, levelCount, strides, strides + kMaxLevels, &box, 1, p, outs, counts, err)) return false;
  out = std::move(outs[0]);
  candidates = counts[0];
  return true;
}

bool GpuNanodetPost::runBatch(const HeadLevelDevice* levels, int levelCount, const size_t* clsStride,
                              const size_t* regStride, const FrameLetterboxParams* frameBoxes, int frames,
                              const NanodetPostParams& p, std::vector<std::vector<DetectionRecord>>& out,
                              std::vector<uint32_t>& candidates, std::string& err) {
  Impl& m = *impl_;
  auto fail = [&](cudaError_t rc, const char* what) {
    err = std::string("GPU post-processing: ") + what + ": " + cudaErrorText(rc);
    return false;
  };
  if (levelCount < 1 || levelCount > kMaxLevels || frames < 1 || p.bins < 1 || p.numClasses < 1 ||
      p.maxDetections < 1) {
    return fail(cudaErrorInvalidValue, "parameters");
  }
  const int cap = m.maxCandidates;
  const int maxWords = cap / 64;
  const size_t all = static_cast<size_t>(frames) * cap;
  cudaError_t rc = cudaSuccess;
  usePrimaryContextFlags();
  if (!m.stream) rc = CUDA(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking));
  const size_t pinnedNeed = frames * (sizeof(FrameBox) + sizeof(FrameNms) + 2 * sizeof(uint32_t) + 2 * sizeof(int)) +
                            static_cast<size_t>(frames) * p.maxDetections * sizeof(DetectionRecord) + 64 * 6;
  if (rc == cudaSuccess && m.pinnedBytes < pinnedNeed) {
    cudaFreeHost(m.pinned);
    m.pinned = nullptr;
    rc = CUDA(cudaMallocHost(reinterpret_cast<void**>(&m.pinned), pinnedNeed));
    m.pinnedBytes = rc == cudaSuccess ? pinnedNeed : 0;
  }
  for (auto r :
       {m.cand.reserve(all), m.sorted.reserve(all), m.out.reserve(static_cast<size_t>(frames) * p.maxDetections),
        m.keys.reserve(all), m.keysSorted.reserve(all), m.removed.reserve(static_cast<size_t>(frames) * maxWords),
        m.slots.reserve(all), m.slotsSorted.reserve(all), m.counts.reserve(frames), m.keptCounts.reserve(frames),
        m.segBegin.reserve(frames), m.segEnd.reserve(frames), m.boxes.reserve(frames), m.nms.reserve(frames)}) {
    if (rc == cudaSuccess) rc = CUDA(r);
  }
  if (rc != cudaSuccess) return fail(rc, "allocation");
  // Pinned staging, 64-byte aligned pieces.
  auto align = [](size_t v) { return (v + 63) / 64 * 64; };
  uint8_t* at = m.pinned;
  auto* hBoxes = reinterpret_cast<FrameBox*>(at);
  at += align(frames * sizeof(FrameBox));
  auto* hNms = reinterpret_cast<FrameNms*>(at);
  at += align(frames * sizeof(FrameNms));
  auto* hCounts = reinterpret_cast<uint32_t*>(at);
  at += align(frames * sizeof(uint32_t));
  auto* hKept = reinterpret_cast<uint32_t*>(at);
  at += align(frames * sizeof(uint32_t));
  auto* hSeg = reinterpret_cast<int*>(at);  // begin offsets, then end offsets
  at += align(2 * frames * sizeof(int));
  auto* hOut = reinterpret_cast<DetectionRecord*>(at);

  Levels lv{};
  Scratch sc{m.cand.get(), m.keys.get(), m.counts.get(), cap, m.boxes.get(), {}, {}};
  lv.count = levelCount;
  lv.firstCell[0] = 0;
  for (int i = 0; i < levelCount; ++i) {
    lv.l[i] = levels[i];
    const int w = (p.inputSize + levels[i].stride - 1) / levels[i].stride;
    lv.firstCell[i + 1] = lv.firstCell[i] + w * w;
    sc.clsStride[i] = clsStride[i];
    sc.regStride[i] = regStride[i];
  }
  for (int f = 0; f < frames; ++f)
    hBoxes[f] = {frameBoxes[f].scale, frameBoxes[f].padX, frameBoxes[f].padY, frameBoxes[f].srcWidth,
                 frameBoxes[f].srcHeight};
  const int cells = lv.firstCell[levelCount];
  // 1. Candidates of every frame; their counts come back (the one wait before the sort).
  rc = CUDA(cudaMemcpyAsync(m.boxes.get(), hBoxes, frames * sizeof(FrameBox), cudaMemcpyHostToDevice, m.stream));
  if (rc == cudaSuccess) rc = CUDA(cudaMemsetAsync(m.counts.get(), 0, frames * sizeof(uint32_t), m.stream));
  if (rc != cudaSuccess) return fail(rc, "reset");
  gpuNanodetCandidates<<<dim3((cells + 127) / 128, frames), 128, 0, m.stream>>>(lv, p, sc);
  rc = CUDA(cudaGetLastError());
  if (rc == cudaSuccess)
    rc = CUDA(cudaMemcpyAsync(hCounts, m.counts.get(), frames * sizeof(uint32_t), cudaMemcpyDeviceToHost, m.stream));
  if (rc == cudaSuccess) rc = CUDA(waitStream(m.stream, p.spinUs));
  if (rc != cudaSuccess) return fail(rc, "candidates");
  candidates.assign(hCounts, hCounts + frames);
  out.assign(frames, {});
  int maxN = 0, maxUsedWords = 0;
  size_t maskWords = 0;
  for (int f = 0; f < frames; ++f) {
    const int n = static_cast<int>(std::min<uint32_t>(hCounts[f], static_cast<uint32_t>(cap)));
    const int words = (n + 63) / 64;
    hNms[f] = {n, words, maskWords};
    maskWords += static_cast<size_t>(n) * words;
    maxN = std::max(maxN, n);
    maxUsedWords = std::max(maxUsedWords, words);
    hSeg[f] = f * cap;
    hSeg[frames + f] = f * cap + n;
  }
  if (maxN == 0) return true;

  // 2. Every frame's candidates sorted by score (one segmented sort), gathered, masked, selected.
  rc = CUDA(m.mask.reserve(std::max<size_t>(maskWords, 1)));
  if (rc == cudaSuccess)
    rc = CUDA(cudaMemcpyAsync(m.nms.get(), hNms, frames * sizeof(FrameNms), cudaMemcpyHostToDevice, m.stream));
  if (rc == cudaSuccess)
    rc = CUDA(cudaMemcpyAsync(m.segBegin.get(), hSeg, frames * sizeof(int), cudaMemcpyHostToDevice, m.stream));
  if (rc == cudaSuccess)
    rc = CUDA(cudaMemcpyAsync(m.segEnd.get(), hSeg + frames, frames * sizeof(int), cudaMemcpyHostToDevice, m.stream));
  if (rc != cudaSuccess) return fail(rc, "staging");
  const int items = static_cast<int>(all);
  gpuIota<<<(items + 255) / 256, 256, 0, m.stream>>>(m.slots.get(), items);
  size_t tempBytes = 0;
  cub::DeviceSegmentedRadixSort::SortPairs(nullptr, tempBytes, m.keys.get(), m.keysSorted.get(), m.slots.get(),
                                           m.slotsSorted.get(), items, frames, m.segBegin.get(), m.segEnd.get(), 0, 64,
                                           m.stream);
  rc = CUDA(m.sortTemp.reserve(tempBytes));
  if (rc == cudaSuccess) {
    rc = CUDA(cub::DeviceSegmentedRadixSort::SortPairs(m.sortTemp.get(), tempBytes, m.keys.get(), m.keysSorted.get(),
                                                       m.slots.get(), m.slotsSorted.get(), items, frames,
                                                       m.segBegin.get(), m.segEnd.get(), 0, 64, m.stream));
  }
  if (rc != cudaSuccess) return fail(rc, "sort");
  gpuGather<<<dim3((maxN + 255) / 256, frames), 256, 0, m.stream>>>(m.cand.get(), m.slotsSorted.get(), cap, m.nms.get(),
                                                                    m.sorted.get());
  gpuSuppressionMask<<<dim3((maxN + 127) / 128, maxUsedWords, frames), 128, 0, m.stream>>>(
      m.sorted.get(), cap, m.nms.get(), p.iouThreshold, m.mask.get());
  gpuNmsSelect<<<(frames + 63) / 64, 64, 0, m.stream>>>(m.sorted.get(), cap, m.nms.get(), frames, m.mask.get(),
                                                        p.maxDetections, maxWords, m.out.get(), m.keptCounts.get(),
                                                        m.removed.get());
  rc = CUDA(cudaGetLastError());
  // 3. Kept counts and detections back: the second and last wait.
  if (rc == cudaSuccess)
    rc = CUDA(cudaMemcpyAsync(hKept, m.keptCounts.get(), frames * sizeof(uint32_t), cudaMemcpyDeviceToHost, m.stream));
  if (rc == cudaSuccess) {
    rc =
        CUDA(cudaMemcpyAsync(hOut, m.out.get(), static_cast<size_t>(frames) * p.maxDetections * sizeof(DetectionRecord),
                             cudaMemcpyDeviceToHost, m.stream));
  }
  if (rc == cudaSuccess) rc = CUDA(waitStream(m.stream, p.spinUs));
  if (rc != cudaSuccess) return fail(rc, "NMS");
  for (int f = 0; f < frames; ++f) {
    const uint32_t kept = hNms[f].n ? hKept[f] : 0;
    out[f].assign(hOut + static_cast<size_t>(f) * p.maxDetections,
                  hOut + static_cast<size_t>(f) * p.maxDetections + kept);
  }
  return true;
}

bool GpuNanodetPost::runFromHost(const float* const* cls, const float* const* reg, const int* strides, int levelCount,
                                 const NanodetPostParams& p, std::vector<DetectionRecord>& out, uint32_t& candidates,
                                 std::string& err) {
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
    if (rc == cudaSuccess)
      rc = CUDA(cudaMemcpy(at + sizes[i][0], reg[i], sizes[i][1] * sizeof(float), cudaMemcpyHostToDevice));
    at += sizes[i][0] + sizes[i][1];
  }
  if (rc != cudaSuccess) {
    err = "GPU post-processing: copying the head outputs: " + cudaErrorText(rc);
    return false;
  }
  return run(levels, levelCount, p, out, candidates, err);
}

}  // namespace vigil
