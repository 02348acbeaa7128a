#pragma once
#include <string>

namespace vigil {

struct BuildInfo {
  bool cuda = false;                               // compiled with CUDA code
  std::string cudaToolkit;                         // toolkit version it was compiled with, "" without CUDA
  std::string cudaArchs;                           // CMAKE_CUDA_ARCHITECTURES, "" without CUDA
  int cudaDevices = 0;                             // devices visible now (0 without CUDA or without a driver)
  std::string cudaError;                           // why no device is usable, "" when one is
  std::string avformat, avcodec, avutil;           // FFmpeg library versions linked at run time
  bool h264 = false, hevc = false;                 // software decoders present
  bool nvdecH264 = false, nvdecHevc = false;       // this FFmpeg has NVDEC (CUDA hwaccel) for them
  bool trtCompiled = false, trtAvailable = false;  // TensorRT backend built; its libraries load here
  int trtHeaderVersion = 0, trtLibraryVersion = 0;
  std::string trtReason;
};

// What this build of the addon contains and what it finds on this machine. Any thread.
BuildInfo buildInfo();

}  // namespace vigil
