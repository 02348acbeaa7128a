#include "binding/CameraWrap.h"

#include <algorithm>
#include <cstring>

#include "binding/AddonData.h"
#if VIGIL_WITH_CUDA
#include "cuda/DeviceBatch.h"
#endif
#include "binding/AnnotateWorker.h"
#include "binding/Convert.h"
#include "binding/DeviceBatchBinding.h"
#include "binding/LetterboxWorker.h"
#include "binding/SnapshotWorker.h"

namespace vigil {

namespace {
constexpr int kDefaultQueue = 32;

const char* endReason(Status s) {
  switch (s) {
    case Status::Eos:
      return "eos";
    case Status::Timeout:
      return "timeout";
    case Status::Stopped:
      return "stopped";
    default:
      return "error";
  }
}
}  // namespace

Napi::Function CameraWrap::Define(Napi::Env env) {
  return DefineClass(env, "Camera",
                     {
                         InstanceMethod<&CameraWrap::Open>("open"),
                         InstanceMethod<&CameraWrap::Stop>("stop"),
                         InstanceMethod<&CameraWrap::Close>("close"),
                         InstanceMethod<&CameraWrap::Stats>("stats"),
                         InstanceMethod<&CameraWrap::Snapshot>("snapshot"),
                         InstanceMethod<&CameraWrap::Letterbox>("letterbox"),
                         InstanceMethod<&CameraWrap::Annotate>("annotate"),
                         InstanceAccessor<&CameraWrap::Running>("running"),
                         InstanceAccessor<&CameraWrap::Closed>("closed"),
                     });
}

CameraWrap::CameraWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CameraWrap>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw invalidParameter(env, "an options object", "options", info[0]);
  if (!info[1].IsFunction()) throw invalidParameter(env, "a function", "onEvent", info[1]);
  Napi::Object o = info[0].As<Napi::Object>();

  CameraOptions opts;
  opts.source = readSourceOptions(o);
  opts.loop = optBool(o, "loop", false);
  opts.poolSlots = static_cast<int>(optNumber(o, "poolSlots", 4, 2, 64));
  opts.video = optBool(o, "video", false);
  opts.decoder.threads = static_cast<int>(optNumber(o, "decodeThreads", 0, 0, 64));
  opts.decoder.lowDelay = optBool(o, "lowDelay", false);
  std::string pref = optString(o, "decoder", "auto");
  if (pref == "auto") {
    opts.decoder.preference = DecoderPreference::Auto;
  } else if (pref == "software") {
    opts.decoder.preference = DecoderPreference::Software;
  } else if (pref == "nvdec") {
    opts.decoder.preference = DecoderPreference::Nvdec;
  } else {
    throw invalidParameter(env, "'auto', 'software' or 'nvdec'", "decoder", o.Get("decoder"));
  }
  // NVDEC surfaces beyond the decoder's own: the pool's references + the frame being
  // delivered, at most 12 (NVDEC takes about 32 in all, the reference frames included).
  opts.decoder.extraSurfaces = std::min(opts.poolSlots + 1, 12);
  size_t queue = static_cast<size_t>(optNumber(o, "queueSize", kDefaultQueue, 1, 4096));

  try {
    pipeline_ = std::make_unique<CameraPipeline>(std::move(opts), this);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("cannot create the camera: ") + e.what());
  }
  state_ = new EventState();
  state_->maxInFlight = queue;
  state_->maxVideoInFlight = 2 * queue;  // up to two fragments (packets) per frame event
  state_->tsfn = EventTsfn::New(env, info[1].As<Napi::Function>(), "vigil.camera", 0, 1, state_,
                                [](Napi::Env, void*, EventState* s) { delete s; });
  state_->tsfn.Unref(env);  // an idle camera does not keep the process alive
  env.GetInstanceData<AddonData>()->cameras.insert(this);
}

CameraWrap::~CameraWrap() { closeNative(); }

void CameraWrap::closeNative() {
  if (closed_) return;
  closed_ = true;
  stopSession();
  finalCounters_ = pipeline_->counters();
  pipeline_.reset();
  state_->closed = true;
  state_->tsfn.Release();  // state_ is freed by the finalizer once the queue is done
  if (auto* data = Env().GetInstanceData<AddonData>()) data->cameras.erase(this);
}

void CameraWrap::stopSession() {
  pipeline_->stop();
  if (state_->refed) {
    state_->tsfn.Unref(Env());
    state_->refed = false;
  }
}

