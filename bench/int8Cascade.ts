// bench:int8-cascade — on the CPU: how far a one-step difference in one int8 tensor of the INT8
// NanoDet plan carries through the network. Why: the CUDA INT8 engine must sum NanoDet's FP32
// layers whose results are requantized in ONNX Runtime's exact order (what its float mode 'exact' keeps for every FP32 layer),
// because a handful of one-step differences early in the network spreads to a large share of all
// later codes; this bench measures that spread. The reference arithmetic
// (src/model/int8/reference.ts) runs frame 0 of .cache/int8check (bench:int8-prepare) once as is,
// then once per tensor with CASCADE_CODES (8) of its codes moved by ±1 (CASCADE_SEED, 7) and every
// step that reads it given the moved copy (teacher forcing); every int8 tensor that depends on it
// is compared with the unmoved run, and the head outputs' floats. CASCADE_TENSORS: a comma list of
// int8 tensors; by default the first FP32 convolution's output and the nearest int8 input of a
// head that still has int8 tensors after it (the candidates are printed). About 16 s a reference run here.
// Writes bench/results/int8cascade-<machine>-<date>.json.
import { readFileSync } from 'node:fs';

import { planInt8, stepInputs, stepOutputs } from '../src/model/int8/plan.js';
import { runReference, type RefValue } from '../src/model/int8/reference.js';
import { int8OnnxPath } from '../src/model/importModel.js';
import { readOnnx } from '../src/model/onnx/readOnnx.js';
import { loadCheckFrames } from './checkFrames.js';
import { writeResult, type BenchRow } from './record.js';

const model = int8OnnxPath();
if (!model) throw new Error('no INT8 model');
const plan = planInt8(readOnnx(readFileSync(model)));
const { frame } = loadCheckFrames();
const CODES = Number(process.env.CASCADE_CODES ?? 8);
const SEED = Number(process.env.CASCADE_SEED ?? 7);
const log = (s: string) => process.stdout.write(`${s}\n`);

const stepOf = new Map<string, number>();
plan.steps.forEach((s, i) => stepOutputs(s).forEach((o) => stepOf.set(o, i)));
const isInt8 = (name: string) => plan.tensors.get(name)?.dtype === 'int8';
/** Every tensor computed from `name`, directly or not (the steps are in order: one pass). */
const dependents = (name: string): Set<string> => {
  const seen = new Set([name]);
  for (const s of plan.steps) if (stepInputs(s).some((i) => seen.has(i))) stepOutputs(s).forEach((o) => seen.add(o));
  seen.delete(name);
  return seen;
};
const int8After = (name: string) => [...dependents(name)].filter(isInt8);

// Candidates near the heads: for each head convolution (a conv after which no conv leads to an
// output), its input, walked back through float tensors to the nearest int8 one.
const headConvs = plan.steps.flatMap((s, i) =>
  s.op === 'conv' && ![...dependents(s.output)].some((t) => plan.steps[stepOf.get(t)!]!.op === 'conv') ? [i] : [],
);
const nearHead = [
  ...new Set(
    headConvs.map((i) => {
      let t = stepInputs(plan.steps[i]!)[0]!;
      while (!isInt8(t) && stepOf.has(t)) t = stepInputs(plan.steps[stepOf.get(t)!]!)[0]!;
      return t;
    }),
  ),
].filter(isInt8);
const firstFloatConv = plan.steps.flatMap((s) =>
  s.op === 'conv' && s.precision === 'float32' && isInt8(s.output) ? [s.output] : [],
)[0];
log('int8 tensors nearest the heads (the step that writes it, int8 values computed from it, outputs it reaches):');
for (const t of nearHead) {
  const deps = dependents(t);
  log(
    `  ${t}: step ${stepOf.get(t)}, ${int8After(t).reduce((n, d) => n + plan.tensors.get(d)!.shape.reduce((a, b) => a * b, 1), 0)} int8 values, ${plan.outputs.filter((o) => deps.has(o)).join(' ')}`,
  );
}
const late = nearHead.filter((t) => int8After(t).length > 0).sort((a, b) => stepOf.get(b)! - stepOf.get(a)!)[0];
const TENSORS = process.env.CASCADE_TENSORS
  ? process.env.CASCADE_TENSORS.split(',').map((s) => s.trim())
  : [firstFloatConv, late].filter((t): t is string => t !== undefined);
for (const t of TENSORS)
  if (!isInt8(t)) throw new Error(`Expected an int8 tensor of the plan for CASCADE_TENSORS but received '${t}'`);

