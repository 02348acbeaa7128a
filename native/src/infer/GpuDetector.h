#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/DetectionRecord.h"
#include "cuda/SpinWait.h"
#include "infer/TensorRtBackend.h"

namespace vigil {

class DeviceBatch;

// Where one frame sits in the model input, to map its boxes back to its pixels.
struct FrameLetterbox {
  float scale = 1, padX = 0, padY = 0, srcWidth = 0, srcHeight = 0;
};

struct GpuDetectorOptions {
  TrtEngineOptions engine;
  int inputSize = 416;
  int numClasses = 80;
  int regMax = 10;
  std::vector<int> strides{8, 16,
                           32};  // outputs cls_s<stride> [N, cells, classes], reg_s<stride> [N, cells, 4·(regMax+1)]
  float scoreThreshold = 0.4f, iouThreshold = 0.6f;
  int maxDetections = 100;
  int spinUs = kDefaultSpinUs;  // each wait for the GPU polls this long before it blocks (waitStream)
};

// The GPU detector backends (`tensorrt`, `cuda`): an inference engine (TrtEngine, or Vigil's own
// Int8Engine) and the CUDA post-processing (GpuNanodetPost) on one stream. A batch of letterboxed frames goes up once,
// runs as one enqueueV3, and each frame's head outputs are decoded and NMS'd where they lie in device memory: only the
// detections come back. One batch at a time (callers serialise; the daemon's detector has one batch in flight).
class GpuDetector {
 public:
  // nullptr with `err` when TensorRT, CUDA or the model cannot serve (the reason as it is).
  static std::unique_ptr<GpuDetector> open(const GpuDetectorOptions& opts,
                                           const std::function<void(const std::string&)>& progress, std::string& err);
  // The same around an engine already made (`opts.engine` unused).
  static std::unique_ptr<GpuDetector> openWith(const GpuDetectorOptions& opts, std::unique_ptr<GpuEngine> engine,
                                               std::string& err);
  ~GpuDetector();
  GpuDetector(const GpuDetector&) = delete;
  GpuDetector& operator=(const GpuDetector&) = delete;

  int maxBatch() const;
  const std::string& cacheKey() const;
  bool builtNow() const;
  // `input`: `boxes.size()` frames of [3, S, S] floats, host memory, one after the other
  // (`inputFloats` long at least).
  bool detect(const float* input, size_t inputFloats, const std::vector<FrameLetterbox>& boxes,
              std::vector<std::vector<DetectionRecord>>& out, std::string& err);
  // The same from a GPU input batch the cameras' letterboxes wrote (slots 0..boxes.size()-1):
  // nothing crosses to the host but the detections.
  bool detect(const DeviceBatch& batch, const std::vector<FrameLetterbox>& boxes,
              std::vector<std::vector<DetectionRecord>>& out, std::string& err);

 private:
  GpuDetector();
  bool run(const float* deviceInput, const std::vector<FrameLetterbox>& boxes,
           std::vector<std::vector<DetectionRecord>>& out, std::string& err);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
