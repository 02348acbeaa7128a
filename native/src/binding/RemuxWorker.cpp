#include "binding/RemuxWorker.h"

#include "binding/Convert.h"

namespace vigil {

RemuxWorker::RemuxWorker(Napi::Env env, std::string input, std::string output)
    : PromiseWorker(env, "vigil.remux"), input_(std::move(input)), output_(std::move(output)) {}

Napi::Value RemuxWorker::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || info[0].As<Napi::String>().Utf8Value().empty())
    throw invalidParameter(env, "a file path", "input", info[0]);
  if (!info[1].IsString() || info[1].As<Napi::String>().Utf8Value().empty())
    throw invalidParameter(env, "a file path", "output", info[1]);
  return Start(new RemuxWorker(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value()));
}

void RemuxWorker::Execute() {
  std::string err;
  if (remuxToMp4(input_, output_, result_, err) != Status::Ok) SetError(err);
}

Napi::Value RemuxWorker::Result() {
  Napi::Object o = Napi::Object::New(Env());
  o.Set("packets", static_cast<double>(result_.packets));
  o.Set("skipped", static_cast<double>(result_.skipped));
  o.Set("durationUs", static_cast<double>(result_.durationUs));
  o.Set("startUs", static_cast<double>(result_.startUs));
  return o;
}

}  // namespace vigil
