#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

#include "overlay/Annotator.h"
#include "pipeline/CameraPipeline.h"

namespace vigil {

// One event from a camera thread to JS. Heap-allocated by the camera thread, freed by CallJs
// on the JS thread (or by the poster when the queue refuses it).
struct CameraEvent {
  enum class Kind { Opened, Frame, Video, Error, Ended };
  explicit CameraEvent(Kind k) : kind(k) {}
  Kind kind;
  uint64_t session = 0;
  FrameInfo frame;
  VideoChunk video;
  StreamInfo stream;
  std::string stage;
  std::string message;
  uint64_t count = 0;
  Status reason = Status::Ok;
};

struct EventState;
void callJsEvent(Napi::Env env, Napi::Function cb, EventState* state, CameraEvent* ev);
using EventTsfn = Napi::TypedThreadSafeFunction<EventState, CameraEvent, callJsEvent>;

// JS-thread state shared by the wrap and its queued events. Owned by the ThreadSafeFunction
// (deleted in its finalizer), so events still queued after the wrap is gone stay safe.
struct EventState {
  EventTsfn tsfn;
  // Frame and error events queued and not yet handled by JS, and their bound. The TSFN queue
  // itself is unbounded so that a session's `ended` event is never refused; the bound on
  // per-frame traffic is kept here (camera thread increments, JS thread decrements).
  std::atomic<size_t> inFlight{0};
  size_t maxInFlight = 32;
  // The same for video fragments, bounded apart so that video cannot starve frame events.
  std::atomic<size_t> videoInFlight{0};
  size_t maxVideoInFlight = 64;  // 2 × queueSize
  // The counter that bounds events of kind `k` and its limit; nullptr for opened/ended (never dropped).
  std::atomic<size_t>* bound(CameraEvent::Kind k, size_t& max) {
    if (k == CameraEvent::Kind::Video) return max = maxVideoInFlight, &videoInFlight;
    if (k == CameraEvent::Kind::Frame || k == CameraEvent::Kind::Error) return max = maxInFlight, &inFlight;
    return nullptr;
  }
  uint64_t session = 0;  // the newest session started
  bool refed = false;    // the queue holds the event loop open while a session runs
  bool closed = false;
};

// JS class `Camera`: new Camera(options, onEvent). The wrap is the pipeline's sink: camera
// threads post events to one bounded ThreadSafeFunction and never touch N-API otherwise.
class CameraWrap : public Napi::ObjectWrap<CameraWrap>, public PipelineSink {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit CameraWrap(const Napi::CallbackInfo& info);
  ~CameraWrap() override;

  // Stops the thread and releases the event queue. Idempotent; JS thread only.
  void closeNative();

  // The wrap behind a JS Camera of this environment, or nullptr when `v` is not one (checks).
  static CameraWrap* of(const Napi::Value& v);
  bool closed() const { return closed_; }
  // The camera's frame pool (shared: a worker may hold it past close()).
  std::shared_ptr<FramePool> pool() const { return pipeline_->pool(); }

  // PipelineSink (camera thread)
  void onOpened(uint64_t session, const StreamInfo& info) override;
  bool onFrame(uint64_t session, const FrameInfo& info) override;
  bool onVideo(uint64_t session, VideoChunk&& chunk) override;
  void onError(uint64_t session, const char* stage, const std::string& message, uint64_t count) override;
  void onEnded(uint64_t session, Status reason, const std::string& message) override;

 private:
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Snapshot(const Napi::CallbackInfo& info);
  Napi::Value Letterbox(const Napi::CallbackInfo& info);
  Napi::Value Annotate(const Napi::CallbackInfo& info);
  Napi::Value Running(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);
  // Posts without blocking. Bounded events (frames, errors, video) are dropped when their
  // bound is reached; returns false then. Session opens and ends are always queued.
  bool post(CameraEvent* ev);
  void stopSession();

  std::unique_ptr<CameraPipeline> pipeline_;
  // The annotated stream (boxes burned in, re-encoded); shared with in-flight annotate workers.
  std::shared_ptr<Annotator> annotator_ = std::make_shared<Annotator>();
  EventState* state_ = nullptr;  // owned by the ThreadSafeFunction
  bool closed_ = false;
  CameraCounters finalCounters_;
};

}  // namespace vigil
