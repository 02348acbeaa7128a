#include "infer/GpuDetector.h"

#if VIGIL_WITH_CUDA
#include "cuda/CudaCheck.h"
#include "cuda/DeviceBatch.h"
#include "cuda/NanodetPost.h"
#endif

namespace vigil {

#if VIGIL_WITH_CUDA

struct GpuDetector::Impl {
  GpuDetectorOptions opts;
  std::unique_ptr<GpuEngine> engine;
  GpuNanodetPost post;
  cudaStream_t stream = nullptr;
  // Per stride: the engine outputs holding its class map and its box bins, and floats per frame.
  struct Level {
    int stride;
    int cls, reg;
    size_t clsPerFrame, regPerFrame;
  };
  std::vector<Level> levels;
  ~Impl() {
    if (stream) cudaStreamDestroy(stream);
  }
};

GpuDetector::GpuDetector() : impl_(std::make_unique<Impl>()) {}
GpuDetector::~GpuDetector() = default;

std::unique_ptr<GpuDetector> GpuDetector::open(const GpuDetectorOptions& opts,
                                               const std::function<void(const std::string&)>& progress,
                                               std::string& err) {
  std::unique_ptr<TrtEngine> engine = TrtEngine::open(opts.engine, progress, err);
  if (!engine) return nullptr;
  return openWith(opts, std::move(engine), err);
}

std::unique_ptr<GpuDetector> GpuDetector::openWith(const GpuDetectorOptions& opts, std::unique_ptr<GpuEngine> engine,
                                                   std::string& err) {
  std::unique_ptr<GpuDetector> self(new GpuDetector());
  Impl& m = *self->impl_;
  m.opts = opts;
  m.engine = std::move(engine);
  const std::vector<std::string>& names = m.engine->outputNames();
  auto find = [&](const std::string& name) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return static_cast<int>(i);
    }
    return -1;
  };
  for (int stride : opts.strides) {
    const int cls = find("cls_s" + std::to_string(stride)), reg = find("reg_s" + std::to_string(stride));
    if (cls < 0 || reg < 0) {
      err = "the model has no outputs cls_s" + std::to_string(stride) + " and reg_s" + std::to_string(stride) +
            " (a NanoDet head is expected)";
      return nullptr;
    }
    const size_t cells =
        static_cast<size_t>((opts.inputSize + stride - 1) / stride) * ((opts.inputSize + stride - 1) / stride);
    m.levels.push_back({stride, cls, reg, cells * opts.numClasses, cells * 4 * (opts.regMax + 1)});
  }
  if (CUDA(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking)) != cudaSuccess) {
    err = "cannot create the inference stream";
    return nullptr;
  }
  return self;
}

int GpuDetector::maxBatch() const { return impl_->engine->maxBatch(); }
const std::string& GpuDetector::cacheKey() const { return impl_->engine->cacheKey(); }
bool GpuDetector::builtNow() const { return impl_->engine->builtNow(); }

bool GpuDetector::detect(const float* input, size_t inputFloats, const std::vector<FrameLetterbox>& boxes,
                         std::vector<std::vector<DetectionRecord>>& out, std::string& err) {
  Impl& m = *impl_;
  const size_t n = boxes.size();
  const size_t perFrame = 3 * static_cast<size_t>(m.opts.inputSize) * m.opts.inputSize;
  if (n < 1 || n > static_cast<size_t>(m.engine->maxBatch())) {
    err =
        "Expected a batch of 1.." + std::to_string(m.engine->maxBatch()) + " frames but received " + std::to_string(n);
    return false;
  }
  if (inputFloats < n * perFrame) {
    err = "Expected " + std::to_string(n) + " frames of 3×" + std::to_string(m.opts.inputSize) +
          "² floats but the input holds " + std::to_string(inputFloats) + " floats";
    return false;
  }
  if (CUDA(cudaMemcpyAsync(m.engine->input(), input, n * perFrame * sizeof(float), cudaMemcpyHostToDevice, m.stream)) !=
      cudaSuccess) {
    err = "cannot copy the batch to the GPU";
    return false;
  }
  return run(m.engine->input(), boxes, out, err);
}

