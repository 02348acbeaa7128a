// Addon entry: per-environment data, cleanup hook, exports. Nothing else lives here.
#include <napi.h>

extern "C" {
#include <libavutil/log.h>
}

#include "binding/AddonData.h"
#include "binding/CameraWrap.h"
#include "binding/Convert.h"
#include "binding/DeviceBatchBinding.h"
#include "binding/GpuEngineBinding.h"
#include "binding/ProbeWorker.h"
#include "binding/RemuxWorker.h"
#include "binding/checks/Checks.h"
#include "core/LibavLog.h"
#include "core/SdNotify.h"

namespace vigil {

namespace {

Napi::Value BuildInfoJs(const Napi::CallbackInfo& info) { return toJs(info.Env(), buildInfo()); }

Napi::Value DetectionRecordLayoutJs(const Napi::CallbackInfo& info) { return detectionRecordLayout(info.Env()); }

// libav's own log level (process-wide in libav). Vigil reports media errors as events with
// counts; libav's per-packet chatter stays off unless asked for ("error", "warning", "info").
Napi::Value SetLibavLogLevel(const Napi::CallbackInfo& info) {
  std::string level = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  int v;
  if (level == "quiet")
    v = AV_LOG_QUIET;
  else if (level == "fatal")
    v = AV_LOG_FATAL;
  else if (level == "error")
    v = AV_LOG_ERROR;
  else if (level == "warning")
    v = AV_LOG_WARNING;
  else if (level == "info")
    v = AV_LOG_INFO;
  else if (level == "debug")
    v = AV_LOG_DEBUG;
  else
    throw invalidParameter(info.Env(), "'quiet', 'fatal', 'error', 'warning', 'info' or 'debug'", "level", info[0]);
  av_log_set_level(v);
  return info.Env().Undefined();
}

// sdNotify(state): true when sent, false when there is no $NOTIFY_SOCKET; throws when sending failed.
Napi::Value SdNotifyJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw invalidParameter(env, "a notification such as 'READY=1'", "state", info[0]);
  bool sent = false;
  std::string err;
  if (!sdNotify(info[0].As<Napi::String>().Utf8Value(), sent, err)) throw Napi::Error::New(env, err);
  return Napi::Boolean::New(env, sent);
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);  // deleted by N-API at environment teardown
  // Before teardown: stop every camera thread while the environment can still release queues.
  env.AddCleanupHook([data]() {
    auto cameras = data->cameras;
    for (CameraWrap* c : cameras) c->closeNative();
  });
  av_log_set_level(AV_LOG_FATAL);
  installLibavLogHook();

  Napi::Function camera = CameraWrap::Define(env);
  data->cameraCtor = Napi::Persistent(camera);
  exports.Set("Camera", camera);
  exports.Set("probe", Napi::Function::New(env, ProbeWorker::Run, "probe"));
  exports.Set("remuxToMp4", Napi::Function::New(env, RemuxWorker::Run, "remuxToMp4"));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotifyJs, "sdNotify"));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfoJs, "buildInfo"));
  exports.Set("detectionRecordLayout", Napi::Function::New(env, DetectionRecordLayoutJs, "detectionRecordLayout"));
  exports.Set("setLibavLogLevel", Napi::Function::New(env, SetLibavLogLevel, "setLibavLogLevel"));
  exports.Set("createDeviceBatch", Napi::Function::New(env, CreateDeviceBatch, "createDeviceBatch"));
  exports.Set("openTensorRt", Napi::Function::New(env, OpenTensorRt, "openTensorRt"));
  exports.Set("openInt8Engine", Napi::Function::New(env, OpenInt8Engine, "openInt8Engine"));
  exports.Set("gpuEngineDetect", Napi::Function::New(env, GpuEngineDetect, "gpuEngineDetect"));
  // Checks and benches only, apart from the production surface (src/native/checks.ts).
  exports.Set("checks", makeChecks(env));
  return exports;
}

}  // namespace vigil

static Napi::Object InitVigil(Napi::Env env, Napi::Object exports) { return vigil::Init(env, exports); }

NODE_API_MODULE(vigil, InitVigil)
