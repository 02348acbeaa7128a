import { OnnxGraph, type AttrValue, type OnnxNode } from '../onnx/OnnxGraph.js';
import { binary, broadcastShape, expandRank, size, tensor, transpose, type HostTensor } from '../tensor.js';
import type { TfAttr, TfjsGraph, TfNode } from '../tfjs/TfjsGraph.js';

/**
 * TF.js graph model → ONNX (opset 13), NCHW.
 *
 * The TF graph runs its convolutions NHWC: a TF-native model throughout, one converted from
 * ONNX by onnx-tf with every NHWC op wrapped in transposes. Instead of copying those, each TF
 * tensor is tracked with the permutation its ONNX tensor has (onnx = transpose(tf, perm)): TF
 * Transposes only change that bookkeeping, NHWC ops ask for the NCHW layout they run in, and a
 * Transpose is emitted only where a consumer needs a layout no producer gave it. Constants are
 * folded (weights pre-transposed, SparseToDense shape arithmetic evaluated), conv biases and
 * grappler's fused activations kept on the Conv, and outputs get the names the caller asks for.
 * Only what the outputs need is converted, so a graph can be cut before its post-processing.
 */
export interface ConvertOptions {
  /** TF output name ("Identity:0") → ONNX output name. Unnamed outputs keep a cleaned TF name. */
  outputNames?: Record<string, string>;
  /** The TF tensors to output ("tower_0/wh"). Default: the signature's outputs. */
  outputs?: string[];
  inputName?: string;
  /**
   * The TF graph is NHWC at its edges (a TF-native model): its rank-4 input and outputs become
   * NCHW in ONNX. Default: as the TF graph lays them out (an onnx-tf graph is NCHW there).
   */
  nchw?: boolean;
  /**
   * A batch dimension the runtime chooses ('N'), where the TF graph fixed it to 1: the input's
   * and outputs' first dim become symbolic, Reshapes copy it from their input (0), Resizes
   * scale the spatial dims instead of naming every size. Default: as the TF graph says.
   */
  dynamicBatch?: boolean;
}

export class UnsupportedOpError extends Error {
  override name = 'UnsupportedOpError';
}

interface Val {
  shape: number[]; // TF logical shape
  perm: number[]; // the ONNX tensor is transpose(tf, perm)
  name?: string; // ONNX name (non-constants)
  value?: HostTensor; // TF logical value (constants)
  conv?: OnnxNode; // the Conv that produced it (bias fusion)
  /** The constant Pad that produced it, in ONNX (physical) axis order: fused into a Conv/MaxPool. */
  pad?: { node: OnnxNode; input: string; pads: number[]; value: number };
}

const identity = (rank: number) => Array.from({ length: rank }, (_, i) => i);
const samePerm = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const NCHW_OF_NHWC = [0, 3, 1, 2];

