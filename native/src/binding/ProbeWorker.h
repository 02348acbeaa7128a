#pragma once
#include <napi.h>

#include "binding/PromiseWorker.h"
#include "pipeline/Probe.h"

namespace vigil {

// probe(options): opens a source on a worker thread, decodes its first frame, resolves a
// ProbeResult object (failures are a result with ok: false, not a rejection).
class ProbeWorker : public PromiseWorker {
 public:
  ProbeWorker(Napi::Env env, SourceOptions opts);
  static Napi::Value Run(const Napi::CallbackInfo& info);

 protected:
  void Execute() override;
  Napi::Value Result() override;

 private:
  SourceOptions opts_;
  ProbeResult result_;
};

}  // namespace vigil
