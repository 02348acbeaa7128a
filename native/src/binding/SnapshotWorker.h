#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "binding/PromiseWorker.h"
#include "core/FramePool.h"

namespace vigil {

// camera.snapshot(quality, seq?): leases the pool's latest frame (or the frame `seq`, while the
// pool still holds it) on a worker thread, encodes it to JPEG there, and resolves
// { jpeg: Buffer, seq, ptsUs, decodedUs, width, height }, or null when there is no such frame.
// Holds the pool (shared) for its duration.
class SnapshotWorker : public PromiseWorker {
 public:
  SnapshotWorker(Napi::Env env, std::shared_ptr<FramePool> pool, int quality, int64_t seq = -1);

 protected:
  void Execute() override;
  Napi::Value Result() override;

 private:
  std::shared_ptr<FramePool> pool_;
  int quality_;
  int64_t seq_;  // -1: the latest
  bool empty_ = false;
  FrameInfo info_;
  std::vector<uint8_t> jpeg_;
};

}  // namespace vigil
