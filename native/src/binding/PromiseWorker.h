#pragma once
#include <napi.h>

namespace vigil {

// An AsyncWorker that settles a Promise: Execute() runs on a libuv worker thread, Resolve()
// builds the value on the JS thread, a SetError() rejects. Subclasses own their inputs.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  Napi::Promise Promise() { return deferred_.Promise(); }

  // Queues `worker` (deleted by libuv when done) and returns its promise.
  static Napi::Promise Start(PromiseWorker* worker) {
    Napi::Promise p = worker->Promise();
    worker->Queue();
    return p;
  }

 protected:
  PromiseWorker(Napi::Env env, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}
  // The resolved value (JS thread).
  virtual Napi::Value Result() = 0;

 private:
  void OnOK() final { deferred_.Resolve(Result()); }
  void OnError(const Napi::Error& e) final { deferred_.Reject(e.Value()); }

  Napi::Promise::Deferred deferred_;
};

}  // namespace vigil
