#include "binding/DeviceBatchBinding.h"

#include <string>

#include "binding/Convert.h"
#include "binding/TaggedHandle.h"
#if VIGIL_WITH_CUDA
#include "cuda/DeviceBatch.h"
#endif

namespace vigil {

namespace {
using BatchPtr = std::shared_ptr<DeviceBatch>;
// Tags the externals this file makes, so that another External is not taken for one.
const napi_type_tag kBatchTag = {0x7669676c64657662ULL, 0x6261746368000001ULL};
}  // namespace

std::shared_ptr<DeviceBatch> deviceBatchOf(const Napi::Value& v) { return handleOf<DeviceBatch>(v, kBatchTag); }

Napi::Value CreateDeviceBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if VIGIL_WITH_CUDA
  if (!info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1 ||
      info[0].As<Napi::Number>().Int32Value() > 256) {
    throw invalidParameter(env, "a batch size of 1..256", "maxBatch", info[0]);
  }
  if (!info[1].IsNumber() || info[1].As<Napi::Number>().Int32Value() < 32 ||
      info[1].As<Napi::Number>().Int32Value() > 4096) {
    throw invalidParameter(env, "an input size of 32..4096", "size", info[1]);
  }
  std::string err;
  BatchPtr batch =
      DeviceBatch::create(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(), err);
  if (!batch) throw Napi::Error::New(env, err);
  return newHandle(env, std::move(batch), kBatchTag);
#else
  throw Napi::Error::New(env, "This addon was built without CUDA: no GPU input batch");
#endif
}

}  // namespace vigil
