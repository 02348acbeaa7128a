import { roundHalfEven } from '../quant/QdqWriter.js';
import { dequantizedBias, dequantizedWeights, type Int8Plan, type PlanStep, type PlanTensor } from './plan.js';

/** A tensor's values: int8 codes (value = q · scale) or floats, row-major over its per-image shape. */
export type RefValue = { shape: number[]; q: Int8Array; scale: number } | { shape: number[]; f: Float32Array };

const sat = (v: number) => (v > 127 ? 127 : v < -128 ? -128 : v);
// float32 arithmetic throughout (as the GPU kernels and ONNX Runtime compute): each result rounded to float32.
const f32 = Math.fround;
const quantize = (x: number, s: number) => sat(roundHalfEven(f32(x / s)));

const fmaBits = new Float64Array(1);
const fmaWords = new Uint32Array(fmaBits.buffer);
/**
 * fmaf(a, b, c) for float32 a, b, c: a·b + c rounded once to float32, as x86 vfmadd231ps and
 * CUDA's __fmaf_rn compute it. a·b is exact in a double (24 + 24 bits); the double sum s plus its
 * exact error e (TwoSum) is the exact result. Rounding s to float directly could round twice
 * (s may sit on a float half-way point that s + e does not), so s is first rounded to odd at 53
 * bits (its last bit set when e is not zero): a value 2 bits wider than float rounded to odd
 * rounds to nearest float correctly (Boldo & Melquiond, "Emulation of FMA and correctly rounded
 * sums: proved algorithms using rounding to odd", 2008).
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const t = s - p;
  const e = p - (s - t) + (c - t);
  if (e === 0) return f32(s);
  fmaBits[0] = s;
  if ((fmaWords[0]! & 1) === 0) {
    // |s| one unit in the last place towards s + e: up when e has s's sign (s is not zero here).
    if (e > 0 === s > 0) {
      fmaWords[0] = fmaWords[0]! + 1;
      if (fmaWords[0] === 0) fmaWords[1] = fmaWords[1]! + 1;
    } else {
      if (fmaWords[0] === 0) fmaWords[1] = fmaWords[1]! - 1;
      fmaWords[0] = fmaWords[0]! - 1;
    }
  }
  return f32(fmaBits[0]!);
}

/**
 * Runs a plan on one image on the CPU, in plain TypeScript: the arithmetic the CUDA kernels must
 * reproduce. INT8 convolution: int32 accumulation of int8 × int8 plus the int32 bias, times
 * s_in·s_w[o] as float, then the epilogue in order (requantize = round half to even onto the
 * int8 grid, saturate, back to float). Float convolutions (FP32 layers, and int8 ones whose
 * output stays float, on dequantized input, weights and bias) sum in ONNX Runtime's order
 * (PlanStep `floatSum`), so that their floats are ONNX Runtime's bit for bit. Other ops compute
 * in float on their dequantized inputs and requantize when they write int8. Slow (seconds an
 * image): a reference, not an engine.
 */
