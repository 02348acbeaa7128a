#include "cuda/LetterboxNv12.h"

namespace vigil {
namespace {

__device__ float sampleBilinear(const uint8_t* plane, int pitch, int stride, int offset, int w, int h, float x, float y) {
  x = fminf(fmaxf(x, 0.f), w - 1.f);
  y = fminf(fmaxf(y, 0.f), h - 1.f);
  const int x0 = static_cast<int>(x);
  const int y0 = static_cast<int>(y);
  const int x1 = min(x0 + 1, w - 1);
  const int y1 = min(y0 + 1, h - 1);
  const float fx = x - x0;
  const float fy = y - y0;
  const uint8_t* r0 = plane + static_cast<size_t>(y0) * pitch + offset;
  const uint8_t* r1 = plane + static_cast<size_t>(y1) * pitch + offset;
  const float top = r0[x0 * stride] + (r0[x1 * stride] - r0[x0 * stride]) * fx;
  const float bottom = r1[x0 * stride] + (r1[x1 * stride] - r1[x0 * stride]) * fx;
  return top + (bottom - top) * fy;
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
  // Pixel centres: output (rx + 0.5) maps to source (rx + 0.5) · sw / w.
  const float sx = (rx + 0.5f) * src.width / region.w - 0.5f;
  const float sy = (ry + 0.5f) * src.height / region.h - 0.5f;
  const float luma = sampleBilinear(src.y, src.pitchY, 1, 0, src.width, src.height, sx, sy);
  // 4:2:0 chroma, MPEG-2 siting: horizontally on the even luma column, vertically between rows.
  const int cw = (src.width + 1) / 2;
  const int ch = (src.height + 1) / 2;
  const float cx = sx * 0.5f;
  const float cy = (sy + 0.5f) * 0.5f - 0.5f;
  const float u = sampleBilinear(src.uv, src.pitchUV, 2, 0, cw, ch, cx, cy) - 128.f;
  const float v = sampleBilinear(src.uv, src.pitchUV, 2, 1, cw, ch, cx, cy) - 128.f;
  float yy;
  float ku;
  float kv;
  if (src.fullRange) {
    yy = luma;
    ku = 1.f;
    kv = 1.f;
  } else {
    yy = 1.164383f * (luma - 16.f);
    ku = 255.f / 224.f;
    kv = 255.f / 224.f;
  }
  float rgb[3];
  rgb[0] = yy + 1.402f * kv * v;
  rgb[1] = yy - 0.344136f * ku * u - 0.714136f * kv * v;
  rgb[2] = yy + 1.772f * ku * u;
  for (int c = 0; c < 3; ++c) {
    const float px = fminf(fmaxf(rintf(rgb[norm.src[c]]), 0.f), 255.f);
    dst[c * plane + at] = px * norm.mul[c] + norm.add[c];
  }
}

cudaError_t launchLetterboxNv12(const Nv12Surface& src, const LetterboxRegion& region, const ChannelNorm& norm, float* dst,
                                cudaStream_t stream) {
  if (!src.y || !src.uv || !dst || src.width <= 0 || src.height <= 0 || region.size <= 0 || region.w <= 0 || region.h <= 0 ||
      region.padX + region.w > region.size || region.padY + region.h > region.size) {
    return cudaErrorInvalidValue;
  }
  const dim3 block(32, 8);
  const dim3 grid((region.size + block.x - 1) / block.x, (region.size + block.y - 1) / block.y);
  gpuLetterboxNv12<<<grid, block, 0, stream>>>(src, region, norm, dst);
  return cudaGetLastError();
}

}  // namespace

cudaError_t cudaLetterboxNv12(const Nv12Surface& src, const LetterboxRegion& region, const ChannelNorm& norm, float* dst,
                              cudaStream_t stream) {
  return launchLetterboxNv12(src, region, norm, dst, stream);
}

}  // namespace vigil
