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
  // them only in-band) the header waits for the first keyframe that does. `frameDurUs`: how
  // long a packet lasts until two packets have shown the stream's own interval.
  Status open(const AVCodecParameters* par, int64_t frameDurUs, std::string& err);

  // Whether an H.264 packet starts a GOP: the demuxer's key flag, or an IDR slice in it (RTP
  // depacketized streams do not always carry the flag on their first IDR).
  bool isKeyframe(const AVPacket* pkt) const;

  // One packet; `ptsUs`/`dtsUs` on the session timeline, `key` from isKeyframe(). It lasts as
  // long as the interval before it (the next packet's pts is not known yet).
  // Fills `init` the first time a header could be written (and `mime`, e.g.
  // `video/mp4; codecs="avc1.64001f"`), and `fragment` with the packet's moof+mdat.
  // Ok with an empty fragment: still waiting for parameter sets or a keyframe.
  Status write(const AVPacket* pkt, bool key, int64_t ptsUs, int64_t dtsUs, std::vector<uint8_t>& init,
               std::vector<uint8_t>& fragment, std::string& err);

  // Where a packet without a timestamp goes: one interval after the last one written, or 0.
  int64_t nextPtsUs() const { return lastPtsUs_ != AV_NOPTS_VALUE ? lastPtsUs_ + lastDurUs_ : 0; }
  const std::string& mime() const { return mime_; }

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
  int64_t lastPtsUs_ = AV_NOPTS_VALUE;  // the last packet written, and the interval before it
  int64_t lastDurUs_ = 40000;
  std::vector<uint8_t>* sink_ = nullptr;  // where onWrite appends (the caller's buffer)
  std::string mime_;
};

// The RFC 6381 codec string of an H.264 stream ("avc1.PPCCLL") from its extradata (avcC or
// Annex B); empty when no SPS is found.
std::string avcCodecString(const uint8_t* extradata, int size);

}  // namespace vigil
