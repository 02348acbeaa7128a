#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace vigil {

// One NV12 surface in device memory (NVDEC's output): the luma plane and the interleaved
// chroma plane (half size), each with its pitch in bytes. Not owned.
struct Nv12Surface {
  const uint8_t* y = nullptr;
  const uint8_t* uv = nullptr;
  int pitchY = 0;
  int pitchUV = 0;
  int width = 0;
  int height = 0;
  bool fullRange = false;  // JPEG range (0..255) instead of the video range (16..235)
};

// Where the picture goes in the square model input: a w×h region at (padX, padY).
struct LetterboxRegion {
  int size = 0;
  int w = 0;
  int h = 0;
  int padX = 0;
  int padY = 0;
};

// Per output channel: out = px · mul[c] + add[c], px in 0..255 of source channel src[c]
// (0 = R, 1 = G, 2 = B). The border gets add[c] (a black pixel).
struct ChannelNorm {
  float mul[3] = {1, 1, 1};
  float add[3] = {0, 0, 0};
  int src[3] = {0, 1, 2};
};

// NV12 (BT.601) → letterboxed, normalised planar float [3, size, size] at `dst` (device
// memory, 3·size·size floats), filtered as the CPU path's swscale SWS_BILINEAR (a tent over
// the source footprint), each RGB value truncated to 0..255 as its RGB24 stage does.
// Asynchronous on `stream`.
cudaError_t cudaLetterboxNv12(const Nv12Surface& src, const LetterboxRegion& region, const ChannelNorm& norm,
                              float* dst, cudaStream_t stream);

}  // namespace vigil
