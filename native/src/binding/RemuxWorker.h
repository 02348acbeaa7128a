#pragma once
#include <napi.h>

#include <string>

#include "binding/PromiseWorker.h"
#include "mux/Mp4Remux.h"

namespace vigil {

// remuxToMp4(input, output): finishes an event clip on a worker thread (mux/Mp4Remux.h);
// resolves { packets, skipped, durationUs, startUs }, rejects with why (output removed).
class RemuxWorker : public PromiseWorker {
 public:
  RemuxWorker(Napi::Env env, std::string input, std::string output);
  static Napi::Value Run(const Napi::CallbackInfo& info);

 protected:
  void Execute() override;
  Napi::Value Result() override;

 private:
  std::string input_, output_;
  RemuxResult result_;
};

}  // namespace vigil
