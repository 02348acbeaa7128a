#include "cuda/PaintNv12.h"

#include "cuda/CudaCheck.h"

namespace vigil {
namespace {

// One block row per rectangle; its threads stride over the rectangle's luma pixels, then
// over the chroma pairs (U,V interleaved) of every 2×2 block it touches. Where rectangles
// overlap, the last one in the list wins, as on the CPU (which paints them in order): a pixel
// that a later rectangle covers is left to it, so the result does not depend on block order.
__global__ void paintRectsNv12(uint8_t* y, int pitchY, uint8_t* uv, int pitchUV, const PaintRect* rects, int count) {
  const int k = blockIdx.y;
  const PaintRect r = rects[k];
  const int w = r.x1 - r.x0;
  const int n = w * (r.y1 - r.y0);
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const int px = r.x0 + i % w, py = r.y0 + i / w;
    bool later = false;
    for (int j = k + 1; j < count && !later; ++j) {
      const PaintRect& o = rects[j];
      later = px >= o.x0 && px < o.x1 && py >= o.y0 && py < o.y1;
    }
    if (!later) y[static_cast<size_t>(py) * pitchY + px] = r.y;
  }
  const int cx0 = r.x0 / 2, cw = (r.x1 + 1) / 2 - cx0;
  const int cy0 = r.y0 / 2, cn = cw * ((r.y1 + 1) / 2 - cy0);
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < cn; i += gridDim.x * blockDim.x) {
    const int cx = cx0 + i % cw, cy = cy0 + i / cw;
    bool later = false;
    for (int j = k + 1; j < count && !later; ++j) {
      const PaintRect& o = rects[j];
      later = cx >= o.x0 / 2 && cx < (o.x1 + 1) / 2 && cy >= o.y0 / 2 && cy < (o.y1 + 1) / 2;
    }
    if (later) continue;
    uint8_t* p = uv + static_cast<size_t>(cy) * pitchUV + 2 * cx;
    p[0] = r.u;
    p[1] = r.v;
  }
}

}  // namespace

struct GpuPainter::Impl {
  cudaStream_t stream = nullptr;
  DeviceBuffer<PaintRect> rects;
  PaintRect* pinned = nullptr;  // host staging for the rectangles (pinned: async upload)
  size_t pinnedCount = 0;
};

GpuPainter::GpuPainter() : impl_(std::make_unique<Impl>()) {}

GpuPainter::~GpuPainter() {
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
  cudaFreeHost(impl_->pinned);
}

bool GpuPainter::paint(const AVFrame* src, AVFrame* dst, const std::vector<PaintRect>& rects, std::string& err) {
  Impl& m = *impl_;
  cudaError_t rc = cudaSuccess;
  usePrimaryContextFlags();
  if (!m.stream) rc = CUDA(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking));
  const size_t n = rects.size();
  if (rc == cudaSuccess && n > m.pinnedCount) {
    cudaFreeHost(m.pinned);
    m.pinned = nullptr;
    m.pinnedCount = 0;
    rc = CUDA(cudaMallocHost(reinterpret_cast<void**>(&m.pinned), n * sizeof(PaintRect)));
    if (rc == cudaSuccess) m.pinnedCount = n;
  }
  if (rc == cudaSuccess) rc = CUDA(m.rects.reserve(n > 0 ? n : 1));
  // Luma rows, then the interleaved chroma rows (half height, full width in bytes).
  if (rc == cudaSuccess) {
    rc = CUDA(cudaMemcpy2DAsync(dst->data[0], dst->linesize[0], src->data[0], src->linesize[0], src->width, src->height,
                                cudaMemcpyDeviceToDevice, m.stream));
  }
  if (rc == cudaSuccess) {
    rc = CUDA(cudaMemcpy2DAsync(dst->data[1], dst->linesize[1], src->data[1], src->linesize[1],
                                2 * ((src->width + 1) / 2), (src->height + 1) / 2, cudaMemcpyDeviceToDevice, m.stream));
  }
  if (rc == cudaSuccess && n > 0) {
    std::copy(rects.begin(), rects.end(), m.pinned);
    rc = CUDA(cudaMemcpyAsync(m.rects.get(), m.pinned, n * sizeof(PaintRect), cudaMemcpyHostToDevice, m.stream));
    if (rc == cudaSuccess) {
      paintRectsNv12<<<dim3(8, static_cast<unsigned>(n)), 256, 0, m.stream>>>(
          dst->data[0], dst->linesize[0], dst->data[1], dst->linesize[1], m.rects.get(), static_cast<int>(n));
      rc = CUDA(cudaGetLastError());
    }
  }
  if (rc == cudaSuccess) rc = CUDA(cudaStreamSynchronize(m.stream));
  if (rc != cudaSuccess) {
    err = "GPU box painting failed: " + cudaErrorText(rc);
    return false;
  }
  return true;
}

}  // namespace vigil
