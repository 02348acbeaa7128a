#pragma once
#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <mutex>
#include <string>

namespace vigil {

// FFmpeg's own error messages, caught on one thread while a capture is alive: the reason behind
// an error code (avcodec_open2 says "Function not implemented"; its log says which library or
// device NVENC lacked). installLibavLogHook() (once, at addon load) routes every libav log line
// through Vigil's hook, which hands it on to libav's default logger (its level still applies).
void installLibavLogHook();

void libavLogHook(void* avcl, int level, const char* fmt, va_list vl);

// The errors libavcodec logs while decoding one stream, from any of its threads: a decoder sets
// its AVCodecContext's `opaque` to one of these, and frame threads log on copies of that context
// that share it. Some decoders (HEVC) log damage and go on without an error code or a frame flag;
// this is how the pipeline still sees it. Owned by the decoder; outlives its codec context.
class DecoderLogTally {
 public:
  explicit DecoderLogTally(void* owner) : owner_(owner) {}
  // The decoder that owns this tally (NVDEC's get_format callback finds itself through it).
  void* owner() const { return owner_; }
  // Error-level lines (and error returns the decoder added itself) so far. Any thread.
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  void add(const std::string& line);
  std::string last() const;
  // Whether `opaque` (an AVCodecContext's) is a tally: only decoders set opaque in Vigil.
  static DecoderLogTally* from(void* opaque);

 private:
  static constexpr uint32_t kMagic = 0x5647544c;
  const uint32_t magic_ = kMagic;
  void* const owner_;
  std::atomic<uint64_t> errors_{0};
  mutable std::mutex mutex_;
  std::string last_;
};

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
