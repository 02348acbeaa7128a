#include "core/BuildInfo.h"

#include "decode/NvdecDecoder.h"
#include "infer/TensorRtBackend.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
}

#ifdef VIGIL_WITH_CUDA
#include "cuda/DeviceQuery.h"
#endif

namespace vigil {

namespace {
std::string ver(unsigned v) {
  return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}
}  // namespace

BuildInfo buildInfo() {
  BuildInfo b;
#ifdef VIGIL_WITH_CUDA
  b.cuda = true;
  b.cudaToolkit = VIGIL_CUDA_TOOLKIT;
  b.cudaArchs = VIGIL_CUDA_ARCHS;
  b.cudaDevices = cudaDeviceCountOrReason(b.cudaError);
#else
  b.cudaError = "built without CUDA";
#endif
  b.avformat = ver(avformat_version());
  b.avcodec = ver(avcodec_version());
  b.avutil = ver(avutil_version());
  b.h264 = avcodec_find_decoder(AV_CODEC_ID_H264) != nullptr;
  b.hevc = avcodec_find_decoder(AV_CODEC_ID_HEVC) != nullptr;
  b.nvdecH264 = nvdecSupports(AV_CODEC_ID_H264);
  b.nvdecHevc = nvdecSupports(AV_CODEC_ID_HEVC);
  const TrtStatus trt = tensorRtStatus();
  b.trtCompiled = trt.compiled;
  b.trtAvailable = trt.available;
  b.trtHeaderVersion = trt.headerVersion;
  b.trtLibraryVersion = trt.libraryVersion;
  b.trtReason = trt.reason;
  return b;
}

}  // namespace vigil
