#include "binding/TrtBinding.h"

#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "binding/Convert.h"
#include "binding/DeviceBatchBinding.h"
#include "binding/PromiseWorker.h"
#include "binding/TaggedHandle.h"
#include "infer/GpuDetector.h"
#if VIGIL_WITH_CUDA
#include <cuda_runtime.h>

#include <chrono>

#include "cuda/CudaCheck.h"
#include "cuda/Int8Engine.h"
#endif

namespace vigil {

namespace {

// What a JS handle holds: the detector and the lock that keeps it to one batch at a time.
struct TrtHandle {
  std::mutex mutex;
  std::unique_ptr<GpuDetector> detector;
#if VIGIL_WITH_CUDA
  Int8Engine* int8 = nullptr;  // the `cuda` backend's engine (owned by the detector), for checks and benches
#endif
};
using HandlePtr = std::shared_ptr<TrtHandle>;
// Tags the externals openTensorRt makes, so that another External is not taken for one.
const napi_type_tag kTrtTag = {0x7669676c74727464ULL, 0x6574656374000001ULL};

class OpenWorker : public PromiseWorker {
 public:
  OpenWorker(Napi::Env env, GpuDetectorOptions opts)
      : PromiseWorker(env, "vigil.openTensorRt"), opts_(std::move(opts)) {}
#if VIGIL_WITH_CUDA
  OpenWorker(Napi::Env env, GpuDetectorOptions opts, Int8Program program, int maxBatch)
      : PromiseWorker(env, "vigil.openInt8Engine"),
        opts_(std::move(opts)),
        program_(std::make_unique<Int8Program>(std::move(program))),
        maxBatch_(maxBatch) {}
#endif

