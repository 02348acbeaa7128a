#include "infer/TensorRtBackend.h"

#if VIGIL_WITH_TENSORRT
#include <NvInfer.h>
#include <NvOnnxParser.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include "cuda/CudaCheck.h"
#endif

namespace vigil {

#if !VIGIL_WITH_TENSORRT

TrtStatus tensorRtStatus() {
  TrtStatus s;
  s.reason = "this addon was built without the TensorRT backend (no CUDA or no TensorRT headers at build time)";
  return s;
}

struct TrtEngine::Impl {};
TrtEngine::TrtEngine() = default;
TrtEngine::~TrtEngine() = default;
std::unique_ptr<TrtEngine> TrtEngine::open(const TrtEngineOptions&, const std::function<void(const std::string&)>&,
                                           std::string& err) {
  err = tensorRtStatus().reason;
  return nullptr;
}
float* TrtEngine::input() const { return nullptr; }
const std::vector<float*>& TrtEngine::outputs() const {
  static const std::vector<float*> none;
  return none;
}
const std::vector<std::string>& TrtEngine::outputNames() const {
  static const std::vector<std::string> none;
  return none;
}
int TrtEngine::maxBatch() const { return 0; }
const std::string& TrtEngine::cacheKey() const {
  static const std::string none;
  return none;
}
bool TrtEngine::builtNow() const { return false; }
bool TrtEngine::enqueue(int, void*, std::string& err, const float*) {
  err = tensorRtStatus().reason;
  return false;
}

#else

namespace {

// TensorRT's entry points, looked up in the shared libraries at run time.
struct TrtLibrary {
  void* infer = nullptr;
  void* parser = nullptr;
  void* (*createBuilder)(void*, int32_t) = nullptr;
  void* (*createRuntime)(void*, int32_t) = nullptr;
  int32_t (*libVersion)() = nullptr;
  void* (*createParser)(void*, void*, int) = nullptr;
  std::string reason;
};

void* openFirst(std::initializer_list<const char*> names, std::string& tried) {
  for (const char* n : names) {
    if (void* h = dlopen(n, RTLD_NOW | RTLD_LOCAL)) return h;
    const char* e = dlerror();
    tried += std::string(tried.empty() ? "" : "; ") + (e ? e : n);
  }
  return nullptr;
}

const TrtLibrary& library() {
  static TrtLibrary lib;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string tried;
    lib.infer = openFirst({"libnvinfer.so.11", "libnvinfer.so.10", "libnvinfer.so"}, tried);
    if (!lib.infer) {
      lib.reason = "TensorRT's libnvinfer is not installed here (" + tried + ")";
      return;
    }
    lib.parser = openFirst({"libnvonnxparser.so.11", "libnvonnxparser.so.10", "libnvonnxparser.so"}, tried);
    if (!lib.parser) {
      lib.reason = "TensorRT's libnvonnxparser is not installed here (" + tried + ")";
      return;
    }
    lib.createBuilder = reinterpret_cast<void* (*)(void*, int32_t)>(dlsym(lib.infer, "createInferBuilder_INTERNAL"));
    lib.createRuntime = reinterpret_cast<void* (*)(void*, int32_t)>(dlsym(lib.infer, "createInferRuntime_INTERNAL"));
    lib.libVersion = reinterpret_cast<int32_t (*)()>(dlsym(lib.infer, "getInferLibVersion"));
    lib.createParser = reinterpret_cast<void* (*)(void*, void*, int)>(dlsym(lib.parser, "createNvOnnxParser_INTERNAL"));
    if (!lib.createBuilder || !lib.createRuntime || !lib.libVersion || !lib.createParser) {
      lib.reason = "TensorRT's libraries lack the expected entry points";
      return;
    }
    const int major = lib.libVersion() / 10000;
    if (major != NV_TENSORRT_MAJOR) {
      lib.reason = "TensorRT " + std::to_string(major) + " is installed; this build was compiled against TensorRT " +
                   std::to_string(NV_TENSORRT_MAJOR);
    }
  });
  return lib;
}

