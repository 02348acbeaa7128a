#include "binding/AnnotateWorker.h"

#include "binding/Convert.h"
#include "decode/HostFrame.h"

namespace vigil {

AnnotateWorker::AnnotateWorker(Napi::Env env, std::shared_ptr<FramePool> pool, std::shared_ptr<Annotator> annotator,
                               uint64_t seq, std::vector<DetectionRecord> boxes)
    : PromiseWorker(env, "vigil.annotate"),
      pool_(std::move(pool)),
      annotator_(std::move(annotator)),
      seq_(seq),
      boxes_(std::move(boxes)) {}

void AnnotateWorker::Execute() {
  FrameLease lease = pool_->bySeq(seq_);
  if (!lease) {
    empty_ = true;
    return;
  }
  std::string err;
  // Boxes are painted on the CPU here (a CUDA painter on NV12 comes with NVENC): a GPU frame comes down.
  const AVFrame* frame = hostPixels(*pool_, lease.frame(), HostCopy::Annotate, err);
  if (!frame || annotator_->annotate(frame, lease.info(), boxes_, chunk_, err) != Status::Ok) SetError(err);
  empty_ = chunk_.fragment.empty();
}

Napi::Value AnnotateWorker::Result() {
  Napi::Env env = Env();
  if (empty_) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  setFragment(env, o, chunk_.init, chunk_.mime, chunk_.fragment, chunk_.keyframe, chunk_.ptsUs);
  o.Set("seq", static_cast<double>(seq_));
  return o;
}

}  // namespace vigil
