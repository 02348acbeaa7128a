#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/DetectionRecord.h"
#include "cuda/SpinWait.h"

namespace vigil {

// One stride of NanoDet's GFL head in device memory: sigmoid class scores [cells × classes]
// and box-side bin logits [cells × 4·bins], cells = ceil(size/stride)², row-major. Not owned.
struct HeadLevelDevice {
  const float* cls = nullptr;
  const float* reg = nullptr;
  int stride = 0;
};

// Where one frame sits in the model input (boxes come out in its source pixels).
struct FrameLetterboxParams {
  float scale = 1, padX = 0, padY = 0, srcWidth = 0, srcHeight = 0;
};

// The decode's parameters and the letterbox to undo (boxes come out in source-frame pixels).
struct NanodetPostParams {
  int inputSize = 416;
  int numClasses = 80;
  int bins = 11;  // regMax + 1
  float scoreThreshold = 0.4f;
  float iouThreshold = 0.6f;
  int maxDetections = 100;
  float scale = 1, padX = 0, padY = 0, srcWidth = 0, srcHeight = 0;
  int spinUs = kDefaultSpinUs;  // each wait for the GPU polls this long before it blocks (waitStream)
};

// Head decode + class-aware NMS on the GPU, the same maths as src/detect/nanodet/NanodetHead.ts
// (candidates over the threshold, expected side distances from the softmaxed bins, boxes
// through the letterbox, NMS by score with ties in decode order). Only the detections come
// back (pinned host buffer). One per inference thread: device scratch allocated once.
class GpuNanodetPost {
 public:
  explicit GpuNanodetPost(int maxCandidates = 8192);
  ~GpuNanodetPost();
  GpuNanodetPost(const GpuNanodetPost&) = delete;
  GpuNanodetPost& operator=(const GpuNanodetPost&) = delete;

  // `levels` point at device memory. Blocks until `out` holds the detections (≤ maxDetections);
  // `candidates` = boxes over the threshold before NMS (beyond maxCandidates they are dropped).
  bool run(const HeadLevelDevice* levels, int levelCount, const NanodetPostParams& p, std::vector<DetectionRecord>& out,
           uint32_t& candidates, std::string& err);
  // A batch: frame f's level i at levels[i].cls + f·clsStride[i] (reg likewise), its letterbox
  // frameBoxes[f] (p's own letterbox unused). Two waits for the whole batch, not two a frame.
  bool runBatch(const HeadLevelDevice* levels, int levelCount, const size_t* clsStride, const size_t* regStride,
                const FrameLetterboxParams* frameBoxes, int frames, const NanodetPostParams& p,
                std::vector<std::vector<DetectionRecord>>& out, std::vector<uint32_t>& candidates, std::string& err);
  // The same from head outputs in host memory (copied to the device first): tests, host backends.
  bool runFromHost(const float* const* cls, const float* const* reg, const int* strides, int levelCount,
                   const NanodetPostParams& p, std::vector<DetectionRecord>& out, uint32_t& candidates,
                   std::string& err);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