Napi::Value CameraWrap::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw invalidState(env, "Camera is closed");
  if (pipeline_->running()) throw invalidState(env, "Camera session is already running; call stop() first");
  if (!state_->refed) {
    state_->tsfn.Ref(env);
    state_->refed = true;
  }
  try {
    state_->session = pipeline_->start();
  } catch (const std::exception& e) {  // e.g. std::system_error: no thread could be created
    throw Napi::Error::New(env, std::string("cannot start the camera thread: ") + e.what());
  }
  return Napi::Number::New(env, static_cast<double>(state_->session));
}

Napi::Value CameraWrap::Stop(const Napi::CallbackInfo& info) {
  if (closed_) throw invalidState(info.Env(), "Camera is closed");
  stopSession();
  return info.Env().Undefined();
}

Napi::Value CameraWrap::Close(const Napi::CallbackInfo& info) {
  closeNative();
  return info.Env().Undefined();
}

Napi::Value CameraWrap::Running(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !closed_ && pipeline_->running());
}

Napi::Value CameraWrap::Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

Napi::Value CameraWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CameraCounters c = closed_ ? finalCounters_ : pipeline_->counters();
  Napi::Object o = Napi::Object::New(env);
  o.Set("sessions", static_cast<double>(c.sessions));
  o.Set("packets", static_cast<double>(c.packets));
  o.Set("bytes", static_cast<double>(c.bytes));
  o.Set("framesDecoded", static_cast<double>(c.framesDecoded));
  o.Set("framesPublished", static_cast<double>(c.framesPublished));
  o.Set("decodeErrors", static_cast<double>(c.decodeErrors));
  o.Set("corruptFrames", static_cast<double>(c.corruptFrames));
  o.Set("droppedPoolFull", static_cast<double>(c.droppedPoolFull));
  o.Set("droppedQueueFull", static_cast<double>(c.droppedQueueFull));
  o.Set("loops", static_cast<double>(c.loops));
  o.Set("videoFragments", static_cast<double>(c.videoFragments));
  o.Set("videoDropped", static_cast<double>(c.videoDropped));
  o.Set("videoEncoded", static_cast<double>(c.videoEncoded));
  o.Set("poolAllocations", static_cast<double>(c.poolAllocations));
  o.Set("gpuFrames", c.gpuFrames);
  Napi::Object copies = Napi::Object::New(env);
  copies.Set("letterbox", static_cast<double>(c.hostCopiesLetterbox));
  copies.Set("snapshot", static_cast<double>(c.hostCopiesSnapshot));
  copies.Set("annotate", static_cast<double>(c.hostCopiesAnnotate));
  copies.Set("encode", static_cast<double>(c.hostCopiesEncode));
  o.Set("hostCopies", copies);
  o.Set("decoder", closed_ ? std::string() : pipeline_->decoderName());
  o.Set("encoder", closed_ ? std::string() : pipeline_->encoderName());
  o.Set("annotateEncoder", annotator_->encoderName());
  return o;
}

Napi::Value CameraWrap::Snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw invalidState(env, "Camera is closed");
  int quality = 85;
  if (!info[0].IsUndefined()) {
    if (!info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 1 ||
        info[0].As<Napi::Number>().Int32Value() > 100) {
      throw invalidParameter(env, "an integer between 1 and 100", "quality", info[0]);
    }
    quality = info[0].As<Napi::Number>().Int32Value();
  }
  int64_t seq = -1;
  if (!info[1].IsUndefined()) {
    double v = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    if (!(v >= 0 && v <= 9007199254740991.0) || v != static_cast<double>(static_cast<int64_t>(v))) {
      throw invalidParameter(env, "a frame seq (a non-negative integer)", "seq", info[1]);
    }
    seq = static_cast<int64_t>(v);
  }
  return PromiseWorker::Start(new SnapshotWorker(env, pipeline_->pool(), quality, seq));
}

