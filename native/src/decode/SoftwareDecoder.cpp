#include "decode/SoftwareDecoder.h"

#include "core/Libav.h"

namespace vigil {

SoftwareDecoder::~SoftwareDecoder() { avcodec_free_context(&ctx_); }

bool SoftwareDecoder::open(const AVCodecParameters* par, int threads, bool lowDelay, std::string& err) {
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (!codec) {
    err = std::string("no decoder for codec ") + avcodec_get_name(par->codec_id);
    return false;
  }
  ctx_ = avcodec_alloc_context3(codec);
  if (!ctx_ || avcodec_parameters_to_context(ctx_, par) < 0) {
    err = "cannot set up the decoder context";
    return false;
  }
  ctx_->thread_count = threads;
  ctx_->thread_type = lowDelay ? FF_THREAD_SLICE : FF_THREAD_FRAME | FF_THREAD_SLICE;
  if (lowDelay) ctx_->flags |= AV_CODEC_FLAG_LOW_DELAY;
  int rc = avcodec_open2(ctx_, codec, nullptr);
  if (rc < 0) {
    err = std::string("cannot open decoder ") + codec->name + ": " + avErrorText(rc);
    return false;
  }
  return true;
}

Status SoftwareDecoder::send(const AVPacket* pkt, std::string& err) {
  int rc = avcodec_send_packet(ctx_, pkt);
  if (rc == 0) return Status::Ok;
  if (rc == AVERROR(EAGAIN)) return Status::Again;
  if (rc == AVERROR_EOF) return Status::Eos;
  err = "decode failed: " + avErrorText(rc);
  return Status::Error;
}

Status SoftwareDecoder::receive(AVFrame* out, std::string& err) {
  av_frame_unref(out);
  int rc = avcodec_receive_frame(ctx_, out);
  if (rc == 0) return Status::Ok;
  if (rc == AVERROR(EAGAIN)) return Status::Again;
  if (rc == AVERROR_EOF) return Status::Eos;
  err = "decode failed: " + avErrorText(rc);
  return Status::Error;
}

void SoftwareDecoder::flush() { avcodec_flush_buffers(ctx_); }

std::string SoftwareDecoder::describe() const {
  const bool slices = ctx_->active_thread_type == FF_THREAD_SLICE || !(ctx_->thread_type & FF_THREAD_FRAME);
  return std::string(ctx_->codec->name) + " (software, " + std::to_string(ctx_->thread_count) +
         (slices ? " slice" : "") + (ctx_->thread_count == 1 ? " thread" : " threads") +
         ((ctx_->flags & AV_CODEC_FLAG_LOW_DELAY) ? ", low delay" : "") + (note_.empty() ? "" : "; " + note_) + ")";
}

}  // namespace vigil
