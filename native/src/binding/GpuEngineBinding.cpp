#include "binding/GpuEngineBinding.h"

#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "binding/Convert.h"
#include "binding/DeviceBatchBinding.h"
#include "binding/GpuEngineHandle.h"
#include "binding/Int8EngineOptionsReader.h"
#include "binding/Int8ProgramReader.h"
#include "binding/PromiseWorker.h"
#include "infer/GpuDetector.h"
#if VIGIL_WITH_CUDA
#include "int8/Int8Engine.h"
#endif

namespace vigil {

namespace {

using HandlePtr = GpuEngineHandlePtr;

class OpenWorker : public PromiseWorker {
 public:
  OpenWorker(Napi::Env env, GpuDetectorOptions opts)
      : PromiseWorker(env, "vigil.openTensorRt"), opts_(std::move(opts)) {}
  OpenWorker(Napi::Env env, GpuDetectorOptions opts, Int8Program program, Int8EngineOptions engineOptions)
      : PromiseWorker(env, "vigil.openInt8Engine"),
        opts_(std::move(opts)),
        program_(std::make_unique<Int8Program>(std::move(program))),
        engineOptions_(engineOptions) {}

 protected:
  void Execute() override {
    std::string err;
    auto handle = std::make_shared<GpuEngineHandle>();
#if VIGIL_WITH_CUDA
    if (program_) {
      std::unique_ptr<Int8Engine> engine =
          Int8Engine::open(std::move(*program_), opts_.engine.maxBatch, engineOptions_, err);
      if (!engine) return SetError(err);
      handle->int8 = engine.get();
      handle->detector = GpuDetector::openWith(opts_, std::move(engine), err);
      if (!handle->detector) return SetError(err);
      handle_ = std::move(handle);
      return;
    }
#else
    if (program_) return SetError("This addon was built without CUDA: no INT8 engine");
#endif
    handle->detector = GpuDetector::open(
        opts_, [this](const std::string& line) { log_.push_back(line); }, err);
    if (!handle->detector) return SetError(err);
    handle_ = std::move(handle);
  }
  Napi::Value Result() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("handle", newHandle(env, handle_, kGpuEngineTag));
    o.Set("maxBatch", handle_->detector->maxBatch());
    o.Set("cacheKey", handle_->detector->cacheKey());
    o.Set("builtNow", handle_->detector->builtNow());
    Napi::Array log = Napi::Array::New(env, log_.size());
    for (size_t i = 0; i < log_.size(); ++i) log.Set(i, log_[i]);
    o.Set("log", log);
    return o;
  }

 private:
  GpuDetectorOptions opts_;
  std::unique_ptr<Int8Program> program_;  // set: Vigil's INT8 engine instead of TensorRT
  Int8EngineOptions engineOptions_;
  HandlePtr handle_;
  std::vector<std::string> log_;  // TensorRT's build messages (the callback runs on this thread)
};

class DetectWorker : public PromiseWorker {
 public:
  DetectWorker(Napi::Env env, HandlePtr handle, Napi::Float32Array input, std::vector<FrameLetterbox> boxes)
      : PromiseWorker(env, "vigil.gpuEngineDetect"),
        handle_(std::move(handle)),
        inputRef_(Napi::Persistent(input)),
        input_(input.Data()),
        inputFloats_(input.ElementLength()),
        boxes_(std::move(boxes)) {}
  DetectWorker(Napi::Env env, HandlePtr handle, std::shared_ptr<DeviceBatch> batch, std::vector<FrameLetterbox> boxes)
      : PromiseWorker(env, "vigil.gpuEngineDetect"),
        handle_(std::move(handle)),
        batch_(std::move(batch)),
        boxes_(std::move(boxes)) {}

 protected:
  void Execute() override {
    std::lock_guard<std::mutex> lock(handle_->mutex);
    std::string err;
    const bool ok = batch_ ? handle_->detector->detect(*batch_, boxes_, out_, err)
                           : handle_->detector->detect(input_, inputFloats_, boxes_, out_, err);
    if (!ok) SetError(err);
  }
  Napi::Value Result() override {
    Napi::Env env = Env();
    Napi::Array frames = Napi::Array::New(env, out_.size());
    for (size_t i = 0; i < out_.size(); ++i) {
      const size_t bytes = out_[i].size() * sizeof(DetectionRecord);
      Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, bytes);
      if (bytes) std::memcpy(buf.Data(), out_[i].data(), bytes);
      frames.Set(i, Napi::Uint8Array::New(env, bytes, buf, 0));
    }
    return frames;
  }

 private:
  HandlePtr handle_;
  Napi::Reference<Napi::Float32Array> inputRef_;  // JS owns the batch tensor; held for the duration
  const float* input_ = nullptr;
  size_t inputFloats_ = 0;
  std::shared_ptr<DeviceBatch> batch_;  // instead of input_: the letterboxes wrote it on the GPU
  std::vector<FrameLetterbox> boxes_;
  std::vector<std::vector<DetectionRecord>> out_;
};

