#include <cstdarg>

#include "core/LibavLog.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
}

namespace vigil {

namespace {
thread_local LibavLogCapture* active = nullptr;
}

void DecoderLogTally::add(const std::string& line) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mutex_);
  last_ = line;
}

std::string DecoderLogTally::last() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_;
}

DecoderLogTally* DecoderLogTally::from(void* opaque) {
  auto* t = static_cast<DecoderLogTally*>(opaque);
  return t && t->magic_ == kMagic ? t : nullptr;
}

namespace {

// The decoder's tally when `avcl` is a decoding AVCodecContext that has one.
DecoderLogTally* tallyOf(void* avcl) {
  if (!avcl) return nullptr;
  const AVClass* cls = *static_cast<const AVClass* const*>(avcl);
  if (cls != avcodec_get_class()) return nullptr;
  auto* ctx = static_cast<AVCodecContext*>(avcl);
  return ctx->codec && av_codec_is_decoder(ctx->codec) ? DecoderLogTally::from(ctx->opaque) : nullptr;
}

std::string formatLine(void* avcl, int level, const char* fmt, va_list vl) {
  char line[1024];
  int prefix = 0;  // no "[h264_nvenc @ 0x…]" context
  va_list copy;
  va_copy(copy, vl);
  av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &prefix);
  va_end(copy);
  std::string s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

void libavLogHook(void* avcl, int level, const char* fmt, va_list vl) {
  if (level <= AV_LOG_ERROR) {
    if (DecoderLogTally* tally = tallyOf(avcl)) tally->add(formatLine(avcl, level, fmt, vl));
  }
  if (active && level <= AV_LOG_ERROR) {
    std::string s = formatLine(avcl, level, fmt, vl);
    if (!s.empty()) active->text_ += (active->text_.empty() ? "" : "; ") + s;
  }
  av_log_default_callback(avcl, level, fmt, vl);
}

void installLibavLogHook() { av_log_set_callback(libavLogHook); }

LibavLogCapture::LibavLogCapture() : outer_(active) { active = this; }
LibavLogCapture::~LibavLogCapture() { active = outer_; }

}  // namespace vigil
