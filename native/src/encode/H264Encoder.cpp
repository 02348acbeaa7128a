#include "encode/H264Encoder.h"

#include <cmath>

extern "C" {
#include <libavutil/opt.h>
}

namespace vigil {

namespace {
constexpr AVRational kUs{1, 1000000};

CodecContextPtr tryOpen(const char* name, int width, int height, double fps, int gop, std::string& why) {
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
  c->time_base = kUs;
  c->framerate = fps > 0 ? av_d2q(fps, 1000) : AVRational{25, 1};
  c->gop_size = gop;
  c->max_b_frames = 0;
  c->color_range = AVCOL_RANGE_MPEG;
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // SPS/PPS in extradata, for the mp4 init segment
  c->thread_count = 1;                      // one core per camera: it runs on the camera thread
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
  }
  int rc = avcodec_open2(c.get(), codec, nullptr);
  if (rc < 0) {
    why += std::string(why.empty() ? "" : "; ") + name + ": " + avErrorText(rc);
    return nullptr;
  }
  return c;
}
}  // namespace

Status H264Encoder::open(int width, int height, double fps, int gopFrames, std::string& why) {
  for (const char* name : {"h264_nvenc", "libx264"}) {
    ctx_ = tryOpen(name, width, height, fps, gopFrames, why);
    if (ctx_) {
      name_ = name;
      break;
    }
  }
  if (!ctx_) {
    why = "no H.264 encoder (" + why + ")";
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

Status H264Encoder::encode(const AVFrame* frame, int64_t ptsUs, bool forceKey, std::vector<PacketPtr>& out, std::string& err) {
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
