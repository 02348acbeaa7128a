#include "binding/ProbeWorker.h"

#include "binding/Convert.h"

namespace vigil {

ProbeWorker::ProbeWorker(Napi::Env env, SourceOptions opts)
    : Napi::AsyncWorker(env, "vigil.probe"), deferred_(Napi::Promise::Deferred::New(env)), opts_(std::move(opts)) {}

Napi::Value ProbeWorker::Run(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throw invalidParameter(info.Env(), "an options object", "options", info[0]);
  auto* worker = new ProbeWorker(info.Env(), readSourceOptions(info[0].As<Napi::Object>()));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

void ProbeWorker::Execute() { result_ = probeSource(opts_); }

void ProbeWorker::OnOK() { deferred_.Resolve(toJs(Env(), result_)); }

}  // namespace vigil
