// npm run bench:eval — INT8 accuracy against FP32 on held-out real frames (never calibration
// frames): MSE vs entropy vs percentile ranges, all-INT8 vs sensitivity-guided mixed precision,
// side by side with each one's INT8 speed (ONNX Runtime CPU, this machine, same run). Two
// held-out sets: vtest.avi's second half (400 frames), and a varied set (the same 400 + the
// second half of Megamind.avi + every other opencv-doc photo) so that more than the pedestrian
// scene's classes are weighed. Calibration: vtest.avi's first half, as scripts/setup.sh does.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { VTEST_AVI } from '../src/cli/demoClips.js';
import { evaluate, type EvalReport, type ModelEval } from '../src/model/eval/Evaluator.js';
import { modelInputs } from '../src/model/eval/modelFrames.js';
import { convertNanodet, fp32OnnxPath } from '../src/model/importModel.js';
import { calibrate, collectStats, type CalibrationMethod } from '../src/model/quant/Calibrator.js';
import { writeResult, type BenchRow } from './record.js';

const log = (m: string) => process.stderr.write(`${m}\n`);
const DATA = dirname(VTEST_AVI);
const CALIB = { from: 0, every: 4, count: 98 }; // vtest frames 0..388
const HELD = { from: 395, every: 1, count: 400 }; // vtest frames 395..794
const MEGAMIND = { from: 135, every: 1, count: 135 }; // its second half (270 frames)

const fp32 = convertNanodet();
const calibFrames = await modelInputs({ kind: 'video', path: VTEST_AVI, ...CALIB });
const vtestHeld = await modelInputs({ kind: 'video', path: VTEST_AVI, ...HELD });
const megamind = await modelInputs({ kind: 'video', path: join(DATA, 'Megamind.avi'), ...MEGAMIND });
const photos = (await modelInputs({ kind: 'images', dir: DATA, count: 1000 })).filter((_, i) => i % 2 === 1);
const sets = [
  { name: 'vtest', frames: vtestHeld },
  { name: 'varied', frames: [...vtestHeld, ...megamind, ...photos] },
];
const stats = await collectStats(fp32, calibFrames, log); // one statistics pass serves every variant
const dir = mkdtempSync(join(tmpdir(), 'vigil-eval-'));
const variants: Array<{ name: string; path: string; kept: number }> = [];
for (const method of ['mse', 'entropy', 'percentile'] as CalibrationMethod[]) {
  for (const keep of ['none', 'auto'] as const) {
    const { graph, report } = await calibrate(fp32, calibFrames, { method, keepFp32: keep, onProgress: log }, stats);
    const path = join(dir, `${method}-${keep}.onnx`);
    writeFileSync(path, graph.encode());
    variants.push({
      name: `${method}, ${keep === 'none' ? 'all INT8' : 'mixed (auto)'}`,
      path,
      kept: report.keptFp32.length,
    });
  }
}
const frequent = (m: ModelEval) => {
  const cls = m.perClass.filter((c) => c.fp32Count >= 10);
  return Math.round((cls.reduce((s, c) => s + c.ap50, 0) / Math.max(1, cls.length)) * 10000) / 10000;
};
const reports: EvalReport[] = [];
for (const s of sets)
  reports.push(
    await evaluate(
      fp32OnnxPath(),
      variants.map((v) => v.path),
      s.frames,
      {},
      log,
    ),
  );
const rows: BenchRow[] = [];
sets.forEach((s, k) => {
  const report = reports[k]!;
  report.models.forEach((m, i) => {
    const v = variants[i]!;
    const speedup = Math.round((report.reference.latencyMs.p50 / m.latencyMs.p50) * 100) / 100;
    console.log(
      `${s.name.padEnd(7)} ${v.name.padEnd(24)} mAP@0.5 ${m.map50.toFixed(4)}  mAP@0.5:0.95 ${m.map50_95.toFixed(4)}  frequent ${frequent(m).toFixed(4)}  ${m.latencyMs.p50} ms (×${speedup} vs FP32)`,
    );
    rows.push({
      case: `${v.name} — ${s.name} held-out (${report.frames} frames)`,
      vigil: m.map50,
      unit: 'mAP@0.5 (INT8 vs FP32 detections as reference)',
      map50_95: m.map50_95,
      map50_frequent_classes: frequent(m),
      classes: m.perClass.length,
      layers_kept_fp32: v.kept,
      int8_p50_ms: m.latencyMs.p50,
      int8_p99_ms: m.latencyMs.p99,
      fp32_p50_ms: report.reference.latencyMs.p50,
      speedup_vs_fp32: speedup,
      detections_per_frame: m.detectionsPerFrame,
      fp32_detections_per_frame: report.reference.detectionsPerFrame,
      per_class: m.perClass,
    });
  });
});
// The shipped default (scripts/setup.sh): MSE ranges with sensitivity-guided mixed precision.
const shipped = (set: string) => rows.find((r) => r.case.startsWith('mse, mixed (auto) — ' + set))!;
const file = writeResult({
  bench: 'eval',
  setup: `NanoDet-m 416 (imported to ONNX), ONNX Runtime CPU; calibration on vtest.avi frames ${CALIB.from}..${CALIB.from + CALIB.every * (CALIB.count - 1)} every ${CALIB.every} (${CALIB.count}); held-out sets: vtest frames ${HELD.from}..${HELD.from + HELD.count - 1} (${vtestHeld.length}), and 'varied' = those + Megamind.avi frames ${MEGAMIND.from}..${MEGAMIND.from + MEGAMIND.count - 1} + ${photos.length} opencv-doc photos (every other one) (${sets[1]!.frames.length}); reference = FP32 detections at score ≥ 0.4, candidates down to 0.05; COCO 101-point AP over the classes FP32 found; 'frequent classes' = classes with ≥ 10 reference boxes`,
  peer: 'FP32 model, same frames, same run (the reference)',
  rows,
  summary: {
    variant: 'mse, mixed (auto)',
    map50_vtest: shipped('vtest').vigil,
    map50_varied: shipped('varied').vigil,
    map50_95_varied: shipped('varied').map50_95,
    speedup_vs_fp32: shipped('vtest').speedup_vs_fp32,
  },
});
console.log(`wrote ${file}`);