class Logger final : public nvinfer1::ILogger {
 public:
  explicit Logger(std::function<void(const std::string&)> progress) : progress_(std::move(progress)) {}
  // TensorRT logs from whichever thread calls it (build, enqueue, teardown): one lock.
  void log(Severity severity, const char* msg) noexcept override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (severity <= Severity::kERROR) errors_ += std::string(errors_.empty() ? "" : "; ") + msg;
    if (severity <= Severity::kINFO && progress_) progress_(msg);
  }
  // The errors logged since the last call (and forgets them).
  std::string takeErrors() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(errors_, std::string());
  }
  // The caller's progress callback lives only as long as open(): dropped when it returns.
  void stopProgress() {
    std::lock_guard<std::mutex> lock(mutex_);
    progress_ = nullptr;
  }

 private:
  std::mutex mutex_;
  std::string errors_;
  std::function<void(const std::string&)> progress_;
};

uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
  return h;
}

bool readFile(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream s;
  s << f.rdbuf();
  out = s.str();
  return true;
}

}  // namespace

TrtStatus tensorRtStatus() {
  TrtStatus s;
  s.compiled = true;
  s.headerVersion = NV_TENSORRT_MAJOR * 10000 + NV_TENSORRT_MINOR * 100 + NV_TENSORRT_PATCH;
  const TrtLibrary& lib = library();
  s.available = lib.reason.empty();
  s.libraryVersion = lib.libVersion ? lib.libVersion() : 0;
  s.reason = lib.reason;
  return s;
}

struct TrtEngine::Impl {
  std::unique_ptr<Logger> logger;
  std::unique_ptr<nvinfer1::IRuntime> runtime;
  std::unique_ptr<nvinfer1::ICudaEngine> engine;
  std::unique_ptr<nvinfer1::IExecutionContext> context;
  std::string inputName;
  nvinfer1::Dims inputDims{};
  std::vector<std::string> outputNames;
  std::vector<size_t> outputPerItem;  // floats per batch item
  DeviceBuffer<float> inputBuf;
  std::vector<std::unique_ptr<DeviceBuffer<float> > > outputBufs;
  std::vector<float*> outputPtrs;
  int maxBatch = 1;
  std::string key;
  bool builtNow = false;
};

TrtEngine::TrtEngine() : impl_(std::make_unique<Impl>()) {}
TrtEngine::~TrtEngine() {
  if (impl_) {  // the context before the engine before the runtime
    impl_->context.reset();
    impl_->engine.reset();
    impl_->runtime.reset();
  }
}

std::unique_ptr<TrtEngine> TrtEngine::open(const TrtEngineOptions& opts,
                                           const std::function<void(const std::string&)>& progress, std::string& err) {
  std::unique_ptr<TrtEngine> engine = openWith(opts, progress, err);
  if (engine) engine->impl_->logger->stopProgress();
  return engine;
}

