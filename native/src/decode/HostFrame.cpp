#include "decode/HostFrame.h"

#include <new>

#include "core/Libav.h"

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
}

namespace vigil {

HostFrame::HostFrame() : nv12_(av_frame_alloc()), out_(av_frame_alloc()) {
  if (!nv12_ || !out_) throw std::bad_alloc();
}

HostFrame::~HostFrame() {
  av_frame_free(&nv12_);
  av_frame_free(&out_);
}

const AVFrame* HostFrame::of(const AVFrame* src, bool& copied, std::string& err) {
  copied = false;
  if (src->format != AV_PIX_FMT_CUDA) return src;
  av_frame_unref(nv12_);
  int rc = av_hwframe_transfer_data(nv12_, src, 0);
  if (rc < 0) {
    err = "cannot copy the GPU frame to the host: " + avErrorText(rc);
    return nullptr;
  }
  copied = true;
  if (out_->width != src->width || out_->height != src->height || !out_->data[0]) {
    av_frame_unref(out_);
    out_->format = AV_PIX_FMT_YUV420P;
    out_->width = src->width;
    out_->height = src->height;
    if (av_frame_get_buffer(out_, 0) < 0) {
      err = "out of memory for a host frame";
      return nullptr;
    }
  }
  if (!converter_.convert(nv12_, out_)) {
    err = std::string("cannot convert the GPU frame (") +
          av_get_pix_fmt_name(static_cast<AVPixelFormat>(nv12_->format)) + ") to YUV420P";
    return nullptr;
  }
  out_->pts = src->pts;
  out_->color_range = src->color_range;
  return out_;
}

const AVFrame* hostPixels(FramePool& pool, const AVFrame* frame, HostCopy why, std::string& err) {
  if (frame->format != AV_PIX_FMT_CUDA) return frame;
  thread_local HostFrame host;
  bool copied = false;
  const AVFrame* out = host.of(frame, copied, err);
  if (copied) pool.countHostCopy(why);
  return out;
}

}  // namespace vigil
