// On a GPU box: Vigil's CUDA INT8 engine (the `cuda` backend) checked end to end on the real
// frames and ONNX Runtime results bench/int8Prepare.ts wrote to .cache/int8check/:
// 1. every tensor of the plan on the GPU against the reference arithmetic
//    (src/model/int8/reference.ts) on one frame: int8 codes equal, floats within float error;
//    with the defaults (an FP32 layer no int8 code depends on as 3×TF32 on the tensor cores),
//    with every FP32 layer in ONNX Runtime's order (engine option float: 'exact'), without and
//    with the CUDA graph, and with the dp4a kernels (kernel: 'dp4a');
// 2. a batch of all frames: each image equal to its batch-1 run; every int8 tensor of the first
//    frames against ONNX Runtime CPU running the same QDQ ONNX (within one int8 step), and the
//    head outputs;
// 3. the detector (engine + GPU decode/NMS) against the CPU backend's detections: matched boxes
//    and mAP@0.5 with the CPU result as the reference.
// Writes bench/results/int8engine-<machine>-<date>.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { compareDetections } from '../src/detect/compareDetections.js';
import type { Detection } from '../src/detect/Detection.js';
import { meanAp } from '../src/model/eval/meanAp.js';
import { cudaProgram, GpuDetector } from '../src/detect/GpuDetector.js';
import { planInt8 } from '../src/model/int8/plan.js';
import { tensorFromBuffer } from '../src/model/int8/program.js';
import { runReference } from '../src/model/int8/reference.js';
import type { Letterbox } from '../src/detect/letterbox.js';
import { int8OnnxPath } from '../src/model/importModel.js';
import { readOnnx } from '../src/model/onnx/readOnnx.js';
import { loadChecks } from '../src/native/addon.js';
import { CHECK_DIR, FRAME_FLOATS, loadCheckFrames } from './checkFrames.js';
import { writeResult, type BenchRow } from './record.js';

const model = int8OnnxPath();
if (!model) throw new Error('no INT8 model');
const meta = JSON.parse(readFileSync(join(CHECK_DIR, 'ort.json'), 'utf8')) as {
  frames: number;
  ortFrames: number;
  letterbox: Letterbox;
  index: Array<{
    frame: number;
    tensor: string;
    offset: number;
    length: number;
    kind: 'int8' | 'float32';
    shape: number[];
  }>;
  detections: Detection[][];
};
const { frames, frame, batchOf } = loadCheckFrames();
const ortBlob = readFileSync(join(CHECK_DIR, 'ort-codes.bin'));
const N = meta.frames;
const checks = loadChecks();
const plan = planInt8(readOnnx(readFileSync(model)));
const program = cudaProgram(model);
const log = (s: string) => process.stdout.write(`${s}\n`);

const det = await GpuDetector.loadCuda(model, { maxBatch: Math.max(64, N), scoreThreshold: 0.4 });
log(`engine ${det.cacheKey}, ${program.ops.length} ops, ${program.buffers.length} buffers`);
const read = (d: GpuDetector, name: string, image: number) =>
  tensorFromBuffer(
    program,
    name,
    checks.int8EngineRead(d.engine, program.buffers[program.tensors.get(name)!.buffer]!.name, image),
  );

// 1. Every tensor against the reference, frame 0.
const t0 = performance.now();
const ref = runReference(plan, frame(0));
const refMs = performance.now() - t0;
interface Cmp {
  tensors: number;
  int8Values: number;
  int8Equal: number;
  int8Worst: number;
  floatValues: number;
  floatMaxAbs: number;
  floatMaxRel: number;
  firstBad: string | null;
}
const compareWithReference = (d: GpuDetector, image: number): Cmp => {
  const c: Cmp = {
    tensors: 0,
    int8Values: 0,
    int8Equal: 0,
    int8Worst: 0,
    floatValues: 0,
    floatMaxAbs: 0,
    floatMaxRel: 0,
    firstBad: null,
  };
  for (const s of plan.steps) {
    for (const name of 'outputs' in s ? s.outputs : [s.output]) {
      const want = ref.get(name);
      if (!want || !program.tensors.has(name)) continue;
      const got = read(d, name, image);
      c.tensors++;
      if ('q' in want) {
        let bad = 0;
        for (let i = 0; i < want.q.length; i++) {
          const diff = Math.abs(want.q[i]! - got[i]!);
          if (diff === 0) c.int8Equal++;
          else bad++;
          c.int8Worst = Math.max(c.int8Worst, diff);
        }
        c.int8Values += want.q.length;
        if (bad && !c.firstBad) c.firstBad = `${s.op} ${name}: ${bad} of ${want.q.length} int8 codes differ`;
      } else {
        for (let i = 0; i < want.f.length; i++) {
          const a = Math.abs(want.f[i]! - got[i]!);
          c.floatMaxAbs = Math.max(c.floatMaxAbs, a);
          c.floatMaxRel = Math.max(c.floatMaxRel, a / Math.max(1e-3, Math.abs(want.f[i]!)));
        }
        c.floatValues += want.f.length;
      }
    }
  }
  return c;
};
// Frame 0 without the graph, then in it. Each checked graph run follows a run of another frame
// (no graph): every buffer then holds other values, so an op of the graph's branches that read a
// buffer before its writer ran would differ.
const other = async (d: GpuDetector, batch: number) =>
  checks.int8EngineRun(d.engine, { input: batchOf(batch, 1), batch, iterations: 1, graphs: false });
