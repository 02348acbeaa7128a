#include <cstdarg>

#include "core/LibavLog.h"

extern "C" {
#include <libavutil/log.h>
}

namespace vigil {

namespace {
thread_local LibavLogCapture* active = nullptr;
}

void libavLogHook(void* avcl, int level, const char* fmt, va_list vl) {
  if (active && level <= AV_LOG_ERROR) {
    char line[1024];
    int prefix = 0;  // no "[h264_nvenc @ 0x…]" context
    va_list copy;
    va_copy(copy, vl);
    av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &prefix);
    va_end(copy);
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (!s.empty()) active->text_ += (active->text_.empty() ? "" : "; ") + s;
  }
  av_log_default_callback(avcl, level, fmt, vl);
}

void installLibavLogHook() { av_log_set_callback(libavLogHook); }

LibavLogCapture::LibavLogCapture() : outer_(active) { active = this; }
LibavLogCapture::~LibavLogCapture() { active = outer_; }

}  // namespace vigil
