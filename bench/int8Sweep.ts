// bench:int8-sweep — the INT8 engine's experiment knobs measured against its defaults in one
// process on a GPU box: each variant (a set of engine options, Int8EngineOptions in
// src/native/types.ts, passed when its engine opens) opens its own engine and runs batch 1, 8, 32 and 64
// in CUDA graphs (wall and GPU p50), then a batch-8 and a batch-32 run (SWEEP_PROFILE; none
// larger than the engine holds) op by op, one stream and no graph, printed after its line: where
// the time moved. Every variant must compute the same bytes:
// all tensors of a batch of 8 real frames, images 0 and 7,
// compared with the default variant's (int32 sums are exact in any order and no float sum's order
// changes, so any difference is a bug; except float: 'exact', which sums the FP32 head
// layer in ONNX Runtime's order rather than 3×TF32: its float outputs may then differ in the last
// bits). The peer is the default variant, measured in the same run.
// SWEEP: a JSON object {name: {option: value}} replacing the built-in list, e.g.
// '{"default": {}, "one stream": {"branches": false}}' (the first is the peer); SWEEP_BATCHES.
// Writes bench/results/int8sweep-<machine>-<date>.json.
import { cudaProgram, postOptions } from '../src/detect/GpuDetector.js';
import { int8OnnxPath } from '../src/model/importModel.js';
import { loadAddon, loadChecks } from '../src/native/addon.js';
import type { GpuEngineHandle, Int8EngineOptions } from '../src/native/types.js';
import { loadCheckFrames } from './checkFrames.js';
import { percentile, writeResult, type BenchRow } from './record.js';

// Each variant's options go to the addon as given: it names a wrong one before any GPU work.
const VARIANTS: Record<string, Int8EngineOptions> = process.env.SWEEP
  ? (JSON.parse(process.env.SWEEP) as Record<string, Int8EngineOptions>)
  : {
      default: {},
      'no priorities in the branch graphs': { priority: false },
    };
const BATCHES = (process.env.SWEEP_BATCHES ?? '1,8,32,64').split(',').map(Number);
const model = int8OnnxPath();
if (!model) throw new Error('no INT8 model');
const { batchOf } = loadCheckFrames();
const addon = loadAddon();
const checks = loadChecks();
const program = cudaProgram(model);
const maxBatch = Math.max(8, ...BATCHES);
const PROFILE_BATCHES = [
  ...new Set((process.env.SWEEP_PROFILE ?? '8,32').split(',').map((b) => Math.min(Number(b), maxBatch))),
]; // the op-by-op runs
for (const b of [...BATCHES, ...PROFILE_BATCHES])
  if (!Number.isInteger(b) || b < 1)
    throw new Error(
      `SWEEP_BATCHES / SWEEP_PROFILE: '${b}' is not a batch size (whole numbers from 1, comma-separated)`,
    );
const p50 = (xs: Float64Array) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const log = (s: string) => process.stdout.write(`${s}\n`);

// Every buffer of images 0 and 7 after a batch of 8 frames in the graph, as bytes; first a run of
// other frames without the graph, so that every buffer holds other values (an op of the graph's
// branches that read a buffer before its writer ran would show).
const snapshot = async (handle: GpuEngineHandle) => {
  await checks.int8EngineRun(handle, { input: batchOf(8, 1), batch: 8, iterations: 1, graphs: false });
  await checks.int8EngineRun(handle, { input: batchOf(8), batch: 8, iterations: 1, graphs: true });
  return program.buffers.flatMap((b) =>
    [0, 7].map((image) => ({
      name: `${b.name}[${image}]`,
      int8: b.int8,
      bytes: checks.int8EngineRead(handle, b.name, image),
    })),
  );
};