const checkFrame0 = async (d: GpuDetector) => {
  await checks.int8EngineRun(d.engine, { input: frame(0), batch: 1, iterations: 1, graphs: false });
  const noGraph = compareWithReference(d, 0);
  log(`${d.cacheKey}, no graph, vs reference: ${JSON.stringify(noGraph)}`);
  await other(d, 1);
  await checks.int8EngineRun(d.engine, { input: frame(0), batch: 1, iterations: 1, graphs: true });
  const graph = compareWithReference(d, 0);
  log(`${d.cacheKey}, CUDA graph, vs reference: ${JSON.stringify(graph)}`);
  return { noGraph, graph };
};
const { noGraph: mmaVsRef, graph: graphVsRef } = await checkFrame0(det);

const exact = await GpuDetector.loadCuda(model, { maxBatch: 1, engine: { float: 'exact' } });
const { noGraph: exactVsRef, graph: exactGraphVsRef } = await checkFrame0(exact);

const dp4a = await GpuDetector.loadCuda(model, { maxBatch: 1, engine: { kernel: 'dp4a' } });
await checks.int8EngineRun(dp4a.engine, { input: frame(0), batch: 1, iterations: 1, graphs: true });
const dp4aVsRef = compareWithReference(dp4a, 0);
log(`${dp4a.cacheKey} vs reference: ${JSON.stringify(dp4aVsRef)}`);

// 2. The batch of all frames: each image as alone; ONNX Runtime on the first frames.
const single = new Map<string, Int8Array | Float32Array>();
for (const o of plan.outputs) single.set(o, read(det, o, 0));
await other(det, N);
await checks.int8EngineRun(det.engine, {
  input: frames.subarray(0, N * FRAME_FLOATS),
  batch: N,
  iterations: 1,
  graphs: true,
});
let batchEqual = true;
for (const o of plan.outputs) {
  const a = single.get(o)!;
  const b = read(det, o, 0);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) batchEqual = false;
}
const ort = { int8Values: 0, equal: 0, within1: 0, worst: 0, perFrame: [] as number[] };
const outDiff = new Map<string, { maxAbs: number; values: number; within: number }>();
for (let f = 0; f < meta.ortFrames; f++) {
  let n = 0;
  let w1 = 0;
  for (const e of meta.index.filter((x) => x.frame === f)) {
    if (!program.tensors.has(e.tensor)) continue;
    const got = read(det, e.tensor, f);
    if (e.kind === 'int8') {
      const want = new Int8Array(ortBlob.buffer, ortBlob.byteOffset + e.offset, e.length);
      for (let i = 0; i < e.length; i++) {
        const d = Math.abs(want[i]! - got[i]!);
        if (d === 0) ort.equal++;
        if (d <= 1) w1++;
        ort.worst = Math.max(ort.worst, d);
      }
      n += e.length;
    } else {
      const want = new Float32Array(
        ortBlob.buffer.slice(ortBlob.byteOffset + e.offset, ortBlob.byteOffset + e.offset + e.length * 4),
      );
      const o = outDiff.get(e.tensor) ?? { maxAbs: 0, values: 0, within: 0 };
      for (let i = 0; i < e.length; i++) {
        const d = Math.abs(want[i]! - got[i]!);
        o.maxAbs = Math.max(o.maxAbs, d);
        if (d <= 0.01) o.within++;
      }
      o.values += e.length;
      outDiff.set(e.tensor, o);
    }
  }
  ort.int8Values += n;
  ort.within1 += w1;
  ort.perFrame.push(w1 / n);
}
log(
  `batch of ${N}: image 0 equal to its batch-1 run: ${batchEqual}; vs ONNX Runtime (${meta.ortFrames} frames): ${JSON.stringify(ort)}; outputs ${JSON.stringify(Object.fromEntries(outDiff))}`,
);

