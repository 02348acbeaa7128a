#include "mux/Fmp4Muxer.h"

#include <algorithm>
#include <cstdio>

#include "core/Libav.h"

extern "C" {
#include <libavutil/opt.h>
}

namespace vigil {

namespace {
constexpr AVRational kUs{1, 1000000};
constexpr AVRational kTimescale{1, 90000};
constexpr int kIoBuffer = 64 * 1024;
}  // namespace

std::string avcCodecString(const uint8_t* ed, int size) {
  const uint8_t* sps = nullptr;
  if (size >= 4 && ed[0] == 1) {
    sps = ed + 1;  // avcC: profile, compatibility, level follow the version byte
  } else {
    for (int i = 0; i + 4 < size; ++i) {  // Annex B: the first NAL unit of type 7
      if (ed[i] == 0 && ed[i + 1] == 0 && ed[i + 2] == 1 && (ed[i + 3] & 0x1f) == 7) {
        if (i + 6 < size) sps = ed + i + 4;
        break;
      }
    }
  }
  if (!sps) return "";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "avc1.%02x%02x%02x", sps[0], sps[1], sps[2]);
  return buf;
}

Fmp4Muxer::~Fmp4Muxer() {
  close();
  av_bsf_free(&extract_);
  av_packet_free(&scratch_);
  avcodec_parameters_free(&par_);
}

void Fmp4Muxer::close() {
  if (!ctx_) return;
  if (ctx_->pb) {
    av_freep(&ctx_->pb->buffer);
    avio_context_free(&ctx_->pb);
  }
  avformat_free_context(ctx_);
  ctx_ = nullptr;
}

bool Fmp4Muxer::supports(const AVCodecParameters* par, std::string& why) {
  if (par->codec_id == AV_CODEC_ID_H264) return true;
  why = std::string("no pass-through for ") + avcodec_get_name(par->codec_id) + " (browsers' MSE takes H.264)";
  return false;
}

Status Fmp4Muxer::open(const AVCodecParameters* par, int64_t frameDurUs, std::string& err) {
  if (!supports(par, err)) return Status::Error;
  if (frameDurUs > 0) lastDurUs_ = frameDurUs;
  par_ = avcodec_parameters_alloc();
  scratch_ = av_packet_alloc();
  if (!par_ || !scratch_ || avcodec_parameters_copy(par_, par) < 0) {
    err = "out of memory for the muxer";
    return Status::Error;
  }
  if (par_->extradata_size > 0) return Status::Ok;
  const AVBitStreamFilter* f = av_bsf_get_by_name("extract_extradata");
  int rc = f ? av_bsf_alloc(f, &extract_) : AVERROR_BSF_NOT_FOUND;
  if (rc >= 0) rc = avcodec_parameters_copy(extract_->par_in, par_);
  if (rc >= 0) rc = av_bsf_init(extract_);
  if (rc < 0) {
    err = "no SPS/PPS in the stream parameters and no extract_extradata filter: " + avErrorText(rc);
    return Status::Error;
  }
  return Status::Ok;
}

int Fmp4Muxer::onWrite(void* opaque, IoBuf buf, int size) {
  auto* self = static_cast<Fmp4Muxer*>(opaque);
  if (self->sink_) self->sink_->insert(self->sink_->end(), buf, buf + size);
  return size;
}

Status Fmp4Muxer::writeHeader(const uint8_t* extradata, int size, std::string& err) {
  int rc = avformat_alloc_output_context2(&ctx_, nullptr, "mp4", nullptr);
  AVStream* st = rc >= 0 ? avformat_new_stream(ctx_, nullptr) : nullptr;
  if (!st) {
    err = "cannot create the mp4 muxer: " + avErrorText(rc < 0 ? rc : AVERROR(ENOMEM));
    return Status::Error;
  }
  avcodec_parameters_copy(st->codecpar, par_);
  st->codecpar->codec_tag = 0;
  if (st->codecpar->extradata_size == 0) {
    st->codecpar->extradata = static_cast<uint8_t*>(av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE));
    if (!st->codecpar->extradata) {
      err = "out of memory for extradata";
      return Status::Error;
    }
    std::copy(extradata, extradata + size, st->codecpar->extradata);
    st->codecpar->extradata_size = size;
  }
  st->time_base = kTimescale;
  auto* buffer = static_cast<uint8_t*>(av_malloc(kIoBuffer));
  ctx_->pb = buffer ? avio_alloc_context(buffer, kIoBuffer, 1, this, nullptr, &Fmp4Muxer::onWrite, nullptr) : nullptr;
  if (!ctx_->pb) {
    av_free(buffer);
    err = "out of memory for the muxer's I/O";
    return Status::Error;
  }
  ctx_->flags |= AVFMT_FLAG_CUSTOM_IO;
  AVDictionary* opts = nullptr;
  // empty_moov: the init segment carries no samples; frag_custom: we cut a fragment per packet;
  // default_base_moof: what MSE expects; skip_trailer: a live stream never ends with an index.
  av_dict_set(&opts, "movflags", "empty_moov+default_base_moof+frag_custom+skip_trailer", 0);
  rc = avformat_write_header(ctx_, &opts);
  av_dict_free(&opts);
  if (rc < 0) {
    err = "mp4 header: " + avErrorText(rc);
    return Status::Error;
  }
  avio_flush(ctx_->pb);
  mime_ = "video/mp4; codecs=\"" + avcCodecString(st->codecpar->extradata, st->codecpar->extradata_size) + "\"";
  headerWritten_ = true;
  return Status::Ok;
}