std::unique_ptr<TrtEngine> TrtEngine::openWith(const TrtEngineOptions& opts,
                                               const std::function<void(const std::string&)>& progress,
                                               std::string& err) {
  const TrtLibrary& lib = library();
  if (!lib.reason.empty()) {
    err = lib.reason;
    return nullptr;
  }
  std::string model;
  if (!readFile(opts.onnxPath, model)) {
    err = "cannot read the model " + opts.onnxPath;
    return nullptr;
  }
  usePrimaryContextFlags();
  cudaDeviceProp prop{};
  int device = 0;
  if (CUDA(cudaGetDevice(&device)) != cudaSuccess || CUDA(cudaGetDeviceProperties(&prop, device)) != cudaSuccess) {
    err = "no usable CUDA device for TensorRT";
    return nullptr;
  }
  const bool int8 = model.find("QuantizeLinear") != std::string::npos;
  std::unique_ptr<TrtEngine> self(new TrtEngine());
  Impl& m = *self->impl_;
  m.logger = std::make_unique<Logger>(progress);
  char key[512];
  std::snprintf(key, sizeof key, "sm%d%d-%s-trt%d-%016llx-%s-b%d_%d_%d", prop.major, prop.minor, prop.name,
                lib.libVersion(), static_cast<unsigned long long>(fnv1a(model)), int8 ? "int8qdq" : "fp32",
                opts.minBatch, opts.optBatch, opts.maxBatch);
  m.key = key;
  for (char& c : m.key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) c = '_';
  }
  const std::string cachePath = opts.cacheDir + "/" + m.key + ".plan";
  std::string plan;
  if (!readFile(cachePath, plan)) {
    m.builtNow = true;
    if (progress) progress("building the TensorRT engine (" + m.key + "): this takes a few minutes, once");
    std::unique_ptr<nvinfer1::IBuilder> builder(
        static_cast<nvinfer1::IBuilder*>(lib.createBuilder(m.logger.get(), NV_TENSORRT_VERSION)));
    if (!builder) {
      err = "TensorRT could not create a builder: " + m.logger->takeErrors();
      return nullptr;
    }
    std::unique_ptr<nvinfer1::INetworkDefinition> network(builder->createNetworkV2(0));
    std::unique_ptr<nvonnxparser::IParser> parser(
        static_cast<nvonnxparser::IParser*>(lib.createParser(network.get(), m.logger.get(), NV_ONNX_PARSER_VERSION)));
    if (!network || !parser || !parser->parse(model.data(), model.size())) {
      err = "TensorRT could not parse " + opts.onnxPath;
      for (int i = 0; parser && i < parser->getNbErrors(); ++i)
        err += std::string(i ? "; " : ": ") + parser->getError(i)->desc();
      return nullptr;
    }
    nvinfer1::ITensor* in = network->getInput(0);
    nvinfer1::Dims d = in->getDimensions();
    std::unique_ptr<nvinfer1::IBuilderConfig> config(builder->createBuilderConfig());
    nvinfer1::IOptimizationProfile* profile = builder->createOptimizationProfile();
    auto withBatch = [&](int b) {
      nvinfer1::Dims x = d;
      x.d[0] = d.d[0] < 0 ? b : d.d[0];  // a fixed batch in the ONNX pins the profile
      return x;
    };
    profile->setDimensions(in->getName(), nvinfer1::OptProfileSelector::kMIN, withBatch(opts.minBatch));
    profile->setDimensions(in->getName(), nvinfer1::OptProfileSelector::kOPT, withBatch(opts.optBatch));
    profile->setDimensions(in->getName(), nvinfer1::OptProfileSelector::kMAX, withBatch(opts.maxBatch));
    config->addOptimizationProfile(profile);
    config->setMemoryPoolLimit(nvinfer1::MemoryPoolType::kWORKSPACE, size_t(1) << 30);
    std::unique_ptr<nvinfer1::IHostMemory> serialized(builder->buildSerializedNetwork(*network, *config));
    if (!serialized) {
      err = "TensorRT could not build the engine: " + m.logger->takeErrors();
      return nullptr;
    }
    plan.assign(static_cast<const char*>(serialized->data()), serialized->size());
    const std::string tmp = cachePath + ".partial";
    std::ofstream f(tmp, std::ios::binary);
    f.write(plan.data(), static_cast<std::streamsize>(plan.size()));
    f.close();
    if (!f || std::rename(tmp.c_str(), cachePath.c_str()) != 0) {
      err = "cannot write the engine cache " + cachePath;
      return nullptr;
    }
  }
  m.runtime.reset(static_cast<nvinfer1::IRuntime*>(lib.createRuntime(m.logger.get(), NV_TENSORRT_VERSION)));
  if (m.runtime) m.engine.reset(m.runtime->deserializeCudaEngine(plan.data(), plan.size()));
  if (m.engine) m.context.reset(m.engine->createExecutionContext());
  if (!m.context) {
    err = "TensorRT could not load the engine " + cachePath + ": " + m.logger->takeErrors();
    return nullptr;
  }
  for (int i = 0; i < m.engine->getNbIOTensors(); ++i) {
    const char* name = m.engine->getIOTensorName(i);
    nvinfer1::Dims shape = m.engine->getTensorShape(name);
    if (m.engine->getTensorIOMode(name) == nvinfer1::TensorIOMode::kINPUT) {
      m.inputName = name;
      m.inputDims = shape;
      m.maxBatch = shape.d[0] < 0 ? opts.maxBatch : static_cast<int>(shape.d[0]);
    }
  }
  size_t inPerItem = 1;
  for (int k = 1; k < m.inputDims.nbDims; ++k) inPerItem *= static_cast<size_t>(m.inputDims.d[k]);
  if (CUDA(m.inputBuf.reserve(inPerItem * m.maxBatch)) != cudaSuccess) {
    err = "out of GPU memory for the engine's input";
    return nullptr;
  }
  for (int i = 0; i < m.engine->getNbIOTensors(); ++i) {
    const char* name = m.engine->getIOTensorName(i);
    if (m.engine->getTensorIOMode(name) != nvinfer1::TensorIOMode::kOUTPUT) continue;
    nvinfer1::Dims shape = m.engine->getTensorShape(name);
    size_t per = 1;
    for (int k = 1; k < shape.nbDims; ++k) per *= static_cast<size_t>(shape.d[k] < 0 ? 1 : shape.d[k]);
    auto buf = std::make_unique<DeviceBuffer<float> >();
    if (CUDA(buf->reserve(per * m.maxBatch)) != cudaSuccess) {
      err = "out of GPU memory for the engine's outputs";
      return nullptr;
    }
    m.outputNames.push_back(name);
    m.outputPerItem.push_back(per);
    m.outputPtrs.push_back(buf->get());
    m.outputBufs.push_back(std::move(buf));
  }
  // Warm-up: one inference at the largest batch, so the first camera frame does not pay for it.
  cudaStream_t stream = nullptr;
  if (CUDA(cudaStreamCreate(&stream)) == cudaSuccess) {
    std::string werr;
    const bool ok = self->enqueue(m.maxBatch, stream, werr) && CUDA(cudaStreamSynchronize(stream)) == cudaSuccess;
    cudaStreamDestroy(stream);
    if (!ok) {
      err = "TensorRT warm-up failed: " + werr;
      return nullptr;
    }
  }
  return self;
}