function attrInts(a: TfAttr | undefined): number[] {
  return (a?.list?.i ?? []).map(Number);
}
function attrStr(a: TfAttr | undefined): string {
  return a?.s ? Buffer.from(a.s, 'base64').toString() : '';
}
function attrStrs(a: TfAttr | undefined): string[] {
  return (a?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString());
}
const onnxName = (node: TfNode) => node.name.replace(/^PartitionedCall\//, '').replace(/[^A-Za-z0-9_]/g, '_');

export function convertTfjsToOnnx(tf: TfjsGraph, opts: ConvertOptions = {}): OnnxGraph {
  const g = new OnnxGraph();
  const byName = new Map(tf.nodes.map((n) => [n.name, n]));
  const vals = new Map<string, Val>(); // "node:k" → value
  const outputs = opts.outputs ?? tf.outputs.map((o) => o.name);
  // Uses within what the outputs need: a cut-off consumer does not stop a fusion.
  const needed = new Set<string>();
  const todo = outputs.map(nodeOf);
  for (let n = todo.pop(); n !== undefined; n = todo.pop()) {
    if (needed.has(n)) continue;
    needed.add(n);
    todo.push(...(byName.get(n)?.input ?? []).map(nodeOf));
  }
  const consumers = new Map<string, number>();
  for (const n of tf.nodes) {
    if (needed.has(n.name)) for (const i of n.input) consumers.set(ref(i), (consumers.get(ref(i)) ?? 0) + 1);
  }
  const materialized = new Map<string, string>();
  const constCache = new WeakMap<HostTensor, Map<string, string>>();

  function ref(input: string): string {
    const s = input.replace(/^\^/, '');
    return s.includes(':') ? s : `${s}:0`;
  }

  function nodeOf(input: string): string {
    return ref(input).split(':')[0] as string;
  }

  function val(input: string): Val {
    const key = ref(input);
    let v = vals.get(key);
    if (!v) {
      visit(byName.get(nodeOf(key)) ?? fail(`Node '${key}' is missing from the graph`));
      v = vals.get(key);
    }
    if (!v) throw new Error(`Output ${key} was not produced`);
    return v;
  }

  function batchDim(shape: number[]): Array<number | string> {
    return opts.dynamicBatch && shape[0] === 1 ? ['N', ...shape.slice(1)] : shape;
  }

  function fail(msg: string): never {
    throw new Error(msg);
  }

  function constOf(input: string, node: TfNode, what: string): HostTensor {
    const v = val(input);
    if (!v.value) throw new UnsupportedOpError(`${node.op} '${node.name}': ${what} must be a constant`);
    return v.value;
  }

  /** The ONNX name of `v` laid out as transpose(tf, want). */
  function as(v: Val, want: number[]): string {
    if (v.value) {
      const perms = constCache.get(v.value) ?? new Map<string, string>();
      constCache.set(v.value, perms);
      const hit = perms.get(String(want));
      if (hit) return hit;
      const folded = transpose(expandRank(v.value, want.length), want);
      const name = g.addFloat(g.uniqueName('const'), {
        ...folded,
        dtype: 'float32',
        data: Float32Array.from(folded.data),
      });
      perms.set(String(want), name);
      return name;
    }
    if (samePerm(v.perm, want)) return v.name as string;
    const key = `${v.name}:${want}`;
    const cached = materialized.get(key);
    if (cached) return cached;
    const q = want.map((a) => v.perm.indexOf(a));
    const out = g.uniqueName(`${v.name}_t`);
    g.addNode('Transpose', [v.name as string], [out], { perm: q });
    materialized.set(key, out);
    return out;
  }

  function setOut(node: TfNode, v: Val, k = 0) {
    vals.set(`${node.name}:${k}`, v);
  }

  function emit(
    node: TfNode,
    op: string,
    inputs: string[],
    attrs: Record<string, AttrValue>,
    shape: number[],
    perm: number[],
    k = 0,
  ): Val {
    const out = g.uniqueName(onnxName(node));
    const n = g.addNode(op, inputs, [out], attrs, out);
    const v: Val = { shape, perm, name: out };
    if (op === 'Conv') v.conv = n;
    setOut(node, v, k);
    return v;
  }

  /**
   * `x` as NCHW input of a Conv (value 0) or MaxPool (value -inf): when x is the only use of a
   * spatial-only constant Pad, that Pad is dropped and its amounts returned for the op's pads.
   */
  function fusedInput(x: Val, xRef: string, padValue: (v: number) => boolean): { name: string; extra: number[] } {
    const p = x.pad;
    if (
      p &&
      samePerm(x.perm, NCHW_OF_NHWC) &&
      padValue(p.value) &&
      consumers.get(ref(xRef)) === 1 &&
      p.pads[0] === 0 &&
      p.pads[1] === 0 &&
      p.pads[4] === 0 &&
      p.pads[5] === 0
    ) {
      g.removeNode(p.node);
      return {
        name: p.input,
        extra: [p.pads[2] as number, p.pads[3] as number, p.pads[6] as number, p.pads[7] as number],
      };
    }
    return { name: as(x, NCHW_OF_NHWC), extra: [0, 0, 0, 0] };
  }
  const addPads = (a: number[], b: number[]) => a.map((v, i) => v + (b[i] as number));

  function convPads(kind: string, inHW: number[], k: number[], s: number[], d: number[], explicit: number[]): number[] {
    if (kind === 'VALID') return [0, 0, 0, 0];
    if (kind === 'EXPLICIT')
      return [explicit[2] as number, explicit[4] as number, explicit[3] as number, explicit[5] as number];
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < 2; i++) {
      const inp = inHW[i] as number;
      const out = Math.ceil(inp / (s[i] as number));
      const total = Math.max((out - 1) * (s[i] as number) + ((k[i] as number) - 1) * (d[i] as number) + 1 - inp, 0);
      begin.push(Math.floor(total / 2));
      end.push(total - Math.floor(total / 2));
    }
    return [begin[0] as number, begin[1] as number, end[0] as number, end[1] as number];
  }

  function outHW(inHW: number[], k: number[], s: number[], d: number[], pads: number[]): number[] {
    return [0, 1].map(
      (i) =>
        Math.floor(
          ((inHW[i] as number) +
            (pads[i] as number) +
            (pads[i + 2] as number) -
            ((k[i] as number) - 1) * (d[i] as number) -
            1) /
            (s[i] as number),
        ) + 1,
    );
  }

  const scalars = new Map<number, string>();
  function scalar(v: number): string {
    const hit = scalars.get(v);
    if (hit) return hit;
    const name = g.addFloat(g.uniqueName('scalar'), { dtype: 'float32', shape: [], data: Float32Array.of(v) });
    scalars.set(v, name);
    return name;
  }

  /** `kind` (a TF activation) of x as `node`'s output. */
  function activation(node: TfNode, kind: string, x: Val, alpha?: number): void {
    const input = as(x, x.perm);
    switch (kind) {
      case 'Relu':
      case 'Elu':
      case 'Sigmoid':
        emit(node, kind, [input], {}, x.shape, x.perm);
        return;
      case 'Relu6':
        emit(node, 'Clip', [input, scalar(0), scalar(6)], {}, x.shape, x.perm);
        return;
      case 'LeakyRelu':
        emit(node, 'LeakyRelu', [input], { alpha: { float: alpha ?? 0.2 } }, x.shape, x.perm);
        return;
      default:
        throw new UnsupportedOpError(`${node.op} '${node.name}': activation ${kind}`);
    }
  }

  /**
   * Conv2D, DepthwiseConv2dNative and grappler's fused forms of them (_FusedConv2D,
   * FusedDepthwiseConv2dNative: + BiasAdd, + one activation) as one ONNX Conv (+ activation).
   */
  function conv(node: TfNode, ins: string[], depthwise: boolean): void {
    if (attrStr(node.attr.data_format) !== 'NHWC')
      throw new UnsupportedOpError(`${node.op} '${node.name}': data_format ${attrStr(node.attr.data_format)}`);
    const x = val(ins[0] as string);
    const w = constOf(ins[1] as string, node, 'filter'); // HWIO; depthwise: H W C multiplier
    const [kh, kw, ci, m] = w.shape as [number, number, number, number];
    const cin = x.shape[3] as number;
    if (depthwise ? ci !== cin : cin % ci !== 0)
      throw new UnsupportedOpError(`${node.op} '${node.name}': ${cin} input channels, filter takes ${ci}`);
    // Depthwise: TF's output channel c·M + k is ONNX's, so [C, M, kh, kw] is [C·M, 1, kh, kw] as laid out.
    const co = depthwise ? ci * m : m;
    const weights = depthwise ? { ...transpose(w, [2, 3, 0, 1]), shape: [co, 1, kh, kw] } : transpose(w, [3, 2, 0, 1]);
    const [bias, ...acts] = attrStrs(node.attr.fused_ops);
    if ((bias !== undefined && bias !== 'BiasAdd') || acts.length > 1)
      throw new UnsupportedOpError(`${node.op} '${node.name}': fused ops ${attrStrs(node.attr.fused_ops).join(', ')}`);
    const s = attrInts(node.attr.strides).slice(1, 3);
    const d = attrInts(node.attr.dilations).slice(1, 3);
    const dil = d.length ? d : [1, 1];
    const pads = convPads(
      attrStr(node.attr.padding),
      x.shape.slice(1, 3),
      [kh, kw],
      s,
      dil,
      attrInts(node.attr.explicit_paddings),
    );
    const [ho, wo] = outHW(x.shape.slice(1, 3), [kh, kw], s, dil, pads);
    const input = fusedInput(x, ins[0] as string, (v) => v === 0);
    const inputs = [input.name, g.addFloat(g.uniqueName(`${node.name.split('/').pop()}_w`), weights)];
    if (bias)
      inputs.push(g.addFloat(g.uniqueName(`${node.name.split('/').pop()}_b`), constOf(ins[2] as string, node, 'bias')));
    const attrs = {
      kernel_shape: [kh, kw],
      strides: s,
      dilations: dil,
      pads: addPads(pads, input.extra),
      group: depthwise ? ci : cin / ci,
    };
    const shape = [x.shape[0] as number, ho as number, wo as number, co];
    const act = acts[0];
    if (act === undefined) {
      emit(node, 'Conv', inputs, attrs, shape, NCHW_OF_NHWC);
      return;
    }
    const pre = g.uniqueName(`${onnxName(node)}_conv`);
    g.addNode('Conv', inputs, [pre], attrs, pre);
    activation(node, act, { shape, perm: NCHW_OF_NHWC, name: pre }, node.attr.leakyrelu_alpha?.f);
  }

  /** An elementwise op with numpy broadcasting, in the layout of its computed operand. */
  function elementwise(node: TfNode, ins: string[], op: string, fn: (x: number, y: number) => number): void {
    const a = val(ins[0] as string);
    const b = val(ins[1] as string);
    if (a.value && b.value) {
      const t = binary(a.value, b.value, fn);
      setOut(node, { shape: t.shape, perm: identity(t.shape.length), value: t });
      return;
    }
    const [x, y] = a.value ? [b, a] : [a, b];
    if (y.shape.length > x.shape.length || (!y.value && y.shape.length !== x.shape.length))
      throw new UnsupportedOpError(`${node.op} '${node.name}': operands of shapes [${a.shape}] and [${b.shape}]`);
    emit(node, op, [as(a, x.perm), as(b, x.perm)], {}, broadcastShape(a.shape, b.shape), x.perm);
  }

  function visit(node: TfNode) {
    if (vals.has(`${node.name}:0`)) return;
    const ins = node.input.filter((i) => !i.startsWith('^'));
    switch (node.op) {
      case 'Placeholder': {
        const shape = (node.attr.shape?.shape?.dim ?? []).map((d) => Number(d.size ?? -1));
        const name = opts.inputName ?? node.name;
        const perm = opts.nchw && shape.length === 4 ? NCHW_OF_NHWC : identity(shape.length);
        g.inputs.push({ name, shape: batchDim(perm.map((a) => shape[a] as number)) });
        setOut(node, { shape, perm, name });
        return;
      }
      case 'Const': {
        const w = tf.weights.get(node.name);
        const shape = (node.attr.value?.tensor?.tensorShape?.dim ?? []).map((d) => Number(d.size ?? 0));
        const t =
          w ??
          (size(shape) === 0
            ? tensor(node.attr.dtype?.type === 'DT_FLOAT' ? 'float32' : 'int32', shape)
            : fail(`Const '${node.name}' has no weights`));
        setOut(node, { shape: t.shape, perm: identity(t.shape.length), value: t, name: node.name });
        return;
      }
      case 'Identity': {
        setOut(node, val(ins[0] as string));
        return;
      }
      case 'Transpose': {
        const x = val(ins[0] as string);
        const P = Array.from(constOf(ins[1] as string, node, 'perm').data);
        const shape = P.map((p) => x.shape[p] as number);
        if (x.value) {
          setOut(node, { shape, perm: identity(shape.length), value: transpose(x.value, P) });
          return;
        }
        const inv = new Array<number>(P.length);
        P.forEach((p, i) => (inv[p] = i));
        // Only a single-use chain may carry a Pad on towards a fusion.
        const pad = consumers.get(ref(ins[0] as string)) === 1 ? x.pad : undefined;
        setOut(node, { ...x, shape, perm: x.perm.map((a) => inv[a] as number), conv: undefined, pad });
        return;
      }
      case 'Conv2D':
      case '_FusedConv2D':
        conv(node, ins, false);
        return;
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative':
        conv(node, ins, true);
        return;
      case 'MaxPool': {
        if (attrStr(node.attr.data_format) !== 'NHWC')
          throw new UnsupportedOpError(`MaxPool '${node.name}': data_format ${attrStr(node.attr.data_format)}`);
        const x = val(ins[0] as string);
        const k = attrInts(node.attr.ksize).slice(1, 3);
        const s = attrInts(node.attr.strides).slice(1, 3);
        const pads = convPads(
          attrStr(node.attr.padding),
          x.shape.slice(1, 3),
          k,
          s,
          [1, 1],
          attrInts(node.attr.explicit_paddings),
        );
        const [ho, wo] = outHW(x.shape.slice(1, 3), k, s, [1, 1], pads);
        const input = fusedInput(x, ins[0] as string, (v) => v === -Infinity);
        emit(
          node,
          'MaxPool',
          [input.name],
          { kernel_shape: k, strides: s, pads: addPads(pads, input.extra) },
          [x.shape[0] as number, ho as number, wo as number, x.shape[3] as number],
          NCHW_OF_NHWC,
        );
        return;
      }
      case 'Add':
      case 'AddV2': {
        const a = val(ins[0] as string);
        const b = val(ins[1] as string);
        const [x, c] = a.value ? [b, a] : [a, b];
        // Conv + per-channel bias (a [C] constant on NHWC's last axis): fold into Conv's B.
        if (
          !x.value &&
          c.value &&
          x.conv &&
          x.conv.inputs.length === 2 &&
          c.value.shape.length === 1 &&
          c.value.shape[0] === x.shape[3] &&
          consumers.get(ref(ins[a.value ? 1 : 0] as string)) === 1
        ) {
          x.conv.inputs.push(g.addFloat(g.uniqueName(`${node.name.split('/').pop()}_b`), c.value));
          setOut(node, { ...x, conv: undefined });
          return;
        }
        elementwise(node, ins, 'Add', (p, q) => p + q);
        return;
      }
      case 'Sub':
        elementwise(node, ins, 'Sub', (p, q) => p - q);
        return;
      case 'Mul':
        elementwise(node, ins, 'Mul', (p, q) => p * q);
        return;
      case 'RealDiv':
        elementwise(node, ins, 'Div', (p, q) => p / q);
        return;
      case 'Relu':
      case 'Relu6':
      case 'Elu':
      case 'LeakyRelu':
      case 'Sigmoid':
        activation(node, node.op, val(ins[0] as string), node.attr.alpha?.f);
        return;
      case 'Mean': {
        const x = val(ins[0] as string);
        const rank = x.shape.length;
        const axes = Array.from(constOf(ins[1] as string, node, 'reduction_indices').data)
          .map((a) => (a < 0 ? a + rank : a))
          .sort((p, q) => p - q);
        const keep = node.attr.keep_dims?.b === true;
        const kept = identity(rank).filter((a) => !axes.includes(a));
        const shape = keep ? x.shape.map((d, a) => (axes.includes(a) ? 1 : d)) : kept.map((a) => x.shape[a] as number);
        // A mean over all but batch and channel, dims kept (squeeze-excite's spatial mean): a
        // GlobalAveragePool in the layout that puts the reduced axes last.
        if (keep && kept.length === 2 && kept[0] === 0) {
          const want = [0, kept[1] as number, ...axes];
          emit(node, 'GlobalAveragePool', [as(x, want)], {}, shape, want);
          return;
        }
        const perm = keep
          ? x.perm
          : x.perm.filter((a) => !axes.includes(a)).map((a) => a - axes.filter((r) => r < a).length);
        const attrs = { axes: axes.map((a) => x.perm.indexOf(a)), keepdims: keep ? 1 : 0 };
        emit(node, 'ReduceMean', [as(x, x.perm)], attrs, shape, perm);
        return;
      }
      case 'Pad':
      case 'PadV2': {
        const x = val(ins[0] as string);
        const p = constOf(ins[1] as string, node, 'paddings'); // [rank, 2], TF axis order
        const begin = x.perm.map((a) => p.data[2 * a] as number);
        const end = x.perm.map((a) => p.data[2 * a + 1] as number);
        const shape = x.shape.map((d, a) => d + (p.data[2 * a] as number) + (p.data[2 * a + 1] as number));
        const inputs = [x.name as string, g.addInt64('pads', [...begin, ...end])];
        let value = 0;
        if (node.op === 'PadV2') {
          const cv = constOf(ins[2] as string, node, 'constant_values');
          value = cv.data[0] as number;
          inputs.push(
            g.addFloat(g.uniqueName('pad_value'), { dtype: 'float32', shape: [], data: Float32Array.from(cv.data) }),
          );
        }
        const out = emit(node, 'Pad', inputs, { mode: 'constant' }, shape, x.perm);
        if (consumers.get(`${node.name}:0`) === 1) {
          out.pad = {
            node: g.nodes[g.nodes.length - 1] as OnnxNode,
            input: x.name as string,
            pads: [...begin, ...end],
            value,
          };
        }
        return;
      }
      case 'ConcatV2': {
        const parts = ins.slice(0, -1).map(val);
        let axis = constOf(ins[ins.length - 1] as string, node, 'axis').data[0] as number;
        const first = parts.find((p) => !p.value) ?? fail(`ConcatV2 '${node.name}' of constants only`);
        const rank = first.shape.length;
        if (axis < 0) axis += rank;
        const shape = [...first.shape];
        shape[axis] = parts.reduce((s, p) => s + (p.shape[axis] as number), 0);
        emit(
          node,
          'Concat',
          parts.map((p) => as(p, first.perm)),
          { axis: first.perm.indexOf(axis) },
          shape,
          first.perm,
        );
        return;
      }
      case 'ResizeBilinear': {
        const x = val(ins[0] as string);
        const [h, w] = Array.from(constOf(ins[1] as string, node, 'size').data) as [number, number];
        const mode = node.attr.align_corners?.b
          ? 'align_corners'
          : node.attr.half_pixel_centers?.b
            ? 'half_pixel'
            : 'asymmetric';
        const n = x.shape[0] as number;
        const c = x.shape[3] as number;
        const attrs = { mode: 'linear', coordinate_transformation_mode: mode };
        const target = opts.dynamicBatch
          ? [
              '',
              g.addFloat(g.uniqueName('scales'), {
                dtype: 'float32',
                shape: [4],
                data: Float32Array.of(1, 1, h / (x.shape[1] as number), w / (x.shape[2] as number)),
              }),
              '',
            ]
          : ['', '', g.addInt64('sizes', [n, c, h, w])];
        emit(node, 'Resize', [as(x, NCHW_OF_NHWC), ...target], attrs, [n, h, w, c], NCHW_OF_NHWC);
        return;
      }
      case 'SplitV': {
        const x = val(ins[0] as string);
        const sizes = Array.from(constOf(ins[1] as string, node, 'size_splits').data);
        let axis = constOf(ins[2] as string, node, 'split_dim').data[0] as number;
        if (axis < 0) axis += x.shape.length;
        const total = x.shape[axis] as number;
        const known = sizes.filter((s) => s >= 0).reduce((a, b) => a + b, 0);
        const splits = sizes.map((s) => (s < 0 ? total - known : s));
        const outs = splits.map((_, k) => g.uniqueName(`${node.name.split('/').pop()}_${k}`));
        g.addNode('Split', [x.name as string, g.addInt64('split', splits)], outs, { axis: x.perm.indexOf(axis) });
        splits.forEach((s, k) => {
          const shape = [...x.shape];
          shape[axis] = s;
          setOut(node, { shape, perm: x.perm, name: outs[k] }, k);
        });
        return;
      }
      case 'Reshape': {
        const x = val(ins[0] as string);
        const target = Array.from(constOf(ins[1] as string, node, 'shape').data);
        const total = size(x.shape);
        const known = target.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
        const shape = target.map((d) => (d < 0 ? total / known : d));
        if (x.value) {
          setOut(node, { shape, perm: identity(shape.length), value: { ...x.value, shape } });
          return;
        }
        // With a dynamic batch the leading 1 is the batch: 0 copies it from the input.
        const onnxShape = opts.dynamicBatch && shape[0] === 1 && x.shape[0] === 1 ? [0, ...shape.slice(1)] : shape;
        emit(
          node,
          'Reshape',
          [as(x, identity(x.shape.length)), g.addInt64('shape', onnxShape)],
          {},
          shape,
          identity(shape.length),
        );
        return;
      }
      case 'SparseToDense': {
        const idx = constOf(ins[0] as string, node, 'sparse_indices');
        const outShape = Array.from(constOf(ins[1] as string, node, 'output_shape').data);
        const values = constOf(ins[2] as string, node, 'sparse_values');
        const dflt = constOf(ins[3] as string, node, 'default_value');
        const t = tensor(values.dtype, outShape);
        t.data.fill(dflt.data[0] ?? 0);
        const nIdx = idx.shape[0] ?? 0;
        const rank = outShape.length;
        for (let i = 0; i < nIdx; i++) {
          let flat = 0;
          for (let r = 0; r < rank; r++) flat = flat * (outShape[r] as number) + (idx.data[i * rank + r] as number);
          t.data[flat] = (values.shape.length === 0 ? values.data[0] : values.data[i]) as number;
        }
        setOut(node, { shape: outShape, perm: identity(rank), value: t });
        return;
      }
      default:
        throw new UnsupportedOpError(`Unsupported op '${node.op}' at node '${node.name}'`);
    }
  }

  for (const out of outputs) {
    const v = val(out);
    const name = opts.outputNames?.[out] ?? out.replace(/:0$/, '').replace(/[^A-Za-z0-9_]/g, '_');
    const layout = opts.nchw && v.shape.length === 4 ? NCHW_OF_NHWC : identity(v.shape.length);
    g.addNode('Identity', [as(v, layout)], [name]);
    g.outputs.push({ name, shape: batchDim(layout.map((a) => v.shape[a] as number)) });
  }
  return g;
}
