#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "binding/PromiseWorker.h"
#include "core/DetectionRecord.h"
#include "core/FramePool.h"

namespace vigil {

// checks.paintCheck(camera, seq, records): the GPU painter against the CPU painter on the same frame
// (a GPU frame still in the pool): the GPU paints a copy of the surface, the CPU paints a
// host copy of the original, both pictures come down as YUV420P and are compared byte for byte.
// Resolves { width, height, bytes, painted (bytes the boxes changed), mismatched }, or null when
// the frame has left the pool. Rejects for a host frame or an addon without CUDA. A check for
// tests and `vigil doctor`: its copies are not counted as the frame path's.
class PaintCheckWorker : public PromiseWorker {
 public:
  PaintCheckWorker(Napi::Env env, std::shared_ptr<FramePool> pool, uint64_t seq, std::vector<DetectionRecord> boxes);
  // The JS entry: throws for what is not a Camera, a closed one or wrong records.
  static Napi::Value Run(const Napi::CallbackInfo& info);

 protected:
  void Execute() override;
  Napi::Value Result() override;

 private:
  std::shared_ptr<FramePool> pool_;
  uint64_t seq_;
  std::vector<DetectionRecord> boxes_;
  bool empty_ = false;
  int width_ = 0, height_ = 0;
  double bytes_ = 0, painted_ = 0, mismatched_ = 0;
};

}  // namespace vigil
