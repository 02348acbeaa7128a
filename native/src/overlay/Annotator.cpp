#include "overlay/Annotator.h"

#include <algorithm>

#if VIGIL_WITH_CUDA
#include "cuda/PaintNv12.h"
#endif

#include "core/HwFrames.h"

namespace vigil {

struct Annotator::Gpu {
#if VIGIL_WITH_CUDA
  GpuPainter painter;
#endif
  AVBufferRef* frames = nullptr;  // NV12 surfaces to paint on: the encoder's, or our own
  FramePtr surface{av_frame_alloc()};
  ~Gpu() { av_buffer_unref(&frames); }
};

Annotator::Annotator() = default;
Annotator::~Annotator() = default;

std::string Annotator::encoderName() const {
  std::lock_guard<std::mutex> lock(nameMutex_);  // not mutex_: an encode may hold it for a while
  return encoderName_;
}

#if VIGIL_WITH_CUDA
namespace {
// A frame the GPU painter takes: an NV12 surface in GPU memory (not P010, 10-bit HEVC).
bool paintableOnGpu(const AVFrame* frame) {
  return frame->format == AV_PIX_FMT_CUDA &&
         reinterpret_cast<const AVHWFramesContext*>(frame->hw_frames_ctx->data)->sw_format == AV_PIX_FMT_NV12;
}
}  // namespace
#endif

Status Annotator::reopen(const AVFrame* frame, std::string& err) {
  // First frame, a new size (a reconnect) or the other kind of frame: a new encoder, muxer and init segment.
  const bool gpu = frame->format == AV_PIX_FMT_CUDA;
  AVBufferRef* device = gpu ? cudaDeviceOf(frame) : nullptr;
  auto enc = std::make_unique<H264Encoder>();
  auto mux = std::make_unique<Fmp4Muxer>();
  if (enc->open(frame->width, frame->height, 10, 20, device, err) != Status::Ok) return Status::Error;
  if (mux->open(enc->codecpar(), 100000, err) != Status::Ok) return Status::Error;
  std::unique_ptr<Gpu> g;
  if (gpu) {
#if VIGIL_WITH_CUDA
    g = std::make_unique<Gpu>();
    if (enc->hwFrames()) {
      g->frames = av_buffer_ref(enc->hwFrames());
    } else {  // libx264: surfaces of our own to paint on, copied down after
      int rc = 0;
      g->frames = nv12FramesOn(device, frame->width, frame->height, rc);
    }
    if (!g->frames || !g->surface) {
      err = "cannot allocate GPU surfaces for the annotated stream";
      return Status::Error;
    }
#else
    err = "a GPU frame, but this addon was built without CUDA";
    return Status::Error;
#endif
  } else {
    scratch_.reset(av_frame_alloc());
    if (!scratch_) {
      err = "out of memory for the annotated frame";
      return Status::Error;
    }
    scratch_->format = AV_PIX_FMT_YUV420P;
    scratch_->width = frame->width;
    scratch_->height = frame->height;
    if (av_frame_get_buffer(scratch_.get(), 0) < 0) {
      err = "out of memory for the annotated frame";
      return Status::Error;
    }
  }
  {
    std::lock_guard<std::mutex> lock(nameMutex_);
    encoderName_ = enc->describe();
  }
  encoder_ = std::move(enc);
  mux_ = std::move(mux);
  gpu_ = std::move(g);
  width_ = frame->width;
  height_ = frame->height;
  gpuFrames_ = gpu;
  lastPtsUs_ = INT64_MIN;
  return Status::Ok;
}

Status Annotator::annotate(const AVFrame* frame, const FrameInfo& info, const std::vector<DetectionRecord>& boxes,
                           AnnotatedChunk& out, std::string& err, bool* copiedToHost) {
  std::lock_guard<std::mutex> lock(mutex_);
#if VIGIL_WITH_CUDA
  const bool gpu = paintableOnGpu(frame);
#else
  const bool gpu = false;
#endif
  if (frame->format == AV_PIX_FMT_CUDA && !gpu) {  // a surface the painter cannot take: painted on the CPU
    bool copied = false;
    frame = host_.of(frame, copied, err);
    if (copied && copiedToHost) *copiedToHost = true;
    if (!frame) return Status::Error;
  }
  const bool same = encoder_ && frame->width == width_ && frame->height == height_ && gpu == gpuFrames_;
  if (same && info.ptsUs <= lastPtsUs_) return Status::Ok;
  if (!same && reopen(frame, err) != Status::Ok) return Status::Error;
  const std::vector<PaintRect> rects = boxRects(boxes, std::max(2, width_ / 320), width_, height_);
  const AVFrame* painted = nullptr;
  if (gpu) {
#if VIGIL_WITH_CUDA
    AVFrame* surface = gpu_->surface.get();
    av_frame_unref(surface);
    int rc = av_hwframe_get_buffer(gpu_->frames, surface, 0);
    if (rc < 0) {
      err = "no GPU surface for the annotated frame: " + avErrorText(rc);
      return Status::Error;
    }
    if (!gpu_->painter.paint(frame, surface, rects, err)) return Status::Error;
    painted = surface;
#endif
  } else {
    if (av_frame_make_writable(scratch_.get()) < 0 || av_frame_copy(scratch_.get(), frame) < 0) {
      err = "cannot copy the frame to annotate";
      return Status::Error;
    }
    paintRects(scratch_.get(), rects);
    painted = scratch_.get();
  }
  std::vector<PacketPtr> packets;
  if (encoder_->encode(painted, info.ptsUs, false, packets, err, copiedToHost) != Status::Ok) return Status::Error;
  lastPtsUs_ = info.ptsUs;
  for (const PacketPtr& p : packets) {
    const bool key = (p->flags & AV_PKT_FLAG_KEY) != 0;
    std::vector<uint8_t> init;
    if (mux_->write(p.get(), key, p->pts, p->dts != AV_NOPTS_VALUE ? p->dts : p->pts, init, out.fragment, err) !=
        Status::Ok) {
      return Status::Error;
    }
    if (!init.empty()) {
      out.init = std::move(init);
      out.mime = mux_->mime();
    }
    out.keyframe = out.keyframe || key;
  }
  out.ptsUs = info.ptsUs;
  return Status::Ok;
}

}  // namespace vigil