Napi::Value CameraWrap::Letterbox(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw invalidState(env, "Camera is closed");
  if (!info[1].IsNumber()) throw invalidParameter(env, "an integer between 32 and 4096", "size", info[1]);
  int size = info[1].As<Napi::Number>().Int32Value();
  if (size < 32 || size > 4096) throw invalidParameter(env, "an integer between 32 and 4096", "size", info[1]);
  // dst: a Float32Array, or { batch, slot } (a GPU input batch of this size).
  std::shared_ptr<DeviceBatch> batch;
  int slot = 0;
  if (info[0].IsObject() && !info[0].IsTypedArray()) {
#if !VIGIL_WITH_CUDA
    throw Napi::Error::New(env, "This addon was built without CUDA: no GPU input batch");
#else
    Napi::Object d = info[0].As<Napi::Object>();
    batch = deviceBatchOf(d.Get("batch"));
    if (!batch) throw invalidParameter(env, "a handle from createDeviceBatch()", "dst.batch", d.Get("batch"));
    if (batch->size() != size)
      throw invalidParameter(env, "the batch's input size, " + std::to_string(batch->size()), "size", info[1]);
    slot = static_cast<int>(optNumber(d, "slot", -1, 0, batch->maxBatch() - 1));
    if (slot < 0)
      throw invalidParameter(env, "a slot of 0.." + std::to_string(batch->maxBatch() - 1), "dst.slot", d.Get("slot"));
#endif
  } else if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
             info[0].As<Napi::Float32Array>().ElementLength() < static_cast<size_t>(3) * size * size) {
    throw invalidParameter(env, "a Float32Array of at least 3·size·size elements, or { batch, slot }", "dst", info[0]);
  }
  if (!info[2].IsObject()) throw invalidParameter(env, "an object { mean, std, bgr }", "norm", info[2]);
  Napi::Object n = info[2].As<Napi::Object>();
  InputNorm norm;
  for (const char* key : {"mean", "std"}) {
    Napi::Value v = n.Get(key);
    if (!v.IsArray() || v.As<Napi::Array>().Length() != 3)
      throw invalidParameter(env, "an array of 3 numbers", std::string("norm.") + key, v);
    for (uint32_t c = 0; c < 3; ++c) {
      Napi::Value x = v.As<Napi::Array>().Get(c);
      if (!x.IsNumber()) throw invalidParameter(env, "an array of 3 numbers", std::string("norm.") + key, v);
      (std::string(key) == "mean" ? norm.mean : norm.std)[c] = x.As<Napi::Number>().FloatValue();
    }
  }
  for (float s : norm.std) {
    if (!(s > 0)) throw invalidParameter(env, "positive numbers", "norm.std", n.Get("std"));
  }
  norm.bgr = optBool(n, "bgr", false);
  uint64_t minSeq = info[3].IsNumber() ? static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value()) : 0;
  const bool exact = info.Length() > 4 && info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
  if (batch)
    return PromiseWorker::Start(
        new LetterboxWorker(env, pipeline_->pool(), std::move(batch), slot, norm, minSeq, exact));
  return PromiseWorker::Start(
      new LetterboxWorker(env, pipeline_->pool(), info[0].As<Napi::Float32Array>(), size, norm, minSeq, exact));
}

Napi::Value CameraWrap::Annotate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw invalidState(env, "Camera is closed");
  std::vector<DetectionRecord> boxes;
  const uint64_t seq = readSeqAndRecords(env, info[0], info[1], boxes);
  return PromiseWorker::Start(new AnnotateWorker(env, pipeline_->pool(), annotator_, seq, std::move(boxes)));
}

CameraWrap* CameraWrap::of(const Napi::Value& v) {
  if (!v.IsObject()) return nullptr;
  auto* data = v.Env().GetInstanceData<AddonData>();
  if (!data || !v.As<Napi::Object>().InstanceOf(data->cameraCtor.Value())) return nullptr;
  return Napi::ObjectWrap<CameraWrap>::Unwrap(v.As<Napi::Object>());
}

bool CameraWrap::post(CameraEvent* ev) {
  size_t max = 0;
  std::atomic<size_t>* bound = state_->bound(ev->kind, max);
  if (bound && bound->fetch_add(1) >= max) {
    bound->fetch_sub(1);
    delete ev;
    return false;
  }
  if (state_->tsfn.NonBlockingCall(ev) != napi_ok) {  // only while the queue is closing
    if (bound) bound->fetch_sub(1);
    delete ev;
    return false;
  }
  return true;
}

void CameraWrap::onOpened(uint64_t session, const StreamInfo& info) {
  auto* ev = new CameraEvent(CameraEvent::Kind::Opened);
  ev->session = session;
  ev->stream = info;
  post(ev);
}

bool CameraWrap::onFrame(uint64_t session, const FrameInfo& info) {
  auto* ev = new CameraEvent(CameraEvent::Kind::Frame);
  ev->session = session;
  ev->frame = info;
  return post(ev);
}

