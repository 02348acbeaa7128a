#pragma once
#include <napi.h>

#include "pipeline/Probe.h"

namespace vigil {

// probe(options): opens a source on a worker thread, decodes its first frame, resolves a
// ProbeResult object (failures are a result with ok: false, not a rejection).
class ProbeWorker : public Napi::AsyncWorker {
 public:
  ProbeWorker(Napi::Env env, SourceOptions opts);
  Napi::Promise Promise() { return deferred_.Promise(); }
  static Napi::Value Run(const Napi::CallbackInfo& info);

 protected:
  void Execute() override;
  void OnOK() override;

 private:
  Napi::Promise::Deferred deferred_;
  SourceOptions opts_;
  ProbeResult result_;
};

}  // namespace vigil
