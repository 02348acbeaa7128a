#pragma once
#include <napi.h>

#include <memory>
#include <vector>

#include "binding/PromiseWorker.h"
#include "core/FramePool.h"
#include "overlay/Annotator.h"

namespace vigil {

// camera.annotate(seq, boxes): on a worker thread, leases the frame `seq` (while the pool still
// holds it), burns the boxes in and encodes it as the next frame of the camera's annotated
// stream. Resolves { init?, mime?, data, keyframe, ptsUs, seq }, or null when the frame is gone
// or not newer than the last one annotated.
class AnnotateWorker : public PromiseWorker {
 public:
  AnnotateWorker(Napi::Env env, std::shared_ptr<FramePool> pool, std::shared_ptr<Annotator> annotator, uint64_t seq,
                 std::vector<DetectionRecord> boxes);

 protected:
  void Execute() override;
  Napi::Value Result() override;

 private:
  std::shared_ptr<FramePool> pool_;
  std::shared_ptr<Annotator> annotator_;
  uint64_t seq_;
  std::vector<DetectionRecord> boxes_;
  AnnotatedChunk chunk_;
  bool empty_ = false;
};

}  // namespace vigil