bool GpuDetector::detect(const DeviceBatch& batch, const std::vector<FrameLetterbox>& boxes,
                         std::vector<std::vector<DetectionRecord>>& out, std::string& err) {
  Impl& m = *impl_;
  if (batch.size() != m.opts.inputSize || boxes.size() > static_cast<size_t>(batch.maxBatch())) {
    err = "the GPU input batch does not fit this engine (input " + std::to_string(batch.size()) + ", " +
          std::to_string(batch.maxBatch()) + " slots)";
    return false;
  }
  return run(batch.slot(0), boxes, out, err);
}

bool GpuDetector::run(const float* deviceInput, const std::vector<FrameLetterbox>& boxes,
                      std::vector<std::vector<DetectionRecord>>& out, std::string& err) {
  Impl& m = *impl_;
  const int n = static_cast<int>(boxes.size());
  if (n < 1 || n > m.engine->maxBatch()) {
    err =
        "Expected a batch of 1.." + std::to_string(m.engine->maxBatch()) + " frames but received " + std::to_string(n);
    return false;
  }
  if (!m.engine->enqueue(n, m.stream, err, deviceInput)) return false;
  // The post-processing runs on its own stream: the batch's outputs must be complete first.
  if (CUDA(waitStream(m.stream, m.opts.spinUs)) != cudaSuccess) {
    err = "inference failed on the GPU";
    return false;
  }
  NanodetPostParams p;
  p.inputSize = m.opts.inputSize;
  p.numClasses = m.opts.numClasses;
  p.bins = m.opts.regMax + 1;
  p.scoreThreshold = m.opts.scoreThreshold;
  p.iouThreshold = m.opts.iouThreshold;
  p.maxDetections = m.opts.maxDetections;
  p.spinUs = m.opts.spinUs;
  // The whole batch's decode and NMS at once: frame i's outputs lie i frames into each buffer.
  std::vector<HeadLevelDevice> levels(m.levels.size());
  std::vector<size_t> clsStride(m.levels.size()), regStride(m.levels.size());
  for (size_t k = 0; k < m.levels.size(); ++k) {
    const Impl::Level& l = m.levels[k];
    levels[k] = {m.engine->outputs()[l.cls], m.engine->outputs()[l.reg], l.stride};
    clsStride[k] = l.clsPerFrame;
    regStride[k] = l.regPerFrame;
  }
  std::vector<FrameLetterboxParams> frameBoxes(n);
  for (int i = 0; i < n; ++i)
    frameBoxes[i] = {boxes[i].scale, boxes[i].padX, boxes[i].padY, boxes[i].srcWidth, boxes[i].srcHeight};
  std::vector<uint32_t> candidates;
  if (!m.post.runBatch(levels.data(), static_cast<int>(levels.size()), clsStride.data(), regStride.data(),
                       frameBoxes.data(), n, p, out, candidates, err)) {
    return false;
  }
  return true;
}

#else

struct GpuDetector::Impl {};
GpuDetector::GpuDetector() = default;
GpuDetector::~GpuDetector() = default;
std::unique_ptr<GpuDetector> GpuDetector::open(const GpuDetectorOptions&,
                                               const std::function<void(const std::string&)>&, std::string& err) {
  err = "this addon was built without CUDA: no TensorRT backend";
  return nullptr;
}
std::unique_ptr<GpuDetector> GpuDetector::openWith(const GpuDetectorOptions&, std::unique_ptr<GpuEngine>,
                                                   std::string& err) {
  err = "this addon was built without CUDA: no GPU detector";
  return nullptr;
}
int GpuDetector::maxBatch() const { return 0; }
const std::string& GpuDetector::cacheKey() const {
  static const std::string none;
  return none;
}
bool GpuDetector::builtNow() const { return false; }
bool GpuDetector::detect(const float*, size_t, const std::vector<FrameLetterbox>&,
                         std::vector<std::vector<DetectionRecord>>&, std::string& err) {
  err = "no GPU detector in this build";
  return false;
}
bool GpuDetector::detect(const DeviceBatch&, const std::vector<FrameLetterbox>&,
                         std::vector<std::vector<DetectionRecord>>&, std::string& err) {
  err = "no GPU detector in this build";
  return false;
}

#endif

}  // namespace vigil
