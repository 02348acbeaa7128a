#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/Status.h"

extern "C" {
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
}

namespace vigil {

// H.264 packets → fragmented MP4 for Media Source Extensions, without re-encoding: one init
// segment (ftyp+moov), then one fragment (moof+mdat) per packet, so a viewer is never more
// than a frame behind the camera. Timestamps are the session's continuous timeline in
// microseconds (loop passes included), written at a 90 kHz timescale.
// Used by one thread (the camera thread); every buffer returned is owned by the caller.
class Fmp4Muxer {
 public:
  Fmp4Muxer() = default;
  ~Fmp4Muxer();
  Fmp4Muxer(const Fmp4Muxer&) = delete;
  Fmp4Muxer& operator=(const Fmp4Muxer&) = delete;

  // Whether a stream with these parameters can pass through (H.264 only); otherwise `why`.
  static bool supports(const AVCodecParameters* par, std::string& why);

  // Sets up from the stream's parameters. When they carry no SPS/PPS (some RTSP cameras send
  // them only in-band) the header waits for the first keyframe that does.
  Status open(const AVCodecParameters* par, std::string& err);

  // Whether an H.264 packet starts a GOP: the demuxer's key flag, or an IDR slice in it (RTP
  // depacketized streams do not always carry the flag on their first IDR).
  bool isKeyframe(const AVPacket* pkt) const;

  // One packet; `ptsUs`/`dtsUs` on the session timeline, `durUs` its display time (> 0),
  // `key` from isKeyframe().
  // Fills `init` the first time a header could be written (and `mime`, e.g.
  // `video/mp4; codecs="avc1.64001f"`), and `fragment` with the packet's moof+mdat.
  // Ok with an empty fragment: still waiting for parameter sets or a keyframe.
  Status write(const AVPacket* pkt, bool key, int64_t ptsUs, int64_t dtsUs, int64_t durUs,
               std::vector<uint8_t>& init, std::vector<uint8_t>& fragment, std::string& err);

  const std::string& mime() const { return mime_; }
  bool headerWritten() const { return headerWritten_; }

 private:
  Status writeHeader(const uint8_t* extradata, int size, std::string& err);
  // avio's write callback: its buffer became const in FFmpeg 7 (libavformat 61).
#if LIBAVFORMAT_VERSION_MAJOR >= 61
  using IoBuf = const uint8_t*;
#else
  using IoBuf = uint8_t*;
#endif
  static int onWrite(void* opaque, IoBuf buf, int size);
  void close();

  AVFormatContext* ctx_ = nullptr;
  AVBSFContext* extract_ = nullptr;  // pulls SPS/PPS out of keyframes when extradata is empty
  AVPacket* scratch_ = nullptr;
  AVCodecParameters* par_ = nullptr;
  bool headerWritten_ = false;
  int64_t lastDts_ = INT64_MIN;
  std::vector<uint8_t>* sink_ = nullptr;  // where onWrite appends (the caller's buffer)
  std::string mime_;
};

// The RFC 6381 codec string of an H.264 stream ("avc1.PPCCLL") from its extradata (avcC or
// Annex B); empty when no SPS is found.
std::string avcCodecString(const uint8_t* extradata, int size);

}  // namespace vigil
