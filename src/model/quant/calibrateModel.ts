import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { CENTERNET_MODEL } from '../../detect/centernet/centernetSpec.js';
import type { ModelSpec } from '../../detect/ModelSpec.js';
import { NANODET_MODEL } from '../../detect/nanodet/nanodetSpec.js';
import { modelInputs, OPENCV_DATA, variedSources, type InputSource } from '../eval/modelFrames.js';
import {
  CENTERNET_FP32_ONNX,
  CENTERNET_INT8_ONNX,
  convertCenternet,
  convertNanodet,
  FP32_ONNX,
  INT8_ONNX,
} from '../importModel.js';
import { modelDir, type ModelName } from '../ModelStore.js';
import type { OnnxGraph } from '../onnx/OnnxGraph.js';
import { calibrate, type CalibrationOptions, type CalibrationReport } from './Calibrator.js';

/** How one of Vigil's models is calibrated: what the shipped INT8 model is made from and with. */
export interface QuantTarget {
  spec: ModelSpec;
  /** The FP32 graph, as the importer makes it. */
  fp32: () => OnnxGraph;
  /** File names in the model cache. */
  fp32File: string;
  int8File: string;
  /** The calibration options of the shipped INT8 model. */
  options: Omit<CalibrationOptions, 'model' | 'onProgress'>;
  /** Where the shipped calibration frames come from. */
  sources: () => Promise<InputSource[]>;
  /** The same in words (for reports). */
  framesFrom: string;
}

/** CenterNet's first convolution (3 input channels): slower in INT8 than in FP32 on ONNX Runtime's CPU kernels. */
export const CENTERNET_STEM = 'tower_0_MobilenetV3_Conv_BatchNorm_FusedBatchNorm_3';

export const QUANT_TARGETS: Record<ModelName, QuantTarget> = {
  nanodet: {
    spec: NANODET_MODEL,
    fp32: () => convertNanodet(),
    fp32File: FP32_ONNX,
    int8File: INT8_ONNX,
    // What `vigil calibrate` does by default (scripts/setup.sh): bench:eval weighs the alternatives.
    options: { method: 'mse', keepFp32: 'auto' },
    sources: () =>
      Promise.resolve([{ kind: 'video', path: join(OPENCV_DATA, 'vtest.avi'), from: 0, every: 4, count: 98 }]),
    framesFrom: 'vtest.avi frames 0..388, every 4th (98)',
  },
  centernet: {
    spec: CENTERNET_MODEL,
    fp32: () => convertCenternet(),
    fp32File: CENTERNET_FP32_ONNX,
    int8File: CENTERNET_INT8_ONNX,
    // Sensitivity-guided: CenterNet's depthwise convs lose the most in INT8 (bench:eval).
    options: { method: 'mse', keepFp32: 'auto', fp32Layers: [CENTERNET_STEM] },
    sources: () => variedSources('calibration'),
    framesFrom: 'the varied set: 24 frames of vtest.avi and of Megamind.avi each, spread over them, and 46 photos',
  },
};

/** The target's shipped calibration frames as its model's inputs. */
export async function calibrationFrames(name: ModelName, log = (_: string) => {}): Promise<Float32Array[]> {
  const target = QUANT_TARGETS[name];
  const frames: Float32Array[] = [];
  for (const src of await target.sources()) frames.push(...(await modelInputs(src, log, target.spec)));
  return frames;
}

export interface CalibratedModel {
  path: string;
  reportPath: string;
  report: CalibrationReport;
  /** Wall time, frames included. */
  seconds: number;
}

/** Where a QDQ model's calibration report goes: beside it, `<name>.calibration.json`. */
export const calibrationReportPath = (onnxPath: string): string =>
  `${onnxPath.replace(/\.onnx$/, '')}.calibration.json`;

export interface CalibrateModelOptions {
  /** Model inputs to calibrate on (default: the target's shipped frames). */
  frames?: Float32Array[];
  /** Overrides of the target's calibration options. */
  options?: Partial<Omit<CalibrationOptions, 'model'>>;
  /** The QDQ ONNX to write (default: the model cache); the report goes beside it. */
  out?: string;
  log?: (msg: string) => void;
}

/**
 * Calibrates one of Vigil's models (FP32 graph from the importer, frames, options: the target's
 * unless given) and writes its INT8 QDQ ONNX and the calibration report JSON beside it, by default
 * `<model cache>/<model>-int8.onnx` and `<model>-int8.calibration.json`.
 */
export async function calibrateModel(name: ModelName, opts: CalibrateModelOptions = {}): Promise<CalibratedModel> {
  const target = QUANT_TARGETS[name];
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const frames = opts.frames ?? (await calibrationFrames(name, log));
  const { graph, report } = await calibrate(target.fp32(), frames, {
    ...target.options,
    onProgress: log,
    ...opts.options,
    model: target.spec,
  });
  const path = opts.out ?? join(modelDir(), target.int8File);
  writeFileSync(path, graph.encode());
  const reportPath = calibrationReportPath(path);
  writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  return { path, reportPath, report, seconds: (performance.now() - t0) / 1000 };
}

/** The calibrated CenterNet INT8 model in the model cache (`centernet-int8.onnx`) and its report. */
export function calibrateCenternet(opts: CalibrateModelOptions = {}): Promise<CalibratedModel> {
  return calibrateModel('centernet', opts);
}