export function runReference(
  plan: Int8Plan,
  image: Float32Array,
  /** Teacher forcing: a step reads this value of an input instead of the one computed (checking each layer alone). */
  given?: (tensor: string) => RefValue | undefined,
): Map<string, RefValue> {
  const vals = new Map<string, RefValue>();
  const inT = plan.tensors.get(plan.input)!;
  vals.set(plan.input, { shape: inT.shape, f: image });
  // What a step reads: the given value (teacher forcing) or the one computed; outputs are never replaced.
  const read = (name: string): RefValue => given?.(name) ?? vals.get(name)!;
  const floats = (name: string): Float32Array => {
    const v = read(name);
    if ('f' in v) return v.f;
    const out = new Float32Array(v.q.length);
    for (let i = 0; i < out.length; i++) out[i] = v.q[i]! * v.scale;
    return out;
  };
  const put = (name: string, t: PlanTensor, f: Float32Array) => {
    if (t.dtype === 'int8') {
      const q = new Int8Array(f.length);
      for (let i = 0; i < f.length; i++) q[i] = quantize(f[i]!, t.scale!);
      vals.set(name, { shape: t.shape, q, scale: t.scale! });
    } else {
      vals.set(name, { shape: t.shape, f });
    }
  };
  for (const s of plan.steps) step(s);
  return vals;

  function step(s: PlanStep): void {
    const tOut = 'output' in s ? plan.tensors.get(s.output)! : null;
    switch (s.op) {
      case 'conv':
        return put(s.output, tOut!, conv(s));
      case 'quantize':
        return put(s.output, tOut!, floats(s.input));
      case 'dequantize':
      case 'identity':
      case 'reshape':
        return put(s.output, tOut!, floats(s.input));
      case 'leaky_relu':
        return put(
          s.output,
          tOut!,
          floats(s.input).map((x) => (x < 0 ? x * s.alpha : x)),
        );
      case 'relu':
        return put(
          s.output,
          tOut!,
          floats(s.input).map((x) => Math.max(0, x)),
        );
      case 'sigmoid':
        return put(
          s.output,
          tOut!,
          floats(s.input).map((x) => 1 / (1 + Math.exp(-x))),
        );
      case 'add': {
        const [a, b] = [floats(s.inputs[0]), floats(s.inputs[1])];
        return put(
          s.output,
          tOut!,
          a.map((x, i) => x + b[i]!),
        );
      }
      case 'concat': {
        const parts = s.inputs.map(floats);
        const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          out.set(p, at);
          at += p.length;
        }
        return put(s.output, tOut!, out);
      }
      case 'maxpool': {
        const x = floats(s.input);
        const [C, H, W] = read(s.input).shape as [number, number, number];
        const [, Ho, Wo] = tOut!.shape as [number, number, number];
        const out = new Float32Array(C * Ho * Wo);
        for (let c = 0; c < C; c++)
          for (let oy = 0; oy < Ho; oy++)
            for (let ox = 0; ox < Wo; ox++) {
              let m = -Infinity;
              for (let ky = 0; ky < s.kernel[0]; ky++)
                for (let kx = 0; kx < s.kernel[1]; kx++) {
                  const iy = oy * s.stride[0] - s.pads[0] + ky;
                  const ix = ox * s.stride[1] - s.pads[1] + kx;
                  if (iy >= 0 && iy < H && ix >= 0 && ix < W) m = Math.max(m, x[(c * H + iy) * W + ix]!);
                }
              out[(c * Ho + oy) * Wo + ox] = m;
            }
        return put(s.output, tOut!, out);
      }
      case 'resize': {
        if (s.mode !== 'linear' || s.coordinates !== 'half_pixel')
          throw new Error(`reference: resize ${s.mode}/${s.coordinates} is not written`);
        const x = floats(s.input);
        const [C, H, W] = read(s.input).shape as [number, number, number];
        const [, Ho, Wo] = tOut!.shape as [number, number, number];
        const out = new Float32Array(C * Ho * Wo);
        // Every step one float32 operation, in the kernel's order (native/src/int8/ElementwiseKernels.cu resizeTap).
        const axis = (o: number, scale: number, n: number) => {
          const v = Math.min(Math.max(f32(f32(f32(o + 0.5) / scale) - 0.5), 0), n - 1);
          const i0 = Math.floor(v);
          return { i0, i1: Math.min(i0 + 1, n - 1), t: f32(v - i0) };
        };
        const lerp = (a: number, b: number, t: number) => f32(f32(a * f32(1 - t)) + f32(b * t));
        for (let oy = 0; oy < Ho; oy++) {
          const ay = axis(oy, s.scale[0], H);
          for (let ox = 0; ox < Wo; ox++) {
            const ax = axis(ox, s.scale[1], W);
            for (let c = 0; c < C; c++) {
              const p = (yy: number, xx: number) => x[(c * H + yy) * W + xx]!;
              out[(c * Ho + oy) * Wo + ox] = lerp(
                lerp(p(ay.i0, ax.i0), p(ay.i0, ax.i1), ax.t),
                lerp(p(ay.i1, ax.i0), p(ay.i1, ax.i1), ax.t),
                ay.t,
              );
            }
          }
        }
        return put(s.output, tOut!, out);
      }
      case 'pad': {
        const x = floats(s.input);
        const [C, H, W] = read(s.input).shape as [number, number, number];
        const [, Ho, Wo] = tOut!.shape as [number, number, number];
        const out = new Float32Array(C * Ho * Wo).fill(s.value);
        for (let c = 0; c < C; c++)
          for (let y = 0; y < H; y++)
            out.set(x.subarray((c * H + y) * W, (c * H + y + 1) * W), (c * Ho + y + s.pads[0]) * Wo + s.pads[1]);
        return put(s.output, tOut!, out);
      }
      case 'split': {
        const x = floats(s.input);
        const per = x.length / s.sizes.reduce((a, b) => a + b, 0);
        let at = 0;
        s.outputs.forEach((o, i) => {
          const n = s.sizes[i]! * per;
          put(o, plan.tensors.get(o)!, x.slice(at, at + n));
          at += n;
        });
        return;
      }
      case 'transpose': {
        const x = floats(s.input);
        const shape = read(s.input).shape;
        if (shape.length !== 2 || s.perm.join() !== '1,0')
          throw new Error('reference: only 2-D transposes are written');
        const [R, Cc] = shape as [number, number];
        const out = new Float32Array(x.length);
        for (let r = 0; r < R; r++) for (let c = 0; c < Cc; c++) out[c * R + r] = x[r * Cc + c]!;
        return put(s.output, tOut!, out);
      }
    }
  }

  function conv(s: Extract<PlanStep, { op: 'conv' }>): Float32Array {
    const xin = read(s.input);
    const [C, H, W] = xin.shape as [number, number, number];
    const [, Ho, Wo] = plan.tensors.get(s.output)!.shape as [number, number, number];
    const O = s.outChannels;
    const cpg = C / s.group;
    const opg = O / s.group;
    const [kh, kw] = s.kernel;
    const out = new Float32Array(O * Ho * Wo);
    const sum = s.floatSum;
    const x: Int8Array | Float32Array = sum ? floats(s.input) : (xin as { q: Int8Array }).q;
    const weight = sum ? dequantizedWeights(s) : s.weight;
    const bias = sum ? dequantizedBias(s) : s.bias;
    const acc = sum ? new Float32Array(Ho * Wo) : new Int32Array(Ho * Wo);
    const total = new Float32Array(Ho * Wo);
    // Adds input channel c's tap (ky, kx) times w to every output's accumulator (w = 0 adds a zero: nothing).
    const term = (c: number, ky: number, kx: number, w: number) => {
      if (w === 0) return;
      for (let oy = 0; oy < Ho; oy++) {
        const iy = oy * s.stride[0] - s.pads[0] + ky * s.dilation[0];
        if (iy < 0 || iy >= H) continue;
        const row = (c * H + iy) * W;
        for (let ox = 0; ox < Wo; ox++) {
          const ix = ox * s.stride[1] - s.pads[1] + kx * s.dilation[1];
          if (ix < 0 || ix >= W) continue;
          const at = oy * Wo + ox;
          acc[at] = sum ? fmaf(x[row + ix]!, w, acc[at]!) : acc[at]! + x[row + ix]! * w;
        }
      }
    };
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / opg);
      const wAt = (ci: number, ky: number, kx: number) => weight[((o * cpg + ci) * kh + ky) * kw + kx]!;
      if (!sum) {
        // int32: exact in any order.
        acc.fill(bias ? bias[o]! : 0);
        for (let ci = 0; ci < cpg; ci++)
          for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) term(g * cpg + ci, ky, kx, wAt(ci, ky, kx));
      } else {
        // Blocks of channels, taps, the block's channels; a partial sum from zero every `restart` terms.
        acc.fill(0);
        total.fill(0);
        let k = 0;
        const K = cpg * kh * kw;
        for (let c0 = 0; c0 < cpg; c0 += sum.block) {
          const n = Math.min(sum.block, cpg - c0);
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++)
              for (let ci = c0; ci < c0 + n; ci++) {
                term(g * cpg + ci, ky, kx, wAt(ci, ky, kx));
                if (++k % sum.restart === 0 || k === K) {
                  for (let i = 0; i < total.length; i++) total[i] = total[i]! + acc[i]!;
                  acc.fill(0);
                }
              }
        }
      }
      const mult = sum ? 1 : f32((xin as { scale: number }).scale * s.weightScales![o]!);
      for (let i = 0; i < Ho * Wo; i++) {
        // int32: the accumulator as float32, then the product; float: the bias added last.
        let y = sum ? f32(total[i]! + (bias ? bias[o]! : 0)) : f32(f32(acc[i]!) * mult);
        for (const e of s.epilogue) {
          if (e.op === 'requantize') y = f32(quantize(y, e.scale) * e.scale);
          else if (e.op === 'leaky_relu') y = y < 0 ? f32(y * e.alpha) : y;
          else if (e.op === 'relu') y = Math.max(0, y);
          else y = 1 / (1 + Math.exp(-y));
        }
        out[o * Ho * Wo + i] = y;
      }
    }
    return out;
  }
}
