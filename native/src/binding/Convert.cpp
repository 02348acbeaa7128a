#include "binding/Convert.h"

#include <cstddef>
#include <cstring>

#include "core/DetectionRecord.h"

namespace vigil {

namespace {
std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsString()) return "string '" + v.As<Napi::String>().Utf8Value() + "'";
  if (v.IsNumber()) return "number " + v.ToString().Utf8Value();
  if (v.IsBoolean()) return std::string("boolean ") + (v.As<Napi::Boolean>().Value() ? "true" : "false");
  if (v.IsArray()) return "array";
  if (v.IsFunction()) return "function";
  return "object";
}
}  // namespace

Napi::TypeError invalidParameter(Napi::Env env, const std::string& what, const std::string& field,
                                 const Napi::Value& got) {
  return Napi::TypeError::New(env, "Expected " + what + " for " + field + " but received " + describe(got));
}

uint64_t readSeqAndRecords(Napi::Env env, const Napi::Value& seq, const Napi::Value& records,
                           std::vector<DetectionRecord>& boxes) {
  if (!seq.IsNumber() || seq.As<Napi::Number>().DoubleValue() < 1)
    throw invalidParameter(env, "a frame seq (an integer ≥ 1)", "seq", seq);
  if (!records.IsTypedArray() || records.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      records.As<Napi::Uint8Array>().ByteLength() % sizeof(DetectionRecord) != 0) {
    throw invalidParameter(env, "a Uint8Array of 24-byte detection records", "records", records);
  }
  Napi::Uint8Array a = records.As<Napi::Uint8Array>();
  boxes.resize(a.ByteLength() / sizeof(DetectionRecord));
  if (!boxes.empty()) std::memcpy(boxes.data(), a.Data(), a.ByteLength());
  return static_cast<uint64_t>(seq.As<Napi::Number>().Int64Value());
}

Napi::Error invalidState(Napi::Env env, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("name", Napi::String::New(env, "InvalidStateError"));
  return e;
}

std::string optString(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) throw invalidParameter(o.Env(), "a string", key, v);
  return v.As<Napi::String>().Utf8Value();
}

double optNumber(const Napi::Object& o, const char* key, double fallback, double min, double max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0;
  if (!v.IsNumber() || !(d >= min && d <= max)) {
    throw invalidParameter(o.Env(),
                           "a number between " + std::to_string(static_cast<long long>(min)) + " and " +
                               std::to_string(static_cast<long long>(max)),
                           key, v);
  }
  return d;
}

bool optBool(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw invalidParameter(o.Env(), "a boolean", key, v);
  return v.As<Napi::Boolean>().Value();
}

SourceOptions readSourceOptions(const Napi::Object& o) {
  SourceOptions s;
  Napi::Value url = o.Get("url");
  if (!url.IsString() || url.As<Napi::String>().Utf8Value().empty()) {
    throw invalidParameter(o.Env(), "a non-empty string", "url", url);
  }
  s.url = url.As<Napi::String>().Utf8Value();
  s.rtspTransport = optString(o, "transport", "tcp");
  if (s.rtspTransport != "tcp" && s.rtspTransport != "udp") {
    throw invalidParameter(o.Env(), "'tcp' or 'udp'", "transport", o.Get("transport"));
  }
  s.timeoutUs = static_cast<int64_t>(optNumber(o, "timeoutMs", 5000, 100, 600000) * 1000);
  s.realtime = optBool(o, "realtime", false);
  Napi::Value protocols = o.Get("protocols");
  if (!protocols.IsUndefined()) {
    const char* what = "a list of protocol names (http, https, udp, rtp, tcp, tls, srt, rtmp, rtmps)";
    if (!protocols.IsArray()) throw invalidParameter(o.Env(), what, "protocols", protocols);
    Napi::Array list = protocols.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value v = list.Get(i);
      if (!v.IsString() || !knownProtocol(v.As<Napi::String>().Utf8Value())) {
        throw invalidParameter(o.Env(), what, "protocols", v);
      }
      s.protocols.push_back(v.As<Napi::String>().Utf8Value());
    }
  }
  return s;
}

