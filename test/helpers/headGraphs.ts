// ONNX graphs with the exact head structure of detector families Vigil has no weights for (no
// YOLO or DETR weights are in the registries we reach). Their weights are set so that a bright
// block in one input channel is an object: the graphs detect known boxes, which the tests then
// expect from Vigil's decoders on ONNX Runtime's outputs.
import { writeFileSync } from 'node:fs';

import { OnnxGraph } from '../../src/model/onnx/OnnxGraph.js';
import { tensor } from '../../src/model/tensor.js';

/** An object planted in a test image: a block filling one cell of `stride` in input channel `channel`. */
export interface Planted {
  channel: number;
  stride: number;
  cx: number;
  cy: number;
  classId: number;
}

/** A [1,3,size,size] image, zero but for each planted block (ones). */
export function plantedImage(size: number, objects: Planted[]): Float32Array {
  const t = new Float32Array(3 * size * size);
  for (const o of objects) {
    for (let y = o.cy * o.stride; y < (o.cy + 1) * o.stride; y++)
      for (let x = o.cx * o.stride; x < (o.cx + 1) * o.stride; x++) t[o.channel * size * size + y * size + x] = 1;
  }
  return t;
}

/** A conv whose output channel is the mean of input `channel` over each stride × stride cell. */
function cellMean(g: OnnxGraph, input: string, channels: number[], stride: number, out: string): string {
  const w = new Float32Array(channels.length * 3 * stride * stride);
  channels.forEach((ch, o) =>
    w.fill(1 / (stride * stride), (o * 3 + ch) * stride * stride, (o * 3 + ch + 1) * stride * stride),
  );
  const name = g.addFloat(`${out}_w`, tensor('float32', [channels.length, 3, stride, stride], w));
  g.addNode('Conv', [input, name], [out], { kernel_shape: [stride, stride], strides: [stride, stride] });
  return out;
}

/** A 1×1 conv from one presence channel: out[k] = weight[k] · presence + bias[k]. */
function pointwise(g: OnnxGraph, input: string, weight: number[], bias: number[], out: string): string {
  const w = g.addFloat(`${out}_w`, tensor('float32', [weight.length, 1, 1, 1], Float32Array.from(weight)));
  const b = g.addFloat(`${out}_b`, tensor('float32', [bias.length], Float32Array.from(bias)));
  g.addNode('Conv', [input, w, b], [out], { kernel_shape: [1, 1] });
  return out;
}

export interface YoloGraphOptions {
  size: number;
  classes: number;
  regMax: number;
  /** Per stride (8, 16, 32): the class its objects are and their side distances (l, t, r, b) in strides. */
  perStride: Array<{ classId: number; distances: [number, number, number, number] }>;
}

const STRIDES = [8, 16, 32];

/**
 * YOLOv8/v11's head after the neck: per stride a box branch (4·regMax DFL logits) and a class
 * branch (logits), concatenated and flattened over strides, then in the graph the DFL (reshape,
 * softmax over bins, a 1×1 conv with weights 0..regMax-1), dist2bbox against the anchor points
 * (cell centres) × stride, and sigmoid: `output0` [N, 4 + classes, anchors] as Ultralytics exports
 * it. The raw branches are outputs too (`box_s8`, `cls_s8`, …). Stride i's presence is input channel i.
 */
export function yoloHeadGraph(o: YoloGraphOptions): OnnxGraph {
  const g = new OnnxGraph();
  const { size, classes: nc, regMax } = o;
  g.inputs.push({ name: 'images', shape: ['N', 3, size, size] });
  const flat: string[] = [];
  STRIDES.forEach((stride, i) => {
    const p = cellMean(g, 'images', [i], stride, `presence_s${stride}`);
    const { classId, distances } = o.perStride[i]!;
    const bw = new Array<number>(4 * regMax).fill(0);
    distances.forEach((d, side) => (bw[side * regMax + d] = 40)); // a sharp bin where the object is
    const box = pointwise(g, p, bw, new Array<number>(4 * regMax).fill(0), `box_s${stride}`);
    const cw = Array.from({ length: nc }, (_, c) => (c === classId ? 40 : 0));
    const cls = pointwise(g, p, cw, new Array<number>(nc).fill(-30), `cls_s${stride}`);
    g.outputs.push({ name: box }, { name: cls });
    const cat = g.uniqueName('cat');
    g.addNode('Concat', [box, cls], [cat], { axis: 1 });
    const f = g.uniqueName('flat');
    g.addNode('Reshape', [cat, g.addInt64('shape', [0, 4 * regMax + nc, -1])], [f]);
    flat.push(f);
  });
  g.addNode('Concat', flat, ['all'], { axis: 2 });
  g.addNode('Split', ['all', g.addInt64('split', [4 * regMax, nc])], ['box', 'cls'], { axis: 1 });
  // DFL: [N, 4·regMax, A] → [N, regMax, 4, A] → softmax over bins → Σ p·i → [N, 4, A]
  g.addNode('Reshape', ['box', g.addInt64('shape', [0, 4, regMax, -1])], ['box4']);
  g.addNode('Transpose', ['box4'], ['binsFirst'], { perm: [0, 2, 1, 3] });
  g.addNode('Softmax', ['binsFirst'], ['prob'], { axis: 1 });
  g.addFloat(
    'dfl_w',
    tensor(
      'float32',
      [1, regMax, 1, 1],
      Float32Array.from({ length: regMax }, (_, i) => i),
    ),
  );
  g.addNode('Conv', ['prob', 'dfl_w'], ['dist1'], { kernel_shape: [1, 1] });
  g.addNode('Reshape', ['dist1', g.addInt64('shape', [0, 4, -1])], ['dist']);
  // dist2bbox (xywh) against anchor points, × stride per anchor
  const anchors: number[][] = [[], []];
  const strideOf: number[] = [];
  for (const stride of STRIDES) {
    const side = Math.ceil(size / stride);
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) {
        anchors[0]!.push(x + 0.5);
        anchors[1]!.push(y + 0.5);
        strideOf.push(stride);
      }
  }
  const A = strideOf.length;
  g.addFloat('anchors', tensor('float32', [1, 2, A], Float32Array.from([...anchors[0]!, ...anchors[1]!])));
  g.addFloat('strides', tensor('float32', [1, 1, A], Float32Array.from(strideOf)));
  g.addFloat('two', tensor('float32', [1], Float32Array.from([2])));
  g.addNode('Split', ['dist', g.addInt64('split', [2, 2])], ['lt', 'rb'], { axis: 1 });
  g.addNode('Sub', ['anchors', 'lt'], ['x1y1']);
  g.addNode('Add', ['anchors', 'rb'], ['x2y2']);
  g.addNode('Add', ['x1y1', 'x2y2'], ['sum']);
  g.addNode('Div', ['sum', 'two'], ['cxy']);
  g.addNode('Sub', ['x2y2', 'x1y1'], ['wh']);
  g.addNode('Concat', ['cxy', 'wh'], ['xywh'], { axis: 1 });
  g.addNode('Mul', ['xywh', 'strides'], ['boxes']);
  g.addNode('Sigmoid', ['cls'], ['scores']);
  g.addNode('Concat', ['boxes', 'scores'], ['output0'], { axis: 1 });
  g.outputs.push({ name: 'output0', shape: ['N', 4 + nc, A] });
  return g;
}

