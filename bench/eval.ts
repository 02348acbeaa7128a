// npm run bench:eval — INT8 against FP32, model by model (NanoDet, CenterNet), on the same held-out
// frames of the varied set: vtest.avi, Megamind.avi and the opencv-doc photos, no frame a
// calibration frame or within 4 frames of one (src/model/eval/modelFrames.ts). Each model's INT8
// is calibrated in this run as the shipped one is (src/model/quant/calibrateModel.ts); NanoDet's
// also on the varied set's calibration part, the question being whether that should be its
// default. mAP is of the INT8 detections with the FP32 ones as the reference; latency is ONNX
// Runtime CPU on this machine, same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ModelSpec } from '../src/detect/ModelSpec.js';
import { evaluate, type EvalReport, type ModelEval } from '../src/model/eval/Evaluator.js';
import { decodeLabelled, evaluateOnLabels, loadLabels } from '../src/model/eval/labelSet.js';
import { sourceImages, toModelInputs, variedSources, type InputSource } from '../src/model/eval/modelFrames.js';
import type { RgbImage } from '../src/model/imageFile.js';
import { fp32OnnxPath, importCenternet } from '../src/model/importModel.js';
import type { ModelName } from '../src/model/ModelStore.js';
import { calibrateModel, calibrationFrames, QUANT_TARGETS } from '../src/model/quant/calibrateModel.js';
import { writeResult, type BenchRow } from './record.js';

const log = (m: string) => process.stderr.write(`${m}\n`);
const dir = mkdtempSync(join(tmpdir(), 'vigil-eval-'));

// Held out from every calibration here: the shipped ones' frames and the varied set's.
const calibrationSources = [...(await QUANT_TARGETS.nanodet.sources()), ...(await QUANT_TARGETS.centernet.sources())];
const videoIndices = (s: InputSource) =>
  s.kind === 'frames'
    ? [{ path: s.path, indices: s.indices }]
    : s.kind === 'video'
      ? [{ path: s.path, indices: Array.from({ length: s.count }, (_, i) => s.from + i * s.every) }]
      : [];
const held = await variedSources('held-out', { avoid: calibrationSources.flatMap(videoIndices) });
const setName = (s: InputSource) =>
  s.kind === 'files'
    ? 'photos'
    : s.kind === 'frames'
      ? s.path
          .split('/')
          .pop()!
          .replace(/\.avi$/, '')
      : s.kind;
// Decoded once, letterboxed for each model.
const decode = async (sources: InputSource[]): Promise<RgbImage[][]> => {
  const out: RgbImage[][] = [];
  for (const s of sources) if (s.kind !== 'camera') out.push(await sourceImages(s));
  return out;
};
const heldImages = await decode(held);
const variedCalibration = (await decode(await variedSources('calibration'))).flat();
log(
  `held-out: ${heldImages.map((s) => s.length).join(' + ')} pictures; varied calibration: ${variedCalibration.length}`,
);

interface Variant {
  name: string;
  path: string;
  seconds: number;
  kept: number;
  layers: number;
  calibration: string;
}

async function evalModel(name: ModelName, fp32Path: string, variants: Variant[]) {
  const spec: ModelSpec = QUANT_TARGETS[name].spec;
  const sets: Array<{ name: string; frames: Float32Array[] }> = [];
  held.forEach((src, i) => sets.push({ name: setName(src), frames: toModelInputs(heldImages[i]!, spec) }));
  sets.push({ name: 'all', frames: sets.flatMap((s) => s.frames) });
  const reports: Array<{ set: string; frames: number; report: EvalReport }> = [];
  for (const s of sets) {
    log(`${name}: ${s.name} (${s.frames.length} frames)`);
    const report = await evaluate(
      fp32Path,
      variants.map((v) => v.path),
      s.frames,
      { model: spec },
      log,
    );
    reports.push({ set: s.name, frames: s.frames.length, report });
  }
  return reports;
}

const rows: BenchRow[] = [];
const summary: Record<string, unknown> = {};
const row = (model: string, v: Variant, set: string, report: EvalReport, m: ModelEval): BenchRow => {
  const speedup = Math.round((report.reference.latencyMs.p50 / m.latencyMs.p50) * 100) / 100;
  console.log(
    `${model.padEnd(9)} ${v.name.padEnd(28)} ${set.padEnd(9)} mAP@0.5 ${m.map50.toFixed(4)}  mAP@0.5:0.95 ${m.map50_95.toFixed(4)}  ${m.latencyMs.p50} ms vs FP32 ${report.reference.latencyMs.p50} ms (×${speedup})`,
  );
  return {
    case: `${model} INT8 (${v.name}) — ${set} held-out (${report.frames} frames)`,
    vigil: m.map50,
    unit: 'mAP@0.5 (INT8 vs FP32 detections as reference)',
    map50_95: m.map50_95,
    classes: m.perClass.length,
    layers_kept_fp32: v.kept,
    int8_layers: v.layers,
    calibration: v.calibration,
    calibration_s: Math.round(v.seconds),
    int8_p50_ms: m.latencyMs.p50,
    int8_p99_ms: m.latencyMs.p99,
    fp32_p50_ms: report.reference.latencyMs.p50,
    fp32_p99_ms: report.reference.latencyMs.p99,
    speedup_vs_fp32: speedup,
    detections_per_frame: m.detectionsPerFrame,
    fp32_detections_per_frame: report.reference.detectionsPerFrame,
    ...(set === 'all' ? { per_class: m.perClass } : {}),
  };
};