bool Fmp4Muxer::isKeyframe(const AVPacket* pkt) const {
  if (pkt->flags & AV_PKT_FLAG_KEY) return true;
  const uint8_t* d = pkt->data;
  const int n = pkt->size;
  // Length-prefixed NAL units (avcC streams: mp4/mkv), else Annex B start codes.
  if (par_ && par_->extradata_size > 0 && par_->extradata[0] == 1) {
    const int lenSize = (par_->extradata_size > 4 ? (par_->extradata[4] & 3) : 3) + 1;
    for (int i = 0; i + lenSize < n;) {
      uint32_t len = 0;
      for (int k = 0; k < lenSize; ++k) len = (len << 8) | d[i + k];
      if ((d[i + lenSize] & 0x1f) == 5) return true;
      if (len == 0 || len > static_cast<uint32_t>(n)) break;
      i += lenSize + static_cast<int>(len);
    }
    return false;
  }
  for (int i = 0; i + 3 < n; ++i) {
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1 && (d[i + 3] & 0x1f) == 5) return true;
  }
  return false;
}

Status Fmp4Muxer::write(const AVPacket* pkt, bool key, int64_t ptsUs, int64_t dtsUs, std::vector<uint8_t>& init,
                        std::vector<uint8_t>& fragment, std::string& err) {
  if (!par_) {
    err = "muxer not open";
    return Status::Error;
  }
  if (lastPtsUs_ != AV_NOPTS_VALUE && ptsUs > lastPtsUs_ && ptsUs - lastPtsUs_ < 1000000)
    lastDurUs_ = ptsUs - lastPtsUs_;
  lastPtsUs_ = ptsUs;
  if (!headerWritten_) {
    if (!key) return Status::Ok;  // a viewer's stream starts at a keyframe
    const uint8_t* ed = par_->extradata;
    int size = par_->extradata_size;
    if (size == 0 && extract_) {
      if (av_packet_ref(scratch_, pkt) < 0 || av_bsf_send_packet(extract_, scratch_) < 0) {
        av_packet_unref(scratch_);
        return Status::Ok;
      }
      while (av_bsf_receive_packet(extract_, scratch_) >= 0) {
        size_t n = 0;
        const uint8_t* side = av_packet_get_side_data(scratch_, AV_PKT_DATA_NEW_EXTRADATA, &n);
        if (side && n > 0 && par_->extradata_size == 0) {
          par_->extradata = static_cast<uint8_t*>(av_mallocz(n + AV_INPUT_BUFFER_PADDING_SIZE));
          if (par_->extradata) {
            std::copy(side, side + n, par_->extradata);
            par_->extradata_size = static_cast<int>(n);
          }
        }
        av_packet_unref(scratch_);
      }
      ed = par_->extradata;
      size = par_->extradata_size;
    }
    if (size == 0) return Status::Ok;  // this keyframe carried no parameter sets: wait for one that does
    sink_ = &init;
    Status st = writeHeader(ed, size, err);
    sink_ = nullptr;
    if (st != Status::Ok) {
      close();
      return st;
    }
  }
  if (av_packet_ref(scratch_, pkt) < 0) {
    err = "out of memory for a packet";
    return Status::Error;
  }
  scratch_->stream_index = 0;
  scratch_->pts = av_rescale_q(ptsUs, kUs, kTimescale);
  int64_t dts = av_rescale_q(dtsUs, kUs, kTimescale);
  if (lastDts_ != INT64_MIN && dts <= lastDts_) dts = lastDts_ + 1;  // the muxer needs rising dts
  if (scratch_->pts < dts) scratch_->pts = dts;
  scratch_->dts = lastDts_ = dts;
  scratch_->duration = std::max<int64_t>(1, av_rescale_q(lastDurUs_, kUs, kTimescale));
  scratch_->pos = -1;
  if (key) scratch_->flags |= AV_PKT_FLAG_KEY;  // the sync-sample flag MSE starts from
  sink_ = &fragment;
  int rc = av_write_frame(ctx_, scratch_);
  if (rc >= 0) rc = av_write_frame(ctx_, nullptr);  // cut the fragment: moof+mdat of this packet
  avio_flush(ctx_->pb);
  sink_ = nullptr;
  av_packet_unref(scratch_);
  if (rc < 0) {
    err = "mp4 fragment: " + avErrorText(rc);
    return Status::Error;
  }
  return Status::Ok;
}

}  // namespace vigil