export interface DetrGraphOptions {
  size: number;
  classes: number;
  /** Input channel k's objects are this class. */
  classOfChannel: [number, number, number];
  /** Every query's reference box (cx, cy, w, h relative to the input) is its cell's centre and this size. */
  boxSize: [number, number];
}

/**
 * RT-DETR / D-FINE's last decoder layer: queries (here one per 8 × 8 cell: 'size/8'² of them) with
 * features, a linear class head → `pred_logits` [N, Q, classes], and a box head whose delta is added
 * to the inverse sigmoid of each query's reference point, then sigmoid → `pred_boxes` [N, Q, 4].
 */
export function detrHeadGraph(o: DetrGraphOptions): OnnxGraph {
  const g = new OnnxGraph();
  const { size, classes: nc } = o;
  const side = size / 8;
  const Q = side * side;
  g.inputs.push({ name: 'images', shape: ['N', 3, size, size] });
  cellMean(g, 'images', [0, 1, 2], 8, 'cells'); // [N, 3, side, side]
  g.addNode('Reshape', ['cells', g.addInt64('shape', [0, 3, -1])], ['featT']);
  g.addNode('Transpose', ['featT'], ['feat'], { perm: [0, 2, 1] }); // [N, Q, 3]
  const cw = new Float32Array(3 * nc);
  o.classOfChannel.forEach((c, k) => (cw[k * nc + c] = 40));
  g.addFloat('cls_w', tensor('float32', [3, nc], cw));
  g.addFloat('cls_b', tensor('float32', [nc], new Float32Array(nc).fill(-30)));
  g.addNode('MatMul', ['feat', 'cls_w'], ['cls_mm']);
  g.addNode('Add', ['cls_mm', 'cls_b'], ['pred_logits']);
  const logit = (p: number) => Math.log(p / (1 - p));
  const ref = new Float32Array(Q * 4);
  for (let q = 0; q < Q; q++)
    ref.set(
      [(q % side) + 0.5, Math.floor(q / side) + 0.5].map((v) => logit(v / side)).concat(o.boxSize.map(logit)),
      q * 4,
    );
  g.addFloat('ref_logit', tensor('float32', [1, Q, 4], ref));
  g.addFloat('box_w', tensor('float32', [3, 4], new Float32Array(12)));
  g.addFloat('box_b', tensor('float32', [4], new Float32Array(4)));
  g.addNode('MatMul', ['feat', 'box_w'], ['box_mm']);
  g.addNode('Add', ['box_mm', 'box_b'], ['delta']);
  g.addNode('Add', ['delta', 'ref_logit'], ['box_logit']);
  g.addNode('Sigmoid', ['box_logit'], ['pred_boxes']);
  g.outputs.push({ name: 'pred_logits', shape: ['N', Q, nc] }, { name: 'pred_boxes', shape: ['N', Q, 4] });
  return g;
}

/** A 128 × 128 YOLO-head model of `classes` classes written to `path` (its objects: one block per stride channel). */
export function writeYoloTestModel(path: string, classes = 3): string {
  const perStride = [0, 1, 2].map((c) => ({
    classId: c % classes,
    distances: [1, 1, 1, 1] as [number, number, number, number],
  }));
  writeFileSync(path, yoloHeadGraph({ size: 128, classes, regMax: 16, perStride }).encode());
  return path;
}
