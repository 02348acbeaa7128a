#include "binding/SnapshotWorker.h"

#include "decode/HostFrame.h"
#include "encode/JpegEncoder.h"

namespace vigil {

SnapshotWorker::SnapshotWorker(Napi::Env env, std::shared_ptr<FramePool> pool, int quality, int64_t seq)
    : PromiseWorker(env, "vigil.snapshot"), pool_(std::move(pool)), quality_(quality), seq_(seq) {}

void SnapshotWorker::Execute() {
  FrameLease lease = seq_ < 0 ? pool_->latest() : pool_->bySeq(static_cast<uint64_t>(seq_));
  if (!lease) {
    empty_ = true;
    return;
  }
  info_ = lease.info();
  std::string err;
  const AVFrame* frame = hostPixels(*pool_, lease.frame(), HostCopy::Snapshot, err);
  if (!frame || !encodeJpeg(frame, quality_, jpeg_, err)) SetError(err);
}

Napi::Value SnapshotWorker::Result() {
  Napi::Env env = Env();
  if (empty_) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("jpeg", Napi::Buffer<uint8_t>::Copy(env, jpeg_.data(), jpeg_.size()));
  o.Set("seq", static_cast<double>(info_.seq));
  o.Set("ptsUs", static_cast<double>(info_.ptsUs));
  o.Set("decodedUs", static_cast<double>(info_.decodedUs));
  o.Set("width", info_.width);
  o.Set("height", info_.height);
  return o;
}

}  // namespace vigil
