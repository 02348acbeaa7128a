#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "binding/PromiseWorker.h"
#include "core/FramePool.h"

namespace vigil {

// camera.snapshot(quality): leases the pool's latest frame on a worker thread, encodes it to
// JPEG there, and resolves { jpeg: Buffer, seq, ptsUs, decodedUs, width, height }, or null
// when the camera has not decoded a frame yet. Holds the pool (shared) for its duration.
class SnapshotWorker : public PromiseWorker {
 public:
  SnapshotWorker(Napi::Env env, std::shared_ptr<FramePool> pool, int quality);

 protected:
  void Execute() override;
  Napi::Value Result() override;

 private:
  std::shared_ptr<FramePool> pool_;
  int quality_;
  bool empty_ = false;
  FrameInfo info_;
  std::vector<uint8_t> jpeg_;
};

}  // namespace vigil
