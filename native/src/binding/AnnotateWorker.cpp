#include "binding/AnnotateWorker.h"

#include "binding/Convert.h"

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
  // A GPU frame is painted on the GPU; it comes down only for libx264 (no NVENC), and is counted.
  bool copied = false;
  const Status st = annotator_->annotate(lease.frame(), lease.info(), boxes_, chunk_, err, &copied);
  if (copied) pool_->countHostCopy(HostCopy::Annotate);
  if (st != Status::Ok) SetError(err);
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
