#include "binding/SnapshotWorker.h"

#include "encode/JpegEncoder.h"

namespace vigil {

SnapshotWorker::SnapshotWorker(Napi::Env env, std::shared_ptr<FramePool> pool, int quality)
    : Napi::AsyncWorker(env, "vigil.snapshot"),
      deferred_(Napi::Promise::Deferred::New(env)),
      pool_(std::move(pool)),
      quality_(quality) {}

void SnapshotWorker::Execute() {
  FrameLease lease = pool_->latest();
  if (!lease) {
    empty_ = true;
    return;
  }
  info_ = lease.info();
  std::string err;
  if (!encodeJpeg(lease.frame(), quality_, jpeg_, err)) SetError(err);
}

void SnapshotWorker::OnOK() {
  Napi::Env env = Env();
  if (empty_) {
    deferred_.Resolve(env.Null());
    return;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("jpeg", Napi::Buffer<uint8_t>::Copy(env, jpeg_.data(), jpeg_.size()));
  o.Set("seq", static_cast<double>(info_.seq));
  o.Set("ptsUs", static_cast<double>(info_.ptsUs));
  o.Set("decodedUs", static_cast<double>(info_.decodedUs));
  o.Set("width", info_.width);
  o.Set("height", info_.height);
  deferred_.Resolve(o);
}

void SnapshotWorker::OnError(const Napi::Error& e) { deferred_.Reject(e.Value()); }

}  // namespace vigil