// equal: every buffer's bytes; firstDiff: the first int8 buffer that differs (a bug in any
// variant); floatDiffs: the float buffers that differ (expected only where a variant changes a
// float sum's order).
interface Result {
  name: string;
  /** The variant's engine options (the key keeps its name from when they were environment variables). */
  env: Int8EngineOptions;
  cacheKey: string;
  batches: Array<{ batch: number; wallP50: number; gpuP50: number; perSecond: number }>;
  profiles: Array<{ batch: number; opsMs: number[] }>;
  equal: boolean;
  firstDiff: string | null;
  floatDiffs: string[];
}
const results: Result[] = [];
let reference: Array<{ name: string; int8: boolean; bytes: Uint8Array }> | null = null;
for (const [name, env] of Object.entries(VARIANTS)) {
  const opened = await addon.openInt8Engine({ program, options: env, maxBatch, ...postOptions({}) });
  const batches: Result['batches'] = [];
  for (const batch of BATCHES) {
    const input = batchOf(batch);
    await checks.int8EngineRun(opened.handle, { input, batch, iterations: 20, graphs: true }); // capture + warm-up
    const r = await checks.int8EngineRun(opened.handle, { batch, iterations: batch >= 32 ? 150 : 400, graphs: true });
    const mean = [...r.wallMs].reduce((a, b) => a + b, 0) / r.wallMs.length;
    batches.push({ batch, wallP50: p50(r.wallMs), gpuP50: p50(r.gpuMs), perSecond: (batch * 1000) / mean });
  }
  const profiles: Result['profiles'] = [];
  for (const batch of PROFILE_BATCHES) {
    const prof = await checks.int8EngineRun(opened.handle, {
      input: batchOf(batch),
      batch,
      iterations: 10,
      graphs: false,
      profile: true,
    });
    profiles.push({ batch, opsMs: [...prof.opMs].map((x) => Number(x.toFixed(4))) });
  }
  const snap = await snapshot(opened.handle);
  let firstDiff: string | null = null;
  const floatDiffs: string[] = [];
  if (!reference) reference = snap;
  else {
    for (let i = 0; i < snap.length; i++) {
      const a = reference[i]!.bytes,
        b = snap[i]!.bytes;
      let diff: string | null = null;
      if (a.length !== b.length) diff = `${snap[i]!.name}: ${b.length} bytes, not ${a.length}`;
      else for (let j = 0; j < a.length && !diff; j++) if (a[j] !== b[j]) diff = `${snap[i]!.name} byte ${j}`;
      if (diff && snap[i]!.int8) firstDiff ??= diff;
      else if (diff) floatDiffs.push(snap[i]!.name);
    }
  }
  const res: Result = {
    name,
    env,
    cacheKey: opened.cacheKey,
    batches,
    profiles,
    equal: !firstDiff && !floatDiffs.length,
    firstDiff,
    floatDiffs,
  };
  results.push(res);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0).toFixed(3);
  log(
    `${name}: ${batches.map((b) => `b${b.batch} ${b.wallP50.toFixed(3)} ms (GPU ${b.gpuP50.toFixed(3)}) ${b.perSecond.toFixed(0)}/s`).join('; ')}; ops ${profiles.map((p) => `at ${p.batch} ${sum(p.opsMs)} ms`).join(', ')}; ${res.equal ? 'same bytes' : firstDiff ? `INT8 DIFFERS: ${firstDiff}` : `int8 the same; floats differ in ${floatDiffs.join(', ')}`}`,
  );
  for (const [i, p] of profiles.entries()) {
    if (results.length > 1) {
      const was = results[0]!.profiles[i]!.opsMs;
      const d = p.opsMs
        .map((ms, op) => ({ op, ms, was: was[op]! }))
        .sort((x, y) => Math.abs(y.ms - y.was) - Math.abs(x.ms - x.was))
        .slice(0, 6);
      log(
        `  ops moved most at ${p.batch}: ${d.map((x) => `#${x.op} ${x.was.toFixed(3)}→${x.ms.toFixed(3)}`).join(', ')}`,
      );
    } else {
      log(`  ops at ${p.batch}: ${p.opsMs.map((ms, op) => `#${op} ${ms.toFixed(3)}`).join(' ')}`);
    }
  }
}

const base = results[0]!;
const rows: BenchRow[] = [];
for (const r of results.slice(1)) {
  for (const b of r.batches) {
    const p = base.batches.find((x) => x.batch === b.batch)!;
    rows.push({
      case: `${r.name}: batch ${b.batch} throughput (vs the defaults)`,
      vigil: b.perSecond,
      peer: p.perSecond,
      ratio: b.perSecond / p.perSecond,
      unit: 'inferences/s',
      gpuP50: b.gpuP50,
      peerGpuP50: p.gpuP50,
      wallP50: b.wallP50,
      peerWallP50: p.wallP50,
      sameBytes: r.equal,
    });
  }
}
const file = writeResult({
  bench: 'int8sweep',
  setup: `Vigil's CUDA INT8 engine (${base.cacheKey}), NanoDet 416×416 on real vtest frames, each batch size one CUDA graph; each variant its own engine in one process, its knobs passed as engine options; exactness: every buffer of images 0 and 7 of a batch of 8 against the default variant's bytes`,
  peer: 'the same engine with its default settings, same run',
  rows,
  summary: {
    ops: program.ops.map((o, i) => ({ op: i, kind: o.kind, output: program.buffers[o.out.buffer]!.name })),
    results,
  },
});
log(`wrote ${file}`);
