#include "encode/H264Encoder.h"

#include "core/HwFrames.h"
#include "core/LibavLog.h"

#include <cmath>

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace vigil {

namespace {
constexpr AVRational kUs{1, 1000000};

// `cudaDevice`: NVENC takes NV12 frames in that device's memory (a frames context is made for
// the encoder: NVENC reads any surface of its format and size, NVDEC's included).
CodecContextPtr tryOpen(const char* name, int width, int height, double fps, int gop, AVBufferRef* cudaDevice,
                        std::string& why) {
  const AVCodec* codec = avcodec_find_encoder_by_name(name);
  if (!codec) {
    why += std::string(why.empty() ? "" : "; ") + name + ": not in this FFmpeg build";
    return nullptr;
  }
  CodecContextPtr c(avcodec_alloc_context3(codec));
  if (!c) return nullptr;
  c->width = width;
  c->height = height;
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  if (cudaDevice) {
    int rc = 0;
    AVBufferRef* frames = nv12FramesOn(cudaDevice, width, height, rc);
    if (!frames) {
      why += std::string(why.empty() ? "" : "; ") + name + " (CUDA frames): " + avErrorText(rc);
      return nullptr;
    }
    c->pix_fmt = AV_PIX_FMT_CUDA;
    c->hw_frames_ctx = frames;  // the context owns it now
  }
  c->time_base = kUs;
  c->framerate = fps > 0 ? av_d2q(fps, 1000) : AVRational{25, 1};
  c->gop_size = gop;
  c->max_b_frames = 0;
  c->color_range = AVCOL_RANGE_MPEG;
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;         // SPS/PPS in extradata, for the mp4 init segment
  c->thread_count = 1;                             // one core per camera: it runs on the camera thread
  av_opt_set(c->priv_data, "forced-idr", "1", 0);  // a forced keyframe is an IDR: a viewer can start there
  if (std::string(name) == "libx264") {
    av_opt_set(c->priv_data, "preset", "veryfast", 0);
    av_opt_set(c->priv_data, "tune", "zerolatency", 0);
    av_opt_set(c->priv_data, "profile", "high", 0);
    av_opt_set(c->priv_data, "crf", "26", 0);
  } else {
    av_opt_set(c->priv_data, "preset", "p3", 0);
    av_opt_set(c->priv_data, "tune", "ll", 0);
    av_opt_set(c->priv_data, "zerolatency", "1", 0);
    // Each frame's packet out of its own encode call: NVENC otherwise runs up to its surface
    // count behind, holding that many input surfaces (NVDEC's, with CUDA input) meanwhile.
    av_opt_set(c->priv_data, "delay", "0", 0);
  }
  LibavLogCapture log;  // FFmpeg logs the reason (a missing library, no encode device) behind the code
  int rc = avcodec_open2(c.get(), codec, nullptr);
  if (rc < 0) {
    why += std::string(why.empty() ? "" : "; ") + name + (cudaDevice ? " (CUDA frames)" : "") + ": " + avErrorText(rc) +
           (log.text().empty() ? "" : " (" + log.text() + ")");
    return nullptr;
  }
  return c;
}
}  // namespace

H264Encoder::~H264Encoder() { sws_freeContext(sws_); }

Status H264Encoder::open(int width, int height, double fps, int gopFrames, AVBufferRef* cudaDevice, std::string& why) {
  std::string tried;
  for (const char* name : {"h264_nvenc", "libx264"}) {
    const bool cuda = cudaDevice && std::string(name) == "h264_nvenc";
    ctx_ = tryOpen(name, width, height, fps, gopFrames, cuda ? cudaDevice : nullptr, tried);
    if (ctx_) {
      name_ = name;
      cudaInput_ = cuda;
      fallback_ = tried;
      break;
    }
  }
  if (!ctx_) {
    why = "no H.264 encoder (" + tried + ")";
    return Status::Error;
  }
  par_.reset(avcodec_parameters_alloc());
  frame_.reset(av_frame_alloc());
  pkt_.reset(av_packet_alloc());
  if (!par_ || !frame_ || !pkt_ || avcodec_parameters_from_context(par_.get(), ctx_.get()) < 0) {
    why = "out of memory for the encoder";
    return Status::Error;
  }
  return Status::Ok;
}

std::string H264Encoder::describe() const {
  if (cudaInput_) return name_ + " (CUDA frames)";
  return fallback_.empty() ? name_ : name_ + " (" + fallback_ + ")";
}

AVBufferRef* H264Encoder::hwFrames() const { return cudaInput_ ? ctx_->hw_frames_ctx : nullptr; }

const AVFrame* H264Encoder::input(const AVFrame* frame, bool* copiedToHost, std::string& err) {
  const bool gpu = frame->format == AV_PIX_FMT_CUDA;
  const bool nv12 =
      gpu && reinterpret_cast<AVHWFramesContext*>(frame->hw_frames_ctx->data)->sw_format == AV_PIX_FMT_NV12;
  if (gpu && cudaInput_ && nv12) return frame;  // NVENC takes the surface as it is
  if (gpu) {  // libx264, or a surface NVENC cannot take (P010: 10-bit HEVC): the pixels come down
    bool copied = false;
    frame = host_.of(frame, copied, err);
    if (copied && copiedToHost) *copiedToHost = true;
    if (!frame) return nullptr;
  }
  if (!cudaInput_) return frame;
  // A host frame for a CUDA-input NVENC (NVDEC left a stream to software, or the above): NV12, then up.
  if (!nv12_ || !nv12_->buf[0]) {
    nv12_.reset(av_frame_alloc());
    if (!upload_) upload_.reset(av_frame_alloc());
    if (!nv12_ || !upload_) {
      err = "out of memory for the encoder's upload";
      return nullptr;
    }
    nv12_->format = AV_PIX_FMT_NV12;
    nv12_->width = ctx_->width;
    nv12_->height = ctx_->height;
    if (av_frame_get_buffer(nv12_.get(), 0) < 0) {
      nv12_.reset();
      err = "out of memory for the encoder's upload";
      return nullptr;
    }
  }
  sws_ = sws_getCachedContext(sws_, frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), ctx_->width,
                              ctx_->height, AV_PIX_FMT_NV12, SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!sws_ || sws_scale(sws_, frame->data, frame->linesize, 0, frame->height, nv12_->data, nv12_->linesize) <= 0) {
    err = "cannot convert the frame to NV12 for NVENC";
    return nullptr;
  }
  av_frame_unref(upload_.get());
  int rc = av_hwframe_get_buffer(ctx_->hw_frames_ctx, upload_.get(), 0);
  if (rc >= 0) rc = av_hwframe_transfer_data(upload_.get(), nv12_.get(), 0);
  if (rc < 0) {
    err = "cannot upload the frame to NVENC: " + avErrorText(rc);
    return nullptr;
  }
  return upload_.get();
}

Status H264Encoder::encode(const AVFrame* frame, int64_t ptsUs, bool forceKey, std::vector<PacketPtr>& out,
                           std::string& err, bool* copiedToHost) {
  frame = input(frame, copiedToHost, err);
  if (!frame) return Status::Error;
  if (av_frame_ref(frame_.get(), frame) < 0) {
    err = "cannot reference the frame to encode";
    return Status::Error;
  }
  frame_->pts = ptsUs;
  frame_->pict_type = forceKey ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
  int rc = avcodec_send_frame(ctx_.get(), frame_.get());
  av_frame_unref(frame_.get());
  if (rc < 0) {
    err = "encode: " + avErrorText(rc);
    return Status::Error;
  }
  while ((rc = avcodec_receive_packet(ctx_.get(), pkt_.get())) >= 0) {
    PacketPtr p(av_packet_alloc());
    if (!p) {
      err = "out of memory for a packet";
      return Status::Error;
    }
    av_packet_move_ref(p.get(), pkt_.get());
    out.push_back(std::move(p));
  }
  if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
    err = "encode: " + avErrorText(rc);
    return Status::Error;
  }
  return Status::Ok;
}

}  // namespace vigil
