#include "binding/GpuPost.h"

#include <cstring>
#include <vector>

#include "binding/Convert.h"
#include "core/DetectionRecord.h"
#if VIGIL_WITH_CUDA
#include "cuda/NanodetPost.h"
#endif

namespace vigil {

Napi::Value NanodetPostGpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if !VIGIL_WITH_CUDA
  throw Napi::Error::New(env, "This addon was built without CUDA: no GPU post-processing");
#else
  if (!info[0].IsArray()) throw invalidParameter(env, "an array of { stride, cls, reg }", "levels", info[0]);
  if (!info[1].IsObject()) throw invalidParameter(env, "an object", "params", info[1]);
  Napi::Array arr = info[0].As<Napi::Array>();
  Napi::Object o = info[1].As<Napi::Object>();
  NanodetPostParams p;
  p.inputSize = static_cast<int>(optNumber(o, "inputSize", 416, 32, 4096));
  p.numClasses = static_cast<int>(optNumber(o, "numClasses", 80, 1, 1000));
  p.bins = static_cast<int>(optNumber(o, "regMax", 10, 1, 64)) + 1;
  p.scoreThreshold = static_cast<float>(optNumber(o, "scoreThreshold", 0.4, 0, 1));
  p.iouThreshold = static_cast<float>(optNumber(o, "iouThreshold", 0.6, 0, 1));
  p.maxDetections = static_cast<int>(optNumber(o, "maxDetections", 100, 1, 10000));
  p.scale = static_cast<float>(optNumber(o, "scale", 1, 1e-6, 1e6));
  p.padX = static_cast<float>(optNumber(o, "padX", 0, 0, 1e6));
  p.padY = static_cast<float>(optNumber(o, "padY", 0, 0, 1e6));
  p.srcWidth = static_cast<float>(optNumber(o, "srcWidth", p.inputSize, 1, 1e6));
  p.srcHeight = static_cast<float>(optNumber(o, "srcHeight", p.inputSize, 1, 1e6));
  const int n = static_cast<int>(arr.Length());
  if (n < 1 || n > 4) throw invalidParameter(env, "1 to 4 levels", "levels", info[0]);
  std::vector<const float*> cls(n), reg(n);
  std::vector<int> strides(n);
  for (int i = 0; i < n; ++i) {
    Napi::Object l = arr.Get(i).As<Napi::Object>();
    strides[i] = static_cast<int>(optNumber(l, "stride", 8, 1, 1024));
    Napi::Value c = l.Get("cls");
    Napi::Value r = l.Get("reg");
    if (!c.IsTypedArray() || c.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) throw invalidParameter(env, "a Float32Array", "levels[].cls", c);
    if (!r.IsTypedArray() || r.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) throw invalidParameter(env, "a Float32Array", "levels[].reg", r);
    const size_t w = (p.inputSize + strides[i] - 1) / strides[i];
    if (c.As<Napi::Float32Array>().ElementLength() != w * w * p.numClasses || r.As<Napi::Float32Array>().ElementLength() != w * w * 4 * p.bins) {
      throw invalidParameter(env, "cls [cells × classes] and reg [cells × 4·(regMax+1)] for the level's stride", "levels[].cls/reg", l);
    }
    cls[i] = c.As<Napi::Float32Array>().Data();
    reg[i] = r.As<Napi::Float32Array>().Data();
  }
  GpuNanodetPost post;
  std::vector<DetectionRecord> out;
  uint32_t candidates = 0;
  std::string err;
  if (!post.runFromHost(cls.data(), reg.data(), strides.data(), n, p, out, candidates, err)) throw Napi::Error::New(env, err);
  Napi::Object res = Napi::Object::New(env);
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, out.size() * sizeof(DetectionRecord));
  if (!out.empty()) std::memcpy(buf.Data(), out.data(), out.size() * sizeof(DetectionRecord));
  res.Set("records", Napi::Uint8Array::New(env, out.size() * sizeof(DetectionRecord), buf, 0));
  res.Set("candidates", static_cast<double>(candidates));
  return res;
#endif
}

}  // namespace vigil