float* TrtEngine::input() const { return impl_->inputBuf.get(); }
const std::vector<float*>& TrtEngine::outputs() const { return impl_->outputPtrs; }
const std::vector<std::string>& TrtEngine::outputNames() const { return impl_->outputNames; }
int TrtEngine::maxBatch() const { return impl_->maxBatch; }
const std::string& TrtEngine::cacheKey() const { return impl_->key; }
bool TrtEngine::builtNow() const { return impl_->builtNow; }

bool TrtEngine::enqueue(int batch, void* stream, std::string& err, const float* input) {
  Impl& m = *impl_;
  if (batch < 1 || batch > m.maxBatch) {
    err = "Expected a batch of 1.." + std::to_string(m.maxBatch) + " but received " + std::to_string(batch);
    return false;
  }
  m.logger->takeErrors();  // this call's errors only
  nvinfer1::Dims d = m.inputDims;
  d.d[0] = batch;
  bool ok = m.context->setInputShape(m.inputName.c_str(), d) &&
            m.context->setTensorAddress(m.inputName.c_str(), input ? const_cast<float*>(input) : m.inputBuf.get());
  for (size_t i = 0; ok && i < m.outputNames.size(); ++i)
    ok = m.context->setTensorAddress(m.outputNames[i].c_str(), m.outputPtrs[i]);
  if (ok) ok = m.context->enqueueV3(static_cast<cudaStream_t>(stream));
  if (!ok) err = "TensorRT inference failed: " + m.logger->takeErrors();
  return ok;
}

#endif

}  // namespace vigil
