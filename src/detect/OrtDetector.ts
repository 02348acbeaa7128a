import { readFileSync } from 'node:fs';

import ort from 'onnxruntime-node';

import type { Detection } from './Detection.js';
import type { Letterbox } from './letterbox.js';
import { decodeNanodet, type HeadLevel } from './nanodet/NanodetHead.js';
import { NANODET_SPEC } from './nanodet/nanodetSpec.js';
import { monoNowUs } from '../util/LatencyWindow.js';
import { lowerQdqForOrtCpu } from './quant/ortLowering.js';

export interface DetectorOptions {
  scoreThreshold?: number;
  iouThreshold?: number;
  maxDetections?: number;
  /** ONNX Runtime intra-op threads; 0 = its default (one per core). */
  threads?: number;
}

/**
 * NanoDet on ONNX Runtime (CPU). `infer` runs on ONNX Runtime's own threads (the call is
 * asynchronous: the JS thread only decodes the small head outputs).
 */
export class OrtDetector {
  private constructor(
    private readonly session: ort.InferenceSession,
    precision: 'fp32' | 'int8',
    private readonly opts: Required<DetectorOptions>,
  ) {
    this.precision = precision;
  }

  /** The model's precision as loaded: 'int8' for a QDQ model, else 'fp32'. */
  readonly precision: 'fp32' | 'int8';

  static async load(modelPath: string, opts: DetectorOptions = {}): Promise<OrtDetector> {
    const bytes = new Uint8Array(readFileSync(modelPath));
    const lowered = lowerQdqForOrtCpu(bytes);
    const session = await ort.InferenceSession.create(lowered ?? bytes, {
      intraOpNumThreads: opts.threads ?? 0,
      graphOptimizationLevel: 'all',
    });
    return new OrtDetector(session, lowered ? 'int8' : 'fp32', {
      scoreThreshold: opts.scoreThreshold ?? 0.4,
      iouThreshold: opts.iouThreshold ?? 0.6,
      maxDetections: opts.maxDetections ?? 100,
      threads: opts.threads ?? 0,
    });
  }

  /** Raw head outputs for a [1,3,S,S] input tensor. */
  async infer(input: Float32Array): Promise<HeadLevel[]> {
    const s = NANODET_SPEC.inputSize;
    const out = await this.session.run({ [NANODET_SPEC.inputName]: new ort.Tensor('float32', input, [1, 3, s, s]) });
    return NANODET_SPEC.strides.map((stride) => ({
      stride,
      cls: out[`cls_s${stride}`]!.data as Float32Array,
      reg: out[`reg_s${stride}`]!.data as Float32Array,
    }));
  }

  /** `stamps.inferredUs` is set when the model's outputs are back (before post-processing). */
  async detect(input: Float32Array, lb: Letterbox, stamps?: { inferredUs?: number }): Promise<Detection[]> {
    const levels = await this.infer(input);
    if (stamps) stamps.inferredUs = monoNowUs();
    return decodeNanodet(levels, lb, {
      inputSize: NANODET_SPEC.inputSize,
      numClasses: NANODET_SPEC.numClasses,
      regMax: NANODET_SPEC.regMax,
      scoreThreshold: this.opts.scoreThreshold,
      iouThreshold: this.opts.iouThreshold,
      maxDetections: this.opts.maxDetections,
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
