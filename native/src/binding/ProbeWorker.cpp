#include "binding/ProbeWorker.h"

#include "binding/Convert.h"

namespace vigil {

ProbeWorker::ProbeWorker(Napi::Env env, SourceOptions opts)
    : PromiseWorker(env, "vigil.probe"), opts_(std::move(opts)) {}

Napi::Value ProbeWorker::Run(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throw invalidParameter(info.Env(), "an options object", "options", info[0]);
  return Start(new ProbeWorker(info.Env(), readSourceOptions(info[0].As<Napi::Object>())));
}

void ProbeWorker::Execute() { result_ = probeSource(opts_); }

Napi::Value ProbeWorker::Result() { return toJs(Env(), result_); }

}  // namespace vigil