bool CameraWrap::onVideo(uint64_t session, VideoChunk&& chunk) {
  auto* ev = new CameraEvent(CameraEvent::Kind::Video);
  ev->session = session;
  ev->video = std::move(chunk);
  return post(ev);
}

void CameraWrap::onError(uint64_t session, const char* stage, const std::string& message, uint64_t count) {
  auto* ev = new CameraEvent(CameraEvent::Kind::Error);
  ev->session = session;
  ev->stage = stage;
  ev->message = message;
  ev->count = count;
  post(ev);
}

void CameraWrap::onEnded(uint64_t session, Status reason, const std::string& message) {
  auto* ev = new CameraEvent(CameraEvent::Kind::Ended);
  ev->session = session;
  ev->reason = reason;
  ev->message = message;
  post(ev);
}

namespace {
void deliverEvent(Napi::Env env, Napi::Function cb, EventState* state, CameraEvent* ev);
}  // namespace

void callJsEvent(Napi::Env env, Napi::Function cb, EventState* state, CameraEvent* ev) {
  std::unique_ptr<CameraEvent> owned(ev);
  if (env == nullptr || cb == nullptr) return;  // environment shutting down: state may be gone
  size_t max = 0;
  if (std::atomic<size_t>* bound = state->bound(ev->kind, max)) bound->fetch_sub(1);
  if (state->closed && ev->kind != CameraEvent::Kind::Ended) return;  // nobody is listening
  try {
    deliverEvent(env, cb, state, ev);
  } catch (const Napi::Error& e) {
    // A listener threw: it becomes an uncaught exception, as for any Node callback. While the
    // environment is being torn down (events still queued at exit) JS cannot run any more and
    // the event is dropped; an exception must never leave this callback (std::terminate).
    napi_value v = e.Value();
    if (v != nullptr) napi_fatal_exception(env, v);
  }
}

namespace {
void deliverEvent(Napi::Env env, Napi::Function cb, EventState* state, CameraEvent* ev) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("session", static_cast<double>(ev->session));
  switch (ev->kind) {
    case CameraEvent::Kind::Opened: {
      const StreamInfo& s = ev->stream;
      o.Set("type", "opened");
      o.Set("codec", s.codec);
      o.Set("decoder", s.decoder);
      o.Set("hardware", s.hardware);
      o.Set("format", s.format);
      o.Set("width", s.width);
      o.Set("height", s.height);
      o.Set("fps", s.fps);
      o.Set("openMs", s.openUs / 1000.0);
      if (!s.video.empty()) o.Set("video", s.video);
      break;
    }
    case CameraEvent::Kind::Frame: {
      const FrameInfo& f = ev->frame;
      o.Set("type", "frame");
      o.Set("seq", static_cast<double>(f.seq));
      o.Set("pts",
            f.pts == AV_NOPTS_VALUE ? env.Null() : Napi::Value(Napi::Number::New(env, static_cast<double>(f.pts))));
      o.Set("ptsUs",
            f.pts == AV_NOPTS_VALUE ? env.Null() : Napi::Value(Napi::Number::New(env, static_cast<double>(f.ptsUs))));
      o.Set("recvUs", static_cast<double>(f.recvUs));
      o.Set("decodedUs", static_cast<double>(f.decodedUs));
      o.Set("width", f.width);
      o.Set("height", f.height);
      o.Set("keyframe", f.keyframe);
      break;
    }
    case CameraEvent::Kind::Video: {
      VideoChunk& v = ev->video;
      o.Set("type", "video");
      setFragment(env, o, v.init, v.mime, v.fragment, v.keyframe, v.ptsUs);
      o.Set("recvUs", static_cast<double>(v.recvUs));
      break;
    }
    case CameraEvent::Kind::Error:
      o.Set("type", "error");
      o.Set("stage", ev->stage);
      o.Set("message", ev->message);
      o.Set("count", static_cast<double>(ev->count));
      break;
    case CameraEvent::Kind::Ended:
      o.Set("type", "ended");
      o.Set("reason", endReason(ev->reason));
      o.Set("message", ev->message);
      // The newest session is over: an idle camera stops holding the event loop open.
      if (ev->session == state->session && state->refed && !state->closed) {
        state->tsfn.Unref(env);
        state->refed = false;
      }
      break;
  }
  cb.Call({o});
}
}  // namespace

}  // namespace vigil
