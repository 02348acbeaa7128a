#include "binding/checks/DeviceBatchChecks.h"

#include <string>

#include "binding/Convert.h"
#include "binding/DeviceBatchBinding.h"
#if VIGIL_WITH_CUDA
#include "cuda/DeviceBatch.h"
#endif

namespace vigil {

using BatchPtr = std::shared_ptr<DeviceBatch>;

Napi::Value DeviceBatchRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if VIGIL_WITH_CUDA
  BatchPtr batch = deviceBatchOf(info[0]);
  if (!batch) throw invalidParameter(env, "a handle from createDeviceBatch()", "batch", info[0]);
  const double first = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  const double count = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : -1;
  if (first < 0 || count < 1 || first + count > batch->maxBatch() || first != static_cast<int>(first) ||
      count != static_cast<int>(count)) {
    throw invalidParameter(env, "slots first, count within 0.." + std::to_string(batch->maxBatch() - 1), "first/count",
                           info[1]);
  }
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(count) * batch->slotFloats());
  std::string err;
  if (!batch->download(static_cast<int>(first), static_cast<int>(count), out.Data(), err))
    throw Napi::Error::New(env, err);
  return out;
#else
  throw Napi::Error::New(env, "This addon was built without CUDA: no GPU input batch");
#endif
}

}  // namespace vigil