/** Calibrates on `frames` (decoded beforehand: calibration_s is the calibration's own time). */
async function calibrated(name: ModelName, variant: string, frames: Float32Array[], from: string): Promise<Variant> {
  const c = await calibrateModel(name, { out: join(dir, `${name}-${variant.replace(/\W+/g, '-')}.onnx`), log, frames });
  log(`${name} (${variant}): ${c.report.int8Layers}/${c.report.totalLayers} layers INT8 in ${c.seconds.toFixed(0)} s`);
  return {
    name: variant,
    path: c.path,
    seconds: c.seconds,
    kept: c.report.keptFp32.length,
    layers: c.report.int8Layers,
    calibration: from,
  };
}

const t0 = performance.now();
// NanoDet: the shipped calibration (vtest frames 0..388) and the varied set's calibration part.
const nanodet = QUANT_TARGETS.nanodet;
const centernet = QUANT_TARGETS.centernet;
const ndShipped = await calibrated('nanodet', 'shipped', await calibrationFrames('nanodet', log), nanodet.framesFrom);
const ndVaried = await calibrated(
  'nanodet',
  'varied calibration',
  toModelInputs(variedCalibration, nanodet.spec),
  centernet.framesFrom,
);
const ndVariants = [ndShipped, ndVaried];
for (const r of await evalModel('nanodet', fp32OnnxPath(), ndVariants))
  r.report.models.forEach((m, i) => rows.push(row('NanoDet', ndVariants[i]!, r.set, r.report, m)));
// CenterNet: FP32 imported here, INT8 as shipped (the varied set).
const cnFp32 = importCenternet(join(dir, centernet.fp32File)).path;
const cnShipped = await calibrated(
  'centernet',
  'shipped',
  toModelInputs(variedCalibration, centernet.spec),
  centernet.framesFrom,
);
for (const r of await evalModel('centernet', cnFp32, [cnShipped]))
  r.report.models.forEach((m) => rows.push(row('CenterNet', cnShipped, r.set, r.report, m)));

// Against people: each model's FP32 and shipped INT8 on the hand-labelled set (test/fixtures/labels).
const labelled = loadLabels();
const labelledRgb = await decodeLabelled(labelled);
const againstLabels: Record<string, unknown> = {};
for (const [key, model, fp32, int8] of [
  ['nanodet', 'NanoDet', fp32OnnxPath(), ndShipped.path],
  ['centernet', 'CenterNet', cnFp32, cnShipped.path],
] as const) {
  const spec = QUANT_TARGETS[key].spec;
  const out: Record<string, unknown> = {};
  for (const [precision, path] of [
    ['fp32', fp32],
    ['int8', int8],
  ] as const) {
    const r = await evaluateOnLabels(spec, path, labelled, labelledRgb);
    console.log(
      `${model.padEnd(9)} ${precision} against the labels: mAP@0.5 ${r.map50.toFixed(4)}  mAP@0.5:0.95 ${r.map50_95.toFixed(4)}`,
    );
    rows.push({
      case: `${model} ${precision.toUpperCase()} against the hand-labelled set (${labelled.length} images)`,
      vigil: r.map50,
      unit: 'mAP@0.5 against hand-drawn labels (difficult boxes ignored)',
      map50_95: r.map50_95,
      per_class: r.perClass,
    });
    out[precision] = {
      map50: r.map50,
      map50_95: r.map50_95,
      person_ap50: r.perClass.find((c) => c.label === 'person')?.ap50,
    };
  }
  againstLabels[key] = out;
}
summary.against_labels = againstLabels;

const pick = (prefix: string, set: string) =>
  rows.find((r) => r.case.startsWith(prefix) && r.case.includes(`— ${set} `))!;
for (const [key, prefix] of [
  ['nanodet', 'NanoDet INT8 (shipped)'],
  ['nanodet_varied_calibration', 'NanoDet INT8 (varied calibration)'],
  ['centernet', 'CenterNet INT8 (shipped)'],
] as const) {
  const all = pick(prefix, 'all');
  summary[key] = {
    map50: all.vigil,
    map50_95: all.map50_95,
    map50_by_set: Object.fromEntries(held.map(setName).map((s) => [s, pick(prefix, s).vigil])),
    int8_p50_ms: all.int8_p50_ms,
    fp32_p50_ms: all.fp32_p50_ms,
    speedup_vs_fp32: all.speedup_vs_fp32,
    calibration_s: all.calibration_s,
  };
}
summary.run_s = Math.round((performance.now() - t0) / 1000);
const file = writeResult({
  bench: 'eval',
  setup:
    `ONNX Runtime CPU (all cores); per model, FP32 against its INT8 QDQ (MSE ranges), calibrated in this run: NanoDet-m 416 as shipped (${nanodet.framesFrom}, sensitivity-guided mixed precision) and on the varied set's calibration part (${centernet.framesFrom}); CenterNet (MobileNetV3, 512) as shipped (the varied set's calibration part; the stem conv and the sensitivity pass's choice, a tenth of the layers, in FP32). ` +
    `Held-out: ${held.map((s) => `${setName(s)} (${s.kind === 'files' ? s.paths.length : s.kind === 'frames' ? s.indices.length : 0})`).join(', ')} — the varied set's held-out part, every frame at least 4 frames from any calibration frame; the same frames for both models, letterboxed to each one's input. ` +
    `Reference = FP32 detections at score ≥ 0.4, candidates down to 0.05; COCO 101-point AP over the classes FP32 found.`,
  peer: 'the same model in FP32, same frames, same run (the reference)',
  rows,
  summary,
});
rmSync(dir, { recursive: true, force: true });
console.log(`wrote ${file}`);
