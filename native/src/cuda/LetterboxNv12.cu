#include "cuda/LetterboxNv12.h"

namespace vigil {
namespace {

// A tent ("bilinear") filter over the source footprint of one output sample, as swscale's
// SWS_BILINEAR does: radius = the scale factor when shrinking (so every source pixel counts:
// no aliasing), 1 when enlarging (plain bilinear). `pitch`/`stride`/`offset` address one
// channel of a plane; coordinates are clamped at the edges.
__device__ float sampleTent(const uint8_t* plane, int pitch, int stride, int offset, int w, int h, float cx, float cy,
                            float rx, float ry) {
  const int x0 = static_cast<int>(ceilf(cx - rx + 1e-4f));
  const int x1 = static_cast<int>(floorf(cx + rx - 1e-4f));
  const int y0 = static_cast<int>(ceilf(cy - ry + 1e-4f));
  const int y1 = static_cast<int>(floorf(cy + ry - 1e-4f));
  float acc = 0.f;
  float wsum = 0.f;
  for (int y = y0; y <= y1; ++y) {
    const float wy = 1.f - fabsf(y - cy) / ry;
    if (wy <= 0.f) continue;
    const uint8_t* row = plane + static_cast<size_t>(min(max(y, 0), h - 1)) * pitch + offset;
    for (int x = x0; x <= x1; ++x) {
      const float wx = 1.f - fabsf(x - cx) / rx;
      if (wx <= 0.f) continue;
      acc += wx * wy * row[min(max(x, 0), w - 1) * stride];
      wsum += wx * wy;
    }
  }
  return wsum > 0.f ? acc / wsum : 0.f;
}

// One thread per output pixel of the square input.
__global__ void gpuLetterboxNv12(Nv12Surface src, LetterboxRegion region, ChannelNorm norm, float* dst) {
  const int ox = blockIdx.x * blockDim.x + threadIdx.x;
  const int oy = blockIdx.y * blockDim.y + threadIdx.y;
  if (ox >= region.size || oy >= region.size) return;
  const size_t plane = static_cast<size_t>(region.size) * region.size;
  const size_t at = static_cast<size_t>(oy) * region.size + ox;
  const int rx = ox - region.padX;
  const int ry = oy - region.padY;
  if (rx < 0 || ry < 0 || rx >= region.w || ry >= region.h) {
    for (int c = 0; c < 3; ++c) dst[c * plane + at] = norm.add[c];
    return;
  }
  // Luma: output pixel centre (rx + 0.5) maps to source (rx + 0.5) · sw / w.
  const float fx = static_cast<float>(src.width) / region.w;
  const float fy = static_cast<float>(src.height) / region.h;
  const float luma = sampleTent(src.y, src.pitchY, 1, 0, src.width, src.height, (rx + 0.5f) * fx - 0.5f,
                                (ry + 0.5f) * fy - 0.5f, fmaxf(fx, 1.f), fmaxf(fy, 1.f));
  // Chroma (4:2:0 → RGB), as swscale's default RGB output makes it: horizontally at half the
  // output width, each value shared by two pixels; vertically at the full output height.
  const int cw = (src.width + 1) / 2;
  const int ch = (src.height + 1) / 2;
  const int halfW = (region.w + 1) / 2;
  const float fcx = static_cast<float>(cw) / halfW;
  const float fcy = static_cast<float>(ch) / region.h;
  const float ccx = ((rx >> 1) + 0.5f) * fcx - 0.5f;
  const float ccy = (ry + 0.5f) * fcy - 0.5f;
  const float u = sampleTent(src.uv, src.pitchUV, 2, 0, cw, ch, ccx, ccy, fmaxf(fcx, 1.f), fmaxf(fcy, 1.f)) - 128.f;
  const float v = sampleTent(src.uv, src.pitchUV, 2, 1, cw, ch, ccx, ccy, fmaxf(fcx, 1.f), fmaxf(fcy, 1.f)) - 128.f;
  float yy;
  float k;
  if (src.fullRange) {
    yy = luma;
    k = 1.f;
  } else {
    yy = 1.164383f * (luma - 16.f);
    k = 255.f / 224.f;
  }
  float rgb[3];
  rgb[0] = yy + 1.402f * k * v;
  rgb[1] = yy - 0.344136f * k * u - 0.714136f * k * v;
  rgb[2] = yy + 1.772f * k * u;
  for (int c = 0; c < 3; ++c) {
    // Truncated to 0..255 like swscale's RGB24 output (rounding instead leaves a +0.5 level bias).
    const float px = fminf(fmaxf(floorf(rgb[norm.src[c]]), 0.f), 255.f);
    dst[c * plane + at] = px * norm.mul[c] + norm.add[c];
  }
}

cudaError_t launchLetterboxNv12(const Nv12Surface& src, const LetterboxRegion& region, const ChannelNorm& norm,
                                float* dst, cudaStream_t stream) {
  if (!src.y || !src.uv || !dst || src.width <= 0 || src.height <= 0 || region.size <= 0 || region.w <= 0 ||
      region.h <= 0 || region.padX + region.w > region.size || region.padY + region.h > region.size) {
    return cudaErrorInvalidValue;
  }
  const dim3 block(32, 8);
  const dim3 grid((region.size + block.x - 1) / block.x, (region.size + block.y - 1) / block.y);
  gpuLetterboxNv12<<<grid, block, 0, stream>>>(src, region, norm, dst);
  return cudaGetLastError();
}

}  // namespace

cudaError_t cudaLetterboxNv12(const Nv12Surface& src, const LetterboxRegion& region, const ChannelNorm& norm,
                              float* dst, cudaStream_t stream) {
  return launchLetterboxNv12(src, region, norm, dst, stream);
}

}  // namespace vigil
