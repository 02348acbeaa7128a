#include "binding/LetterboxWorker.h"

#include "core/Clock.h"
#include "decode/HostFrame.h"
#include "infer/Letterbox.h"

namespace vigil {

LetterboxWorker::LetterboxWorker(Napi::Env env, std::shared_ptr<FramePool> pool, Napi::Float32Array dst, int size,
                                 InputNorm norm, uint64_t minSeq, bool exact)
    : PromiseWorker(env, "vigil.letterbox"),
      pool_(std::move(pool)),
      dstRef_(Napi::Persistent(dst)),
      dst_(dst.Data()),
      size_(size),
      norm_(norm),
      minSeq_(minSeq),
      exact_(exact) {}

LetterboxWorker::LetterboxWorker(Napi::Env env, std::shared_ptr<FramePool> pool, std::shared_ptr<DeviceBatch> batch,
                                 int slot, InputNorm norm, uint64_t minSeq, bool exact)
    : PromiseWorker(env, "vigil.letterbox"),
      pool_(std::move(pool)),
      batch_(std::move(batch)),
      slot_(slot),
      size_(0),
      norm_(norm),
      minSeq_(minSeq),
      exact_(exact) {}

void LetterboxWorker::Execute() {
  startUs_ = monoNowUs();
  FrameLease lease = exact_ ? pool_->bySeq(minSeq_) : pool_->latest();
  if (!lease || lease.info().seq < minSeq_) {
    empty_ = true;
    return;
  }
  frame_ = lease.info();
  // One scaler per pool thread: the libuv pool reuses its threads, so the cache pays off.
  thread_local Letterboxer letterboxer;
  std::string err;
  // A GPU frame is letterboxed on the GPU (only the tensor comes down); where this build
  // cannot (no CUDA, a surface other than NV12), the frame comes down, counted.
  const AVFrame* frame = lease.frame();
  if (!Letterboxer::canRun(frame)) frame = hostPixels(*pool_, frame, HostCopy::Letterbox, err);
  const bool ok = frame && (batch_ ? letterboxer.runInto(frame, *batch_, slot_, norm_, box_, err)
                                   : letterboxer.run(frame, size_, norm_, dst_, box_, err));
  if (!ok) SetError(err);
  doneUs_ = monoNowUs();
}

Napi::Value LetterboxWorker::Result() {
  Napi::Env env = Env();
  if (empty_) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("seq", static_cast<double>(frame_.seq));
  o.Set("ptsUs", static_cast<double>(frame_.ptsUs));
  o.Set("recvUs", static_cast<double>(frame_.recvUs));
  o.Set("decodedUs", static_cast<double>(frame_.decodedUs));
  o.Set("width", box_.width);
  o.Set("height", box_.height);
  o.Set("scale", box_.scale);
  o.Set("padX", box_.padX);
  o.Set("padY", box_.padY);
  o.Set("startUs", static_cast<double>(startUs_));
  o.Set("doneUs", static_cast<double>(doneUs_));
  return o;
}

}  // namespace vigil
