#include "binding/checks/KernelChecks.h"

#include <cstring>
#include <vector>

#include "binding/Convert.h"
#include "core/DetectionRecord.h"
#if VIGIL_WITH_CUDA
#include "cuda/NanodetPost.h"
#include "int8/Int8Conv.h"
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
    if (!c.IsTypedArray() || c.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw invalidParameter(env, "a Float32Array", "levels[].cls", c);
    if (!r.IsTypedArray() || r.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw invalidParameter(env, "a Float32Array", "levels[].reg", r);
    const size_t w = (p.inputSize + strides[i] - 1) / strides[i];
    if (c.As<Napi::Float32Array>().ElementLength() != w * w * p.numClasses ||
        r.As<Napi::Float32Array>().ElementLength() != w * w * 4 * p.bins) {
      throw invalidParameter(env, "cls [cells × classes] and reg [cells × 4·(regMax+1)] for the level's stride",
                             "levels[].cls/reg", l);
    }
    cls[i] = c.As<Napi::Float32Array>().Data();
    reg[i] = r.As<Napi::Float32Array>().Data();
  }
  GpuNanodetPost post;
  std::vector<DetectionRecord> out;
  uint32_t candidates = 0;
  std::string err;
  if (!post.runFromHost(cls.data(), reg.data(), strides.data(), n, p, out, candidates, err))
    throw Napi::Error::New(env, err);
  Napi::Object res = Napi::Object::New(env);
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, out.size() * sizeof(DetectionRecord));
  if (!out.empty()) std::memcpy(buf.Data(), out.data(), out.size() * sizeof(DetectionRecord));
  res.Set("records", Napi::Uint8Array::New(env, out.size() * sizeof(DetectionRecord), buf, 0));
  res.Set("candidates", static_cast<double>(candidates));
  return res;
#endif
}

Napi::Value Int8ConvGpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if !VIGIL_WITH_CUDA
  throw Napi::Error::New(env, "This addon was built without CUDA: no INT8 convolution on the GPU");
#else
  if (!info[0].IsObject()) throw invalidParameter(env, "an object", "layer", info[0]);
  Napi::Object o = info[0].As<Napi::Object>();
  Int8ConvShape s;
  auto dim = [&](const char* k, double lo, double hi) { return static_cast<int>(optNumber(o, k, -1, lo, hi)); };
  s.C = dim("C", 1, 1 << 16);
  s.H = dim("H", 1, 1 << 16);
  s.W = dim("W", 1, 1 << 16);
  s.O = dim("O", 1, 1 << 16);
  s.Ho = dim("Ho", 1, 1 << 16);
  s.Wo = dim("Wo", 1, 1 << 16);
  s.kh = dim("kh", 1, 64);
  s.kw = dim("kw", 1, 64);
  s.sh = dim("sh", 1, 64);
  s.sw = dim("sw", 1, 64);
  s.pt = dim("pt", 0, 64);
  s.pl = dim("pl", 0, 64);
  s.dh = dim("dh", 1, 64);
  s.dw = dim("dw", 1, 64);
  s.group = dim("group", 1, 1 << 16);
  if (s.C % s.group != 0 || s.O % s.group != 0)
    throw invalidParameter(env, "C and O divisible by group", "group", o.Get("group"));
  auto typed = [&](const char* k, napi_typedarray_type t, size_t n, bool optional) -> void* {
    Napi::Value v = o.Get(k);
    if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != t ||
        v.As<Napi::TypedArray>().ElementLength() != n) {
      throw invalidParameter(env, "a typed array of the layer's size and type", k, v);
    }
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    return static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  };
  const size_t cpg = static_cast<size_t>(s.C / s.group);
  auto* x = static_cast<const int8_t*>(typed("x", napi_int8_array, static_cast<size_t>(s.C) * s.H * s.W, false));
  auto* w =
      static_cast<const int8_t*>(typed("w", napi_int8_array, static_cast<size_t>(s.O) * cpg * s.kh * s.kw, false));
  auto* bias = static_cast<const int32_t*>(typed("bias", napi_int32_array, s.O, true));
  auto* mult = static_cast<const float*>(typed("mult", napi_float32_array, s.O, false));
  Int8ConvEpilogue e;
  Napi::Value ev = o.Get("epilogue");
  if (!ev.IsArray() || ev.As<Napi::Array>().Length() > kMaxEpilogue)
    throw invalidParameter(env, "an array of at most 8 { op, arg }", "epilogue", ev);
  Napi::Array ea = ev.As<Napi::Array>();
  e.n = static_cast<int>(ea.Length());
  for (int k = 0; k < e.n; ++k) {
    Napi::Object step = ea.Get(k).As<Napi::Object>();
    e.op[k] = static_cast<EpilogueOp>(static_cast<int>(optNumber(step, "op", 0, 0, 3)));
    e.arg[k] = static_cast<float>(optNumber(step, "arg", 0, -1e30, 1e30));
  }
  e.int8Out = o.Get("int8Out").ToBoolean();
  if (e.int8Out && (e.n == 0 || e.op[e.n - 1] != EpilogueOp::Requantize))
    throw invalidParameter(env, "a requantize last for an int8 output", "epilogue", ev);
  const size_t ny = static_cast<size_t>(s.O) * s.Ho * s.Wo;
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, ny * (e.int8Out ? 1 : 4));
  std::string err;
  if (!int8ConvFromHost(s, e, x, w, bias, mult, buf.Data(), err)) throw Napi::Error::New(env, err);
  if (e.int8Out) return Napi::Int8Array::New(env, ny, buf, 0);
  return Napi::Float32Array::New(env, ny, buf, 0);
#endif
}

}  // namespace vigil
