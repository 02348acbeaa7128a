#pragma once
#include <cstdarg>
#include <string>

namespace vigil {

// FFmpeg's own error messages, caught on one thread while a capture is alive: the reason behind
// an error code (avcodec_open2 says "Function not implemented"; its log says which library or
// device NVENC lacked). installLibavLogHook() (once, at addon load) routes every libav log line
// through Vigil's hook, which hands it on to libav's default logger (its level still applies).
void installLibavLogHook();

void libavLogHook(void* avcl, int level, const char* fmt, va_list vl);

class LibavLogCapture {
 public:
  LibavLogCapture();
  ~LibavLogCapture();
  LibavLogCapture(const LibavLogCapture&) = delete;
  LibavLogCapture& operator=(const LibavLogCapture&) = delete;
  // The error-level lines logged on this thread since construction, joined by "; ".
  const std::string& text() const { return text_; }

 private:
  friend void libavLogHook(void*, int, const char*, va_list);
  LibavLogCapture* outer_;
  std::string text_;
};

}  // namespace vigil