// 3. Detections: the engine + GPU post-processing against the CPU backend.
const boxes = Array.from({ length: N }, () => meta.letterbox);
const found = await det.detectBatch(frames.subarray(0, N * FRAME_FLOATS), boxes);
const agreement = compareDetections(meta.detections, found);
// The same frames one at a time (the batch of one through the same decode + NMS).
const oneByOne: Detection[][] = [];
for (let i = 0; i < N; i++) oneByOne.push((await det.detectBatch(frame(i), [meta.letterbox]))[0]!);
const singleAgreement = compareDetections(found, oneByOne);
const map = meanAp(
  meta.detections.map((r, i) => ({ reference: r, candidate: found[i]! })),
  0.4,
);
log(
  `detections vs the CPU backend: ${JSON.stringify(agreement)}; mAP@0.5 ${map.map50.toFixed(4)} (0.5:0.95 ${map.map50_95.toFixed(4)}); frame by frame vs the batch: ${JSON.stringify(singleAgreement)}`,
);

const pct = (x: number) => Number((100 * x).toFixed(4));
const rows: BenchRow[] = [
  {
    case: 'int8 codes equal to the reference arithmetic, mma, every FP32 layer in its order (VIGIL_INT8_FLOAT=exact), CUDA graph (frame 0, every tensor)',
    vigil: pct(exactGraphVsRef.int8Equal / exactGraphVsRef.int8Values),
    unit: '%',
    values: exactGraphVsRef.int8Values,
    worst: exactGraphVsRef.int8Worst,
  },
  {
    case: 'int8 codes equal to the reference arithmetic, the defaults (the FP32 head layer 3×TF32 on the tensor cores), CUDA graph',
    vigil: pct(graphVsRef.int8Equal / graphVsRef.int8Values),
    unit: '%',
    values: graphVsRef.int8Values,
    worst: graphVsRef.int8Worst,
  },
  {
    case: 'int8 codes equal to the reference arithmetic, dp4a',
    vigil: pct(dp4aVsRef.int8Equal / dp4aVsRef.int8Values),
    unit: '%',
    values: dp4aVsRef.int8Values,
    worst: dp4aVsRef.int8Worst,
  },
  {
    case: 'float tensors vs the reference, max relative difference, exact FP32 layers',
    vigil: exactGraphVsRef.floatMaxRel,
    unit: 'ratio',
    values: exactGraphVsRef.floatValues,
  },
  {
    case: 'float tensors vs the reference, max relative difference, the defaults',
    vigil: graphVsRef.floatMaxRel,
    unit: 'ratio',
    values: graphVsRef.floatValues,
  },
  {
    case: `int8 tensors within one step of ONNX Runtime CPU (${meta.ortFrames} frames, free running)`,
    vigil: pct(ort.within1 / ort.int8Values),
    peer: 100,
    unit: '%',
    values: ort.int8Values,
    equal: pct(ort.equal / ort.int8Values),
    worst: ort.worst,
  },
  {
    case: `detections matched to the CPU backend's (${N} frames)`,
    vigil: agreement.matched,
    peer: agreement.reference,
    unit: 'boxes',
    meanIou: agreement.meanIou,
    maxScoreDiff: agreement.maxScoreDiff,
  },
  { case: 'mAP@0.5 with the CPU backend as reference', vigil: Number(map.map50.toFixed(4)), peer: 1, unit: 'mAP' },
];
const file = writeResult({
  bench: 'int8engine',
  setup: `Vigil's CUDA INT8 engine (${det.cacheKey}; exact FP32 layers: ${exact.cacheKey}; dp4a: ${dp4a.cacheKey}) on the calibrated NanoDet QDQ ONNX; ${N} real vtest frames; ONNX Runtime CPU values from bench/int8Prepare.ts on the same frames and model`,
  peer: 'the reference arithmetic (src/model/int8/reference.ts, TypeScript) and ONNX Runtime CPU (same QDQ ONNX)',
  rows,
  summary: {
    mmaNoGraph: mmaVsRef,
    mmaGraph: graphVsRef,
    exactNoGraph: exactVsRef,
    exactGraph: exactGraphVsRef,
    dp4a: dp4aVsRef,
    batchImageEqualsSingle: batchEqual,
    ort,
    outputs: Object.fromEntries(outDiff),
    detections: agreement,
    frameByFrameVsBatch: singleAgreement,
    map50: map.map50,
    map50_95: map.map50_95,
    referenceMsPerFrame: Math.round(refMs),
  },
});
log(`wrote ${file}`);