 protected:
  void Execute() override {
    std::string err;
    auto handle = std::make_shared<TrtHandle>();
#if VIGIL_WITH_CUDA
    if (program_) {
      std::unique_ptr<Int8Engine> engine = Int8Engine::open(std::move(*program_), maxBatch_, err);
      if (!engine) return SetError(err);
      handle->int8 = engine.get();
      handle->detector = GpuDetector::openWith(opts_, std::move(engine), err);
      if (!handle->detector) return SetError(err);
      handle_ = std::move(handle);
      return;
    }
#endif
    handle->detector = GpuDetector::open(
        opts_, [this](const std::string& line) { log_.push_back(line); }, err);
    if (!handle->detector) return SetError(err);
    handle_ = std::move(handle);
  }
  Napi::Value Result() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("handle", newHandle(env, handle_, kTrtTag));
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
#if VIGIL_WITH_CUDA
  std::unique_ptr<Int8Program> program_;  // set: Vigil's INT8 engine instead of TensorRT
  int maxBatch_ = 0;
#endif
  HandlePtr handle_;
  std::vector<std::string> log_;  // TensorRT's build messages (the callback runs on this thread)
};

class DetectWorker : public PromiseWorker {
 public:
  DetectWorker(Napi::Env env, HandlePtr handle, Napi::Float32Array input, std::vector<FrameLetterbox> boxes)
      : PromiseWorker(env, "vigil.tensorRtDetect"),
        handle_(std::move(handle)),
        inputRef_(Napi::Persistent(input)),
        input_(input.Data()),
        inputFloats_(input.ElementLength()),
        boxes_(std::move(boxes)) {}
  DetectWorker(Napi::Env env, HandlePtr handle, std::shared_ptr<DeviceBatch> batch, std::vector<FrameLetterbox> boxes)
      : PromiseWorker(env, "vigil.tensorRtDetect"),
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

Napi::Value TensorRtDetect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandlePtr handle = handleOf<TrtHandle>(info[0], kTrtTag);
  if (!handle) throw invalidParameter(env, "a handle from openTensorRt()", "handle", info[0]);
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

#if VIGIL_WITH_CUDA
namespace {

// The program src/model/int8/program.ts lowers, as JS hands it over (copied: JS may drop it).
Int8Program readProgram(Napi::Env env, const Napi::Object& o) {
  Int8Program p;
  p.inputSize = static_cast<int>(optNumber(o, "inputSize", 416, 32, 4096));
  auto arrayOf = [&](const Napi::Object& from, const char* key) {
    Napi::Value v = from.Get(key);
    if (!v.IsArray()) throw invalidParameter(env, "an array", std::string("program.") + key, v);
    return v.As<Napi::Array>();
  };
  Napi::Array buffers = arrayOf(o, "buffers");
  for (uint32_t i = 0; i < buffers.Length(); ++i) {
    if (!buffers.Get(i).IsObject()) throw invalidParameter(env, "an object", "program.buffers[]", buffers.Get(i));
    Napi::Object b = buffers.Get(i).As<Napi::Object>();
    ProgramBuffer pb;
    pb.name = optString(b, "name", "");
    pb.int8 = optBool(b, "int8", false);
    pb.scale = static_cast<float>(optNumber(b, "scale", 0, 0, 1e30));
    pb.H = static_cast<int>(optNumber(b, "H", 1, 1, 1 << 16));
    pb.W = static_cast<int>(optNumber(b, "W", 1, 1, 1 << 16));
    pb.C = static_cast<int>(optNumber(b, "C", 1, 1, 1 << 16));
    if (pb.int8 && !(pb.scale > 0))
      throw invalidParameter(env, "a positive scale for an int8 buffer", "program.buffers[].scale", b.Get("scale"));
    p.buffers.push_back(pb);
  }
  const double nb = static_cast<double>(p.buffers.size());
  auto viewOf = [&](const Napi::Object& op, const char* key) {
    BufferView v;
    Napi::Value x = op.Get(key);
    if (x.IsUndefined()) return v;
    if (!x.IsObject()) throw invalidParameter(env, "{ buffer, offset }", std::string("program.ops[].") + key, x);
    v.buffer = static_cast<int>(optNumber(x.As<Napi::Object>(), "buffer", -1, 0, nb - 1));
    v.offset = static_cast<int>(optNumber(x.As<Napi::Object>(), "offset", 0, 0, 1 << 16));
    return v;
  };
  auto copy = [&](const Napi::Object& op, const char* key, napi_typedarray_type type, auto& dst) {
    Napi::Value v = op.Get(key);
    if (v.IsUndefined() || v.IsNull()) return;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
      throw invalidParameter(env, "a typed array of the op's type", std::string("program.ops[].") + key, v);
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    using T = typename std::decay_t<decltype(dst)>::value_type;
    const T* data = reinterpret_cast<const T*>(static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
    dst.assign(data, data + a.ElementLength());
  };
  // A kernel window: size, stride and top/left pads (a convolution's or max-pool's, a stem's pool).
  auto window = [](const Napi::Object& q, int& kh, int& kw, int& sh, int& sw, int& pt, int& pl) {
    kh = static_cast<int>(optNumber(q, "kh", 1, 1, 64));
    kw = static_cast<int>(optNumber(q, "kw", 1, 1, 64));
    sh = static_cast<int>(optNumber(q, "sh", 1, 1, 64));
    sw = static_cast<int>(optNumber(q, "sw", 1, 1, 64));
    pt = static_cast<int>(optNumber(q, "pt", 0, 0, 64));
    pl = static_cast<int>(optNumber(q, "pl", 0, 0, 64));
  };
  Napi::Array ops = arrayOf(o, "ops");
  for (uint32_t i = 0; i < ops.Length(); ++i) {
    if (!ops.Get(i).IsObject()) throw invalidParameter(env, "an object", "program.ops[]", ops.Get(i));
    Napi::Object x = ops.Get(i).As<Napi::Object>();
    ProgramOp op;
    op.kind = static_cast<ProgramOpKind>(static_cast<int>(optNumber(x, "kind", -1, 0, 8)));
    op.in = viewOf(x, "in");
    op.in2 = viewOf(x, "in2");
    op.out = viewOf(x, "out");
    op.aux = viewOf(x, "aux");
    op.auxAt = static_cast<int>(optNumber(x, "auxAt", 0, 0, kMaxEpilogue));
    Napi::Value pool = x.Get("pool");
    if (!pool.IsUndefined()) {
      if (!pool.IsObject()) throw invalidParameter(env, "{ kh, kw, sh, sw, pt, pl }", "program.ops[].pool", pool);
      window(pool.As<Napi::Object>(), op.pkh, op.pkw, op.psh, op.psw, op.ppt, op.ppl);
    }
    op.channels = static_cast<int>(optNumber(x, "channels", 0, 0, 1 << 16));
    op.space = static_cast<int>(optNumber(x, "space", 1, 1, 2));
    op.O = static_cast<int>(optNumber(x, "O", 0, 0, 1 << 16));
    op.C = static_cast<int>(optNumber(x, "C", 0, 0, 1 << 16));
    window(x, op.kh, op.kw, op.sh, op.sw, op.pt, op.pl);
    op.scaleY = static_cast<float>(optNumber(x, "scaleY", 1, 1e-6, 1e6));
    op.scaleX = static_cast<float>(optNumber(x, "scaleX", 1, 1e-6, 1e6));
    op.value = static_cast<float>(optNumber(x, "value", 0, -1e30, 1e30));
    op.act = static_cast<UnaryAct>(static_cast<int>(optNumber(x, "act", 0, 0, 3)));
    op.alpha = static_cast<float>(optNumber(x, "alpha", 0, -1e30, 1e30));
    op.inScale = static_cast<float>(optNumber(x, "inScale", 0, 0, 1e30));
    copy(x, "w8", napi_int8_array, op.w8);
    copy(x, "wf", napi_float32_array, op.wf);
    copy(x, "bias8", napi_int32_array, op.bias8);
    copy(x, "biasf", napi_float32_array, op.biasf);
    copy(x, "mult", napi_float32_array, op.mult);
    Napi::Value ev = x.Get("epilogue");
    if (!ev.IsUndefined()) {
      if (!ev.IsArray() || ev.As<Napi::Array>().Length() > kMaxEpilogue)
        throw invalidParameter(env, "an array of at most 8 { op, arg }", "program.ops[].epilogue", ev);
      Napi::Array ea = ev.As<Napi::Array>();
      op.epilogue.n = static_cast<int>(ea.Length());
      for (int k = 0; k < op.epilogue.n; ++k) {
        Napi::Object step = ea.Get(k).As<Napi::Object>();
        op.epilogue.op[k] = static_cast<EpilogueOp>(static_cast<int>(optNumber(step, "op", 0, 0, 3)));
        op.epilogue.arg[k] = static_cast<float>(optNumber(step, "arg", 0, -1e30, 1e30));
      }
    }
    op.epilogue.int8Out = optBool(x, "int8Out", false);
    if (op.epilogue.int8Out && (op.epilogue.n == 0 || op.epilogue.op[op.epilogue.n - 1] != EpilogueOp::Requantize)) {
      throw invalidParameter(env, "a requantize last for an int8 output", "program.ops[].epilogue", ev);
    }
    p.ops.push_back(std::move(op));
  }
  Napi::Array outputs = arrayOf(o, "outputs");
  for (uint32_t i = 0; i < outputs.Length(); ++i) {
    Napi::Object x = outputs.Get(i).As<Napi::Object>();
    p.outputs.push_back({optString(x, "name", ""), static_cast<int>(optNumber(x, "buffer", -1, 0, nb - 1))});
  }
  return p;
}

HandlePtr int8HandleOf(const Napi::Value& v) {
  HandlePtr h = handleOf<TrtHandle>(v, kTrtTag);
  if (!h || !h->int8) throw invalidParameter(v.Env(), "a handle from openInt8Engine()", "handle", v);
  return h;
}

// Runs the engine alone (no post-processing) `iterations` times on a batch: the GPU time of each
// run (CUDA events) and its wall time (enqueue to done), for checks and bench:infer.
class Int8RunWorker : public PromiseWorker {
 public:
  Int8RunWorker(Napi::Env env, HandlePtr handle, std::vector<float> input, int batch, int iterations, bool graphs,
                bool profile)
      : PromiseWorker(env, "vigil.int8EngineRun"),
        handle_(std::move(handle)),
        input_(std::move(input)),
        batch_(batch),
        iterations_(iterations),
        graphs_(graphs),
        profile_(profile) {}

 protected:
  void Execute() override {
    std::lock_guard<std::mutex> lock(handle_->mutex);
    Int8Engine& e = *handle_->int8;
    e.useGraphs(graphs_);
    std::string err;
    cudaStream_t st = nullptr;
    cudaEvent_t a = nullptr, b = nullptr;
    if (cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking) != cudaSuccess || cudaEventCreate(&a) != cudaSuccess ||
        cudaEventCreate(&b) != cudaSuccess) {
      err = "cannot create a stream or events";
    } else if (!input_.empty() && cudaMemcpy(e.input(), input_.data(), input_.size() * sizeof(float),
                                             cudaMemcpyHostToDevice) != cudaSuccess) {
      err = "cannot copy the input to the GPU";
    } else if (profile_) {
      // Each op alone, timed on the GPU; the mean over the iterations.
      std::vector<float> ms;
      for (int i = 0; i < iterations_ && err.empty(); ++i) {
        if (!e.profile(batch_, st, ms, err)) break;
        opMs_.resize(ms.size(), 0.0);
        for (size_t k = 0; k < ms.size(); ++k) opMs_[k] += ms[k] / iterations_;
      }
    } else {
      for (int i = 0; i < iterations_ && err.empty(); ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        cudaEventRecord(a, st);
        if (!e.enqueue(batch_, st, err)) break;
        cudaEventRecord(b, st);
        if (waitStream(st) != cudaSuccess) {
          err = "the INT8 engine failed on the GPU: " + std::string(cudaGetErrorString(cudaGetLastError()));
          break;
        }
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        gpuMs_.push_back(ms);
        wallMs_.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    e.useGraphs(true);
    if (a) cudaEventDestroy(a);
    if (b) cudaEventDestroy(b);
    if (st) cudaStreamDestroy(st);
    if (!err.empty()) SetError(err);
  }
  Napi::Value Result() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    Napi::Float64Array g = Napi::Float64Array::New(env, gpuMs_.size()),
                       w = Napi::Float64Array::New(env, wallMs_.size());
    for (size_t i = 0; i < gpuMs_.size(); ++i) g[i] = gpuMs_[i];
    for (size_t i = 0; i < wallMs_.size(); ++i) w[i] = wallMs_[i];
    o.Set("gpuMs", g);
    o.Set("wallMs", w);
    Napi::Float64Array p = Napi::Float64Array::New(env, opMs_.size());
    for (size_t i = 0; i < opMs_.size(); ++i) p[i] = opMs_[i];
    o.Set("opMs", p);
    return o;
  }

 private:
  HandlePtr handle_;
  std::vector<float> input_;
  int batch_, iterations_;
  bool graphs_, profile_;
  std::vector<double> gpuMs_, wallMs_, opMs_;
};

}  // namespace

Napi::Value OpenInt8Engine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw invalidParameter(env, "an options object", "options", info[0]);
  Napi::Object o = info[0].As<Napi::Object>();
  if (!o.Get("program").IsObject())
    throw invalidParameter(env, "the lowered program (src/model/int8/program.ts)", "program", o.Get("program"));
  GpuDetectorOptions opts;
  readDetectorOptions(o, opts);
  Int8Program program = readProgram(env, o.Get("program").As<Napi::Object>());
  return PromiseWorker::Start(new OpenWorker(env, std::move(opts), std::move(program), opts.engine.maxBatch));
}

Napi::Value Int8EngineRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandlePtr handle = int8HandleOf(info[0]);
  if (!info[1].IsObject()) throw invalidParameter(env, "{ input?, batch, iterations, graphs }", "options", info[1]);
  Napi::Object o = info[1].As<Napi::Object>();
  const int batch = static_cast<int>(optNumber(o, "batch", 1, 1, handle->int8->maxBatch()));
  const int iterations = static_cast<int>(optNumber(o, "iterations", 1, 1, 100000));
  std::vector<float> input;
  Napi::Value in = o.Get("input");
  if (!in.IsUndefined() && !in.IsNull()) {
    const size_t per = 3 * static_cast<size_t>(handle->int8->program().inputSize) * handle->int8->program().inputSize;
    if (!in.IsTypedArray() || in.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        in.As<Napi::Float32Array>().ElementLength() != per * batch) {
      throw invalidParameter(env, "a Float32Array of `batch` frames [3, S, S]", "input", in);
    }
    Napi::Float32Array f = in.As<Napi::Float32Array>();
    input.assign(f.Data(), f.Data() + f.ElementLength());
  }
  return PromiseWorker::Start(new Int8RunWorker(env, std::move(handle), std::move(input), batch, iterations,
                                                optBool(o, "graphs", true), optBool(o, "profile", false)));
}

Napi::Value Int8EngineRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  HandlePtr handle = int8HandleOf(info[0]);
  if (!info[1].IsString()) throw invalidParameter(env, "a buffer name", "name", info[1]);
  const int image = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 0;
  std::lock_guard<std::mutex> lock(handle->mutex);
  std::vector<uint8_t> bytes;
  std::string err;
  if (!handle->int8->readBuffer(info[1].As<Napi::String>().Utf8Value(), image, bytes, err))
    throw Napi::Error::New(env, err);
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, bytes.size());
  if (!bytes.empty()) std::memcpy(buf.Data(), bytes.data(), bytes.size());
  return Napi::Uint8Array::New(env, bytes.size(), buf, 0);
}
#else
Napi::Value OpenInt8Engine(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), "This addon was built without CUDA: no INT8 engine");
}
Napi::Value Int8EngineRun(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), "This addon was built without CUDA: no INT8 engine");
}
Napi::Value Int8EngineRead(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), "This addon was built without CUDA: no INT8 engine");
}
#endif

}  // namespace vigil
