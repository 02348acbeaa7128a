#include "decode/SoftwareDecoder.h"

#include "core/Libav.h"

namespace vigil {

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
  attachTally();
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

std::string SoftwareDecoder::describe() const {
  const bool slices = ctx_->active_thread_type == FF_THREAD_SLICE || !(ctx_->thread_type & FF_THREAD_FRAME);
  return std::string(ctx_->codec->name) + " (software, " + std::to_string(ctx_->thread_count) +
         (slices ? " slice" : "") + (ctx_->thread_count == 1 ? " thread" : " threads") +
         ((ctx_->flags & AV_CODEC_FLAG_LOW_DELAY) ? ", low delay" : "") + (note_.empty() ? "" : "; " + note_) + ")";
}

}  // namespace vigil
