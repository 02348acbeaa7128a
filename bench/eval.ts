// npm run bench:eval — INT8 accuracy against FP32 on 400 held-out vtest frames (not the
// calibration frames), entropy vs percentile and all-INT8 vs sensitivity-guided mixed
// precision side by side, with and without bias correction, each with its INT8 speed (ONNX Runtime CPU, this machine, same run).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { VTEST_AVI } from '../src/cli/demoClips.js';
import { evaluate, type ModelEval } from '../src/detect/eval/Evaluator.js';
import { modelInputs } from '../src/detect/eval/modelFrames.js';
import { convertNanodet, fp32OnnxPath } from '../src/detect/model/importModel.js';
import { calibrate, collectStats, type CalibrationMethod } from '../src/detect/quant/Calibrator.js';
import { writeResult, type BenchRow } from './record.js';

const log = (m: string) => process.stderr.write(`${m}\n`);
const CALIB = { from: 0, every: 4, count: 98 };   // frames 0..388
const HELD = { from: 395, every: 1, count: 400 }; // frames 395..794

const fp32 = convertNanodet();
const calibFrames = await modelInputs({ kind: 'video', path: VTEST_AVI, ...CALIB });
const heldFrames = await modelInputs({ kind: 'video', path: VTEST_AVI, ...HELD });
const stats = await collectStats(fp32, calibFrames, log);  // one statistics pass serves every variant
const dir = mkdtempSync(join(tmpdir(), 'vigil-eval-'));
const variants: Array<{ name: string; path: string; kept: number }> = [];
const cases: Array<{ method: CalibrationMethod; keep: 'none' | 'auto'; bc: boolean }> = [
  { method: 'entropy', keep: 'none', bc: false },
  { method: 'entropy', keep: 'auto', bc: false },
  { method: 'percentile', keep: 'none', bc: false },
  { method: 'percentile', keep: 'auto', bc: false },
  { method: 'percentile', keep: 'none', bc: true },
  { method: 'percentile', keep: 'auto', bc: true },
];
for (const { method, keep, bc } of cases) {
  const { graph, report } = await calibrate(fp32, calibFrames, { method, keepFp32: keep, biasCorrection: bc, onProgress: log }, stats);
  const path = join(dir, `${method}-${keep}${bc ? '-bc' : ''}.onnx`);
  writeFileSync(path, graph.encode());
  variants.push({ name: `${method}, ${keep === 'none' ? 'all INT8' : 'mixed (auto)'}${bc ? ' + bias correction' : ''}`, path, kept: report.keptFp32.length });
}
const report = await evaluate(fp32OnnxPath(), variants.map((v) => v.path), heldFrames, {}, log);
const frequent = (m: ModelEval) => {
  const cls = m.perClass.filter((c) => c.fp32Count >= 10);
  return cls.reduce((s, c) => s + c.ap50, 0) / Math.max(1, cls.length);
};
const rows: BenchRow[] = report.models.map((m, i) => {
  const v = variants[i]!;
  const speedup = Math.round((report.reference.latencyMs.p50 / m.latencyMs.p50) * 100) / 100;
  console.log(`${v.name.padEnd(46)} mAP@0.5 ${m.map50.toFixed(4)}  mAP@0.5:0.95 ${m.map50_95.toFixed(4)}  frequent-class mAP@0.5 ${frequent(m).toFixed(4)}  ${m.latencyMs.p50} ms (×${speedup} vs FP32)`);
  return {
    case: v.name,
    vigil: m.map50,
    unit: 'mAP@0.5 (INT8 vs FP32 detections as reference)',
    map50_95: m.map50_95,
    map50_frequent_classes: Math.round(frequent(m) * 10000) / 10000,
    layers_kept_fp32: v.kept,
    int8_p50_ms: m.latencyMs.p50,
    int8_p99_ms: m.latencyMs.p99,
    fp32_p50_ms: report.reference.latencyMs.p50,
    speedup_vs_fp32: speedup,
    detections_per_frame: m.detectionsPerFrame,
    fp32_detections_per_frame: report.reference.detectionsPerFrame,
    per_class: m.perClass,
  };
});
// The shipped default (setup.sh): percentile with sensitivity-guided mixed precision.
const shipped = rows.find((r) => r.case === 'percentile, mixed (auto)')!;
const file = writeResult({
  bench: 'eval',
  setup: `NanoDet-m 416 (imported to ONNX), ONNX Runtime CPU; calibration on vtest.avi frames ${CALIB.from}..${CALIB.from + CALIB.every * (CALIB.count - 1)} every ${CALIB.every} (${CALIB.count}); evaluation on held-out frames ${HELD.from}..${HELD.from + HELD.every * (HELD.count - 1)} every ${HELD.every} (${HELD.count}); reference = FP32 detections at score ≥ 0.4, candidates down to 0.05; COCO 101-point AP over the classes FP32 found; 'frequent classes' = classes with ≥ 10 reference boxes`,
  peer: 'FP32 model, same frames, same run (the reference)',
  rows,
  summary: { map50: shipped.vigil, map50_95: shipped.map50_95, map50_frequent_classes: shipped.map50_frequent_classes, frames: report.frames, variant: shipped.case },
});
console.log(`wrote ${file}`);