const t0 = performance.now();
const ref = runReference(plan, frame(0));
log(`reference, unmoved: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const int8Of = (m: Map<string, RefValue>, name: string): Int8Array => {
  const v = m.get(name)!;
  if (!('q' in v)) throw new Error(`${name} is not int8`);
  return v.q;
};
const floatOf = (m: Map<string, RefValue>, name: string): Float32Array => {
  const v = m.get(name)!;
  if (!('f' in v)) throw new Error(`${name} is not float`);
  return v.f;
};

// The moved copy: CODES distinct codes, each one step up or down (down at 127, up at −128).
const moved = (name: string): { value: RefValue; at: number[] } => {
  const orig = ref.get(name)!;
  if (!('q' in orig)) throw new Error(`${name} is not int8`);
  const q = Int8Array.from(orig.q);
  let seed = SEED;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const at: number[] = [];
  while (at.length < Math.min(CODES, q.length)) {
    const j = Math.floor(rnd() * q.length);
    const up = rnd() >= 0.5;
    if (at.includes(j)) continue;
    q[j] = q[j]! === 127 ? 126 : q[j]! === -128 ? -127 : q[j]! + (up ? 1 : -1);
    at.push(j);
  }
  return { value: { ...orig, q }, at };
};

interface Cascade {
  tensor: string;
  step: number;
  codesMoved: number;
  seconds: number;
  int8Tensors: number;
  values: number;
  equal: number;
  withinOne: number;
  worst: number;
  differing: Array<{ tensor: string; step: number; codes: number; of: number; worst: number }>;
  outputs: Array<{ output: string; maxAbs: number; differing: number }>;
}
const cascades: Cascade[] = [];
for (const name of TENSORS) {
  const { value, at } = moved(name);
  const t1 = performance.now();
  const out = runReference(plan, frame(0), (t) => (t === name ? value : undefined));
  const c: Cascade = {
    tensor: name,
    step: stepOf.get(name)!,
    codesMoved: at.length,
    seconds: (performance.now() - t1) / 1000,
    int8Tensors: 0,
    values: 0,
    equal: 0,
    withinOne: 0,
    worst: 0,
    differing: [],
    outputs: [],
  };
  const after = int8After(name).sort((a, b) => stepOf.get(a)! - stepOf.get(b)!);
  for (const t of after) {
    const a = int8Of(ref, t),
      b = int8Of(out, t);
    let codes = 0,
      worst = 0;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      if (d === 0) c.equal++;
      else codes++;
      if (d <= 1) c.withinOne++;
      worst = Math.max(worst, d);
    }
    c.int8Tensors++;
    c.values += a.length;
    c.worst = Math.max(c.worst, worst);
    if (codes) c.differing.push({ tensor: t, step: stepOf.get(t)!, codes, of: a.length, worst });
  }
  for (const o of plan.outputs) {
    const a = floatOf(ref, o),
      b = floatOf(out, o);
    let maxAbs = 0,
      differing = 0;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      if (d) differing++;
      maxAbs = Math.max(maxAbs, d);
    }
    c.outputs.push({ output: o, maxAbs, differing });
  }
  cascades.push(c);
  const pct = (n: number) => (c.values ? (100 * n) / c.values : NaN);
  log(
    `${name} (step ${c.step}), ${c.codesMoved} codes ±1: ${c.values} int8 codes in ${c.int8Tensors} tensors after it, ${pct(c.equal).toFixed(2)} % equal, ${pct(c.withinOne).toFixed(2)} % within one step, worst ${c.worst} (${c.seconds.toFixed(1)} s)`,
  );
  log(
    `  differing codes, first ${Math.min(10, c.differing.length)} of ${c.differing.length} tensors: ${
      c.differing
        .slice(0, 10)
        .map((d) => `${d.tensor} ${d.codes}/${d.of}${d.worst > 1 ? ` (worst ${d.worst})` : ''}`)
        .join(', ') || 'none'
    }`,
  );
  log(`  outputs, max |Δ|: ${c.outputs.map((o) => `${o.output} ${o.maxAbs.toExponential(2)}`).join(', ')}`);
}

const rows: BenchRow[] = [];
for (const c of cascades) {
  const what = `${c.tensor} (step ${c.step}), ${c.codesMoved} codes ±1`;
  const pct = (n: number) => (c.values ? (100 * n) / c.values : undefined);
  if (c.values) {
    rows.push({
      case: `${what}: int8 codes after it equal to the unmoved run`,
      vigil: pct(c.equal)!,
      peer: 100,
      unit: '%',
      values: c.values,
      tensors: c.int8Tensors,
    });
    rows.push({
      case: `${what}: int8 codes after it within one step of the unmoved run`,
      vigil: pct(c.withinOne)!,
      peer: 100,
      unit: '%',
      values: c.values,
    });
    rows.push({ case: `${what}: worst int8 difference`, vigil: c.worst, peer: 0, unit: 'int8 steps' });
  } else {
    rows.push({ case: `${what}: int8 codes after it`, unit: '%', note: 'no int8 tensor is computed from it' });
  }
  for (const o of c.outputs)
    rows.push({
      case: `${what}: ${o.output} max |difference|`,
      vigil: o.maxAbs,
      peer: 0,
      unit: 'float',
      differing: o.differing,
    });
}
const file = writeResult({
  bench: 'int8cascade',
  setup: `The reference arithmetic (src/model/int8/reference.ts, CPU) on the calibrated NanoDet QDQ plan, frame 0 of the real vtest frames (.cache/int8check); per tensor, ${CODES} distinct codes (seed ${SEED}) moved one step and every step that reads the tensor given the moved copy (teacher forcing); compared: every int8 tensor computed from it (its dependents in plan.steps, the tensor itself excluded) and the float head outputs`,
  peer: 'the same reference run unperturbed',
  rows,
  summary: {
    codes: CODES,
    seed: SEED,
    nearHead,
    cascades: cascades.map((c) => ({
      ...c,
      differing: c.differing.slice(0, 10),
      differingTensors: c.differing.length,
    })),
  },
});
log(`wrote ${file}`);
