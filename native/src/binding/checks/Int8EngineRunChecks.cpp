#include "binding/checks/Int8EngineRunChecks.h"

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "binding/Convert.h"
#include "binding/GpuEngineHandle.h"
#include "binding/PromiseWorker.h"
#if VIGIL_WITH_CUDA
#include <cuda_runtime.h>

#include <chrono>

#include "cuda/CudaCheck.h"
#include "int8/Int8EngineChecks.h"
#endif

namespace vigil {

#if VIGIL_WITH_CUDA
namespace {

using HandlePtr = GpuEngineHandlePtr;

HandlePtr int8HandleOf(const Napi::Value& v) {
  HandlePtr h = gpuEngineHandleOf(v);
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
    const int spinUs = Int8EngineChecks::options(e).spinUs;
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
        if (!Int8EngineChecks::profile(e, batch_, st, ms, err)) break;
        opMs_.resize(ms.size(), 0.0);
        for (size_t k = 0; k < ms.size(); ++k) opMs_[k] += ms[k] / iterations_;
      }
    } else {
      for (int i = 0; i < iterations_ && err.empty(); ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        cudaEventRecord(a, st);
        if (!(graphs_ ? e.enqueue(batch_, st, err) : Int8EngineChecks::enqueueEachOp(e, batch_, st, err))) break;
        cudaEventRecord(b, st);
        if (waitStream(st, spinUs) != cudaSuccess) {
          err = "the INT8 engine failed on the GPU: " + std::string(cudaGetErrorString(cudaGetLastError()));
          break;
        }
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        gpuMs_.push_back(ms);
        wallMs_.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    }
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
    const int size = Int8EngineChecks::program(*handle->int8).inputSize;
    const size_t per = 3 * static_cast<size_t>(size) * size;
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
  if (!Int8EngineChecks::readBuffer(*handle->int8, info[1].As<Napi::String>().Utf8Value(), image, bytes, err))
    throw Napi::Error::New(env, err);
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, bytes.size());
  if (!bytes.empty()) std::memcpy(buf.Data(), bytes.data(), bytes.size());
  return Napi::Uint8Array::New(env, bytes.size(), buf, 0);
}
#else
Napi::Value Int8EngineRun(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), "This addon was built without CUDA: no INT8 engine");
}
Napi::Value Int8EngineRead(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), "This addon was built without CUDA: no INT8 engine");
}
#endif

}  // namespace vigil
