/**
 * Letterbox geometry: the source frame scaled to fit the model input (aspect kept) and
 * centred, the rest padded. Maps boxes back to source pixels.
 */
export interface Letterbox {
  scale: number;
  padX: number;
  padY: number;
  srcWidth: number;
  srcHeight: number;
  size: number;
}

export function letterboxGeometry(srcWidth: number, srcHeight: number, size: number): Letterbox {
  const scale = Math.min(size / srcWidth, size / srcHeight);
  const w = Math.round(srcWidth * scale);
  const h = Math.round(srcHeight * scale);
  return { scale, padX: Math.floor((size - w) / 2), padY: Math.floor((size - h) / 2), srcWidth, srcHeight, size };
}

/** Model-input pixels → source pixels, clamped to the frame. */
export function toSource(lb: Letterbox, x: number, y: number): [number, number] {
  const sx = (x - lb.padX) / lb.scale;
  const sy = (y - lb.padY) / lb.scale;
  return [Math.min(Math.max(sx, 0), lb.srcWidth), Math.min(Math.max(sy, 0), lb.srcHeight)];
}

/**
 * Reference letterbox of interleaved RGB8 into a planar float32 NCHW tensor (bilinear,
 * half-pixel centres), with a per-channel affine normalisation out = (px - mean) / std and
 * an optional RGB→BGR swap. The pipeline does this natively; this one serves tools and tests.
 */
export function letterboxRgb(
  rgb: Uint8Array,
  width: number,
  height: number,
  size: number,
  norm: { mean: [number, number, number]; std: [number, number, number]; bgr: boolean },
): { tensor: Float32Array; box: Letterbox } {
  const box = letterboxGeometry(width, height, size);
  const out = new Float32Array(3 * size * size);
  const w = Math.round(width * box.scale);
  const h = Math.round(height * box.scale);
  for (let c = 0; c < 3; c++) {
    const pad = (0 - norm.mean[c]!) / norm.std[c]!;
    out.fill(pad, c * size * size, (c + 1) * size * size);
  }
  for (let y = 0; y < h; y++) {
    const fy = Math.min(Math.max((y + 0.5) / box.scale - 0.5, 0), height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, height - 1);
    const wy = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(Math.max((x + 0.5) / box.scale - 0.5, 0), width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => rgb[(yy * width + xx) * 3 + c]!;
        const v = (p(y0, x0) * (1 - wx) + p(y0, x1) * wx) * (1 - wy) + (p(y1, x0) * (1 - wx) + p(y1, x1) * wx) * wy;
        const oc = norm.bgr ? 2 - c : c;
        out[oc * size * size + (y + box.padY) * size + (x + box.padX)] = (v - norm.mean[oc]!) / norm.std[oc]!;
      }
    }
  }
  return { tensor: out, box };
}
