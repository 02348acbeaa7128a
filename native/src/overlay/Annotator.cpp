#include "overlay/Annotator.h"

#include <algorithm>

namespace vigil {

Status Annotator::annotate(const AVFrame* frame, const FrameInfo& info, const std::vector<DetectionRecord>& boxes,
                           AnnotatedChunk& out, std::string& err) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (info.ptsUs <= lastPtsUs_ && frame->width == width_ && frame->height == height_) return Status::Ok;
  if (!encoder_ || frame->width != width_ || frame->height != height_) {
    // First frame, or a new size (a reconnect): a new encoder, muxer and init segment.
    auto enc = std::make_unique<H264Encoder>();
    auto mux = std::make_unique<Fmp4Muxer>();
    if (enc->open(frame->width, frame->height, 10, 20, err) != Status::Ok) return Status::Error;
    if (mux->open(enc->codecpar(), 100000, err) != Status::Ok) return Status::Error;
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
    encoder_ = std::move(enc);
    mux_ = std::move(mux);
    width_ = frame->width;
    height_ = frame->height;
    lastPtsUs_ = INT64_MIN;
  }
  if (av_frame_make_writable(scratch_.get()) < 0 || av_frame_copy(scratch_.get(), frame) < 0) {
    err = "cannot copy the frame to annotate";
    return Status::Error;
  }
  paintBoxes(scratch_.get(), boxes, std::max(2, width_ / 320));
  std::vector<PacketPtr> packets;
  if (encoder_->encode(scratch_.get(), info.ptsUs, false, packets, err) != Status::Ok) return Status::Error;
  lastPtsUs_ = info.ptsUs;
  for (const PacketPtr& p : packets) {
    const bool key = (p->flags & AV_PKT_FLAG_KEY) != 0;
    std::vector<uint8_t> init;
    if (mux_->write(p.get(), key, p->pts, p->dts != AV_NOPTS_VALUE ? p->dts : p->pts, init, out.fragment, err) != Status::Ok) {
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
