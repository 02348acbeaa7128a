// On a GPU box: every INT8 convolution summed in int32 of the calibrated NanoDet's plan on the GPU
// (checks.int8ConvGpu, int8/Int8Conv.cu), each fed the reference arithmetic's own input codes for
// that layer, against the reference's output (src/model/int8/reference.ts): the kernel's
// arithmetic, layer by layer. Frame: INT8_FRAME (a [3,416,416] float32 file) or the first
// vtest frame. Writes bench/results/int8conv-<machine>-<date>.json.
import { readFileSync } from 'node:fs';

import { VTEST_AVI } from '../src/cli/demoClips.js';
import { modelInputs } from '../src/model/eval/modelFrames.js';
import { planInt8 } from '../src/model/int8/plan.js';
import { runReference } from '../src/model/int8/reference.js';
import { int8OnnxPath } from '../src/model/importModel.js';
import { readOnnx } from '../src/model/onnx/readOnnx.js';
import { loadChecks } from '../src/native/addon.js';
import { writeResult, type BenchRow } from './record.js';

const model = int8OnnxPath();
if (!model) throw new Error('no INT8 model: `npm run setup` calibrates it');
const frame = process.env.INT8_FRAME
  ? new Float32Array(new Uint8Array(readFileSync(process.env.INT8_FRAME)).buffer)
  : (await modelInputs({ kind: 'video', path: VTEST_AVI, from: 300, every: 1, count: 1 }))[0]!;
const plan = planInt8(readOnnx(readFileSync(model)));
const t0 = performance.now();
const ref = runReference(plan, frame);
const refMs = performance.now() - t0;
const checks = loadChecks();
const EPI = { requantize: 0, leaky_relu: 1, relu: 2, sigmoid: 3 } as const;
const rows: BenchRow[] = [];
let values = 0;
let equal = 0;
let worst = 0;
let maxFloatRel = 0;
for (const s of plan.steps) {
  // int32 sums only: an int8 convolution whose output stays float is a float sum in the reference
  // (ONNX Runtime's order), which the engine's float kernel runs (bench/int8Engine.ts checks it).
  if (s.op !== 'conv' || s.precision !== 'int8' || s.floatSum) continue;
  const x = ref.get(s.input)!;
  const want = ref.get(s.output)!;
  if (!('q' in x)) throw new Error(`${s.input} is not int8`);
  const [C, H, W] = x.shape as [number, number, number];
  const [O, Ho, Wo] = plan.tensors.get(s.output)!.shape as [number, number, number];
  const layer = {
    C,
    H,
    W,
    O,
    Ho,
    Wo,
    kh: s.kernel[0],
    kw: s.kernel[1],
    sh: s.stride[0],
    sw: s.stride[1],
    pt: s.pads[0],
    pl: s.pads[1],
    dh: s.dilation[0],
    dw: s.dilation[1],
    group: s.group,
    x: x.q,
    w: s.weight as Int8Array,
    bias: s.bias as Int32Array | null,
    mult: Float32Array.from(s.weightScales!, (ws) => Math.fround(x.scale * ws)),
    epilogue: s.epilogue.map((e) => ({
      op: EPI[e.op],
      arg: e.op === 'requantize' ? e.scale : e.op === 'leaky_relu' ? e.alpha : 0,
    })),
    int8Out: 'q' in want,
  };
  const t1 = performance.now();
  const got = checks.int8ConvGpu(layer);
  const ms = performance.now() - t1;
  if ('q' in want) {
    const g = got as Int8Array;
    let eq = 0;
    let w = 0;
    for (let i = 0; i < g.length; i++) {
      const d = Math.abs(g[i]! - want.q[i]!);
      if (d === 0) eq++;
      w = Math.max(w, d);
    }
    values += g.length;
    equal += eq;
    worst = Math.max(worst, w);
    rows.push({
      case: `${s.output}: ${C}→${O} ch, ${s.kernel.join('×')}/${s.stride[0]}, group ${s.group}, ${Ho}×${Wo}`,
      vigil: eq / g.length,
      unit: 'share of int8 outputs equal to the reference',
      worstSteps: w,
      ms: Math.round(ms * 10) / 10,
    });
  } else {
    const g = got as Float32Array;
    let maxAbs = 0;
    let maxRef = 0;
    for (let i = 0; i < g.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(g[i]! - want.f[i]!));
      maxRef = Math.max(maxRef, Math.abs(want.f[i]!));
    }
    maxFloatRel = Math.max(maxFloatRel, maxAbs / maxRef);
    rows.push({
      case: `${s.output} (float out): ${C}→${O} ch, ${s.kernel.join('×')}`,
      vigil: maxAbs,
      unit: 'max |GPU − reference|',
      maxRef,
      ms: Math.round(ms * 10) / 10,
    });
  }
}
for (const r of rows) console.log(JSON.stringify(r));
const summary = {
  layers: rows.length,
  int8Values: values,
  equalShare: equal / values,
  worstSteps: worst,
  maxFloatRelDiff: maxFloatRel,
  referenceMsPerFrame: Math.round(refMs),
};
console.log(JSON.stringify(summary));
const file = writeResult({
  bench: 'int8conv',
  setup:
    "every INT8 convolution of the calibrated NanoDet plan, on the GPU (native/src/int8/Int8Conv.cu: direct, one thread per output, int32 accumulate) fed the reference arithmetic's own input codes for that layer; one vtest frame",
  peer: 'src/model/int8/reference.ts (TypeScript reference arithmetic, same inputs, same run)',
  rows,
  summary,
});
console.log(`wrote ${file}`);