// The options both GPU backends share: batch, model input and the post-processing's.
void readDetectorOptions(const Napi::Object& o, GpuDetectorOptions& opts) {
  opts.engine.maxBatch = static_cast<int>(optNumber(o, "maxBatch", 8, 1, 256));
  opts.engine.minBatch = static_cast<int>(optNumber(o, "minBatch", 1, 1, opts.engine.maxBatch));
  opts.engine.optBatch =
      static_cast<int>(optNumber(o, "optBatch", opts.engine.maxBatch, opts.engine.minBatch, opts.engine.maxBatch));
  opts.inputSize = static_cast<int>(optNumber(o, "inputSize", 416, 32, 4096));
  opts.numClasses = static_cast<int>(optNumber(o, "numClasses", 80, 1, 1000));
  opts.regMax = static_cast<int>(optNumber(o, "regMax", 10, 1, 63));
  opts.scoreThreshold = static_cast<float>(optNumber(o, "scoreThreshold", 0.4, 0, 1));
  opts.iouThreshold = static_cast<float>(optNumber(o, "iouThreshold", 0.6, 0, 1));
  opts.maxDetections = static_cast<int>(optNumber(o, "maxDetections", 100, 1, 10000));
}

}  // namespace

Napi::Value OpenTensorRt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw invalidParameter(env, "an options object", "options", info[0]);
  Napi::Object o = info[0].As<Napi::Object>();
  GpuDetectorOptions opts;
  opts.engine.onnxPath = optString(o, "onnx", "");
  opts.engine.cacheDir = optString(o, "cacheDir", "");
  if (opts.engine.onnxPath.empty()) throw invalidParameter(env, "the ONNX model's path", "onnx", o.Get("onnx"));
  if (opts.engine.cacheDir.empty())
    throw invalidParameter(env, "a directory for engine plans", "cacheDir", o.Get("cacheDir"));
  readDetectorOptions(o, opts);
  return PromiseWorker::Start(new OpenWorker(env, std::move(opts)));
}

Napi::Value GpuEngineDetect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandlePtr handle = gpuEngineHandleOf(info[0]);
  if (!handle) throw invalidParameter(env, "a handle from openTensorRt() or openInt8Engine()", "handle", info[0]);
  std::shared_ptr<DeviceBatch> batch = deviceBatchOf(info[1]);
  if (!batch && (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)) {
    throw invalidParameter(env, "a Float32Array of letterboxed frames or a GPU input batch", "input", info[1]);
  }
  if (!info[2].IsArray())
    throw invalidParameter(env, "an array of { scale, padX, padY, srcWidth, srcHeight }", "boxes", info[2]);
  Napi::Array arr = info[2].As<Napi::Array>();
  std::vector<FrameLetterbox> boxes(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    if (!arr.Get(i).IsObject()) throw invalidParameter(env, "an object", "boxes[]", arr.Get(i));
    Napi::Object b = arr.Get(i).As<Napi::Object>();
    boxes[i] = {
        static_cast<float>(optNumber(b, "scale", 1, 1e-6, 1e6)), static_cast<float>(optNumber(b, "padX", 0, 0, 1e6)),
        static_cast<float>(optNumber(b, "padY", 0, 0, 1e6)), static_cast<float>(optNumber(b, "srcWidth", 1, 1, 1e6)),
        static_cast<float>(optNumber(b, "srcHeight", 1, 1, 1e6))};
  }
  if (batch) return PromiseWorker::Start(new DetectWorker(env, std::move(handle), std::move(batch), std::move(boxes)));
  Napi::Float32Array input = info[1].As<Napi::Float32Array>();
  return PromiseWorker::Start(new DetectWorker(env, std::move(handle), input, std::move(boxes)));
}

Napi::Value OpenInt8Engine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw invalidParameter(env, "an options object", "options", info[0]);
  Napi::Object o = info[0].As<Napi::Object>();
  // Everything is read and checked here, on the JS thread, before any GPU is looked for.
  const Int8EngineOptions engineOptions = readInt8EngineOptions(env, o.Get("options"));
  if (!o.Get("program").IsObject())
    throw invalidParameter(env, "the lowered program (src/model/int8/program.ts)", "program", o.Get("program"));
  GpuDetectorOptions opts;
  readDetectorOptions(o, opts);
  opts.spinUs = engineOptions.spinUs;
  Int8Program program = readProgram(env, o.Get("program").As<Napi::Object>());
#if !VIGIL_WITH_CUDA
  throw Napi::Error::New(env, "This addon was built without CUDA: no INT8 engine");
#endif
  return PromiseWorker::Start(new OpenWorker(env, std::move(opts), std::move(program), engineOptions));
}

}  // namespace vigil
