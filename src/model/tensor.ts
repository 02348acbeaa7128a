/** A small host tensor for constant folding and weight handling (row-major). */
export type DType = 'float32' | 'int32';

export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Int32Array;
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = (s[i + 1] as number) * (shape[i + 1] as number);
  return s;
}

export function tensor(dtype: DType, shape: number[], data?: ArrayLike<number>): HostTensor {
  const n = size(shape);
  const out = dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
  if (data) {
    if (data.length !== n) throw new Error(`Expected ${n} values for shape [${shape}] but received ${data.length}`);
    out.set(data);
  }
  return { dtype, shape: [...shape], data: out };
}

/** out = transpose(t, perm): out.shape[i] = t.shape[perm[i]]. */
export function transpose(t: HostTensor, perm: readonly number[]): HostTensor {
  if (perm.length !== t.shape.length) throw new Error(`transpose: perm [${perm}] does not fit shape [${t.shape}]`);
  const outShape = perm.map((p) => t.shape[p] as number);
  const out = tensor(t.dtype, outShape);
  const inStrides = strides(t.shape);
  const n = out.data.length;
  const rank = perm.length;
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let i = 0; i < rank; i++) src += (idx[i] as number) * (inStrides[perm[i] as number] as number);
    out.data[o] = t.data[src] as number;
    for (let i = rank - 1; i >= 0; i--) {
      idx[i] = (idx[i] as number) + 1;
      if ((idx[i] as number) < (outShape[i] as number)) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** Broadcast shapes (numpy rules). */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`Cannot broadcast [${a}] with [${b}]`);
    out.push(Math.max(x, y));
  }
  return out;
}

/** Elementwise binary op with numpy broadcasting. */
export function binary(a: HostTensor, b: HostTensor, fn: (x: number, y: number) => number): HostTensor {
  const shape = broadcastShape(a.shape, b.shape);
  const out = tensor(a.dtype === 'float32' || b.dtype === 'float32' ? 'float32' : 'int32', shape);
  const rank = shape.length;
  const pa = [...new Array<number>(rank - a.shape.length).fill(1), ...a.shape];
  const pb = [...new Array<number>(rank - b.shape.length).fill(1), ...b.shape];
  const sa = strides(pa).map((s, i) => (pa[i] === 1 ? 0 : s));
  const sb = strides(pb).map((s, i) => (pb[i] === 1 ? 0 : s));
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.data.length; o++) {
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < rank; i++) {
      ia += (idx[i] as number) * (sa[i] as number);
      ib += (idx[i] as number) * (sb[i] as number);
    }
    out.data[o] = fn(a.data[ia] as number, b.data[ib] as number);
    for (let i = rank - 1; i >= 0; i--) {
      idx[i] = (idx[i] as number) + 1;
      if ((idx[i] as number) < (shape[i] as number)) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** Reshape to `rank` dimensions by prepending ones (numpy broadcasting alignment). */
export function expandRank(t: HostTensor, rank: number): HostTensor {
  if (t.shape.length >= rank) return t;
  return { ...t, shape: [...new Array<number>(rank - t.shape.length).fill(1), ...t.shape] };
}

/** IEEE 754 half → float. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * Math.pow(2, e - 15) * (1 + f / 1024);
}