Napi::Object detectionRecordLayout(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("bytes", static_cast<double>(sizeof(DetectionRecord)));
  o.Set("x1", static_cast<double>(offsetof(DetectionRecord, x1)));
  o.Set("y1", static_cast<double>(offsetof(DetectionRecord, y1)));
  o.Set("x2", static_cast<double>(offsetof(DetectionRecord, x2)));
  o.Set("y2", static_cast<double>(offsetof(DetectionRecord, y2)));
  o.Set("score", static_cast<double>(offsetof(DetectionRecord, score)));
  o.Set("classId", static_cast<double>(offsetof(DetectionRecord, classId)));
  o.Set("trackId", static_cast<double>(offsetof(DetectionRecord, trackId)));
  return o;
}

void setFragment(Napi::Env env, Napi::Object o, const std::vector<uint8_t>& init, const std::string& mime,
                 const std::vector<uint8_t>& data, bool keyframe, int64_t ptsUs) {
  if (!init.empty()) {
    o.Set("init", Napi::Buffer<uint8_t>::Copy(env, init.data(), init.size()));
    o.Set("mime", mime);
  }
  o.Set("data", Napi::Buffer<uint8_t>::Copy(env, data.data(), data.size()));
  o.Set("keyframe", keyframe);
  o.Set("ptsUs", static_cast<double>(ptsUs));
}

Napi::Object toJs(Napi::Env env, const BuildInfo& b) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("built", b.cuda);
  cuda.Set("toolkit", b.cuda ? Napi::Value(Napi::String::New(env, b.cudaToolkit)) : env.Null());
  cuda.Set("archs", b.cuda ? Napi::Value(Napi::String::New(env, b.cudaArchs)) : env.Null());
  cuda.Set("devices", b.cudaDevices);
  cuda.Set("reason", b.cudaError.empty() ? env.Null() : Napi::Value(Napi::String::New(env, b.cudaError)));
  o.Set("cuda", cuda);
  Napi::Object ff = Napi::Object::New(env);
  ff.Set("avformat", b.avformat);
  ff.Set("avcodec", b.avcodec);
  ff.Set("avutil", b.avutil);
  o.Set("ffmpeg", ff);
  Napi::Object dec = Napi::Object::New(env);
  dec.Set("h264", b.h264);
  dec.Set("hevc", b.hevc);
  dec.Set("nvdec", b.nvdecH264 || b.nvdecHevc);
  Napi::Object nv = Napi::Object::New(env);
  nv.Set("h264", b.nvdecH264);
  nv.Set("hevc", b.nvdecHevc);
  dec.Set("nvdecCodecs", nv);
  o.Set("decoders", dec);
  Napi::Object trt = Napi::Object::New(env);
  trt.Set("compiled", b.trtCompiled);
  trt.Set("headers", b.trtCompiled
                         ? Napi::Value(Napi::String::New(env, std::to_string(b.trtHeaderVersion / 10000) + "." +
                                                                  std::to_string(b.trtHeaderVersion / 100 % 100)))
                         : env.Null());
  trt.Set("available", b.trtAvailable);
  trt.Set("library", b.trtLibraryVersion ? Napi::Value(Napi::Number::New(env, b.trtLibraryVersion)) : env.Null());
  trt.Set("reason", b.trtReason.empty() ? env.Null() : Napi::Value(Napi::String::New(env, b.trtReason)));
  o.Set("tensorrt", trt);
  return o;
}

Napi::Object toJs(Napi::Env env, const ProbeResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", r.ok);
  o.Set("status", r.status);
  o.Set("error", r.ok ? env.Null() : Napi::Value(Napi::String::New(env, r.error)));
  o.Set("format", r.format);
  o.Set("codec", r.codec);
  o.Set("profile", r.profile);
  o.Set("decoder", r.decoder);
  o.Set("width", r.width);
  o.Set("height", r.height);
  o.Set("fps", r.fps);
  o.Set("bitRate", static_cast<double>(r.bitRate));
  o.Set("openMs", r.openMs);
  o.Set("firstFrameMs", r.ok ? Napi::Value(Napi::Number::New(env, r.firstFrameMs)) : env.Null());
  return o;
}

}  // namespace vigil
