import { readFileSync } from 'node:fs';

import ort from 'onnxruntime-node';

import type { DeviceBatchHandle } from '../native/types.js';
import type { Detection } from './Detection.js';
import type { Letterbox } from './letterbox.js';
import { decodeNanodet, type HeadLevel } from './nanodet/NanodetHead.js';
import { NANODET_SPEC } from './nanodet/nanodetSpec.js';
import { monoNowUs } from '../util/LatencyWindow.js';
import { lowerQdqForOrtCpu } from '../model/quant/ortLowering.js';

export interface DetectorOptions {
  scoreThreshold?: number;
  iouThreshold?: number;
  maxDetections?: number;
  /** ONNX Runtime intra-op threads; 0 = its default (one per core). */
  threads?: number;
}

/** The largest batch a session takes: its input's first dimension (symbolic: any, up to `any`; fixed: that one). */
function sessionMaxBatch(session: ort.InferenceSession, any = 64): number {
  const input = session.inputMetadata[0];
  if (!input?.isTensor || input.shape.length === 0) return 1; // no shape given: one frame at a time
  const dim = input.shape[0];
  return typeof dim === 'number' && dim > 0 ? dim : any;
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
    maxBatch: number,
  ) {
    this.precision = precision;
    this.maxBatch = maxBatch;
  }

  /** The largest batch the model takes (1 for a model imported with a fixed batch). */
  readonly maxBatch: number;

  /** The model's precision as loaded: 'int8' for a QDQ model, else 'fp32'. */
  readonly precision: 'fp32' | 'int8';

  static async load(modelPath: string, opts: DetectorOptions = {}): Promise<OrtDetector> {
    const bytes = new Uint8Array(readFileSync(modelPath));
    const lowered = lowerQdqForOrtCpu(bytes);
    const session = await ort.InferenceSession.create(lowered ?? bytes, {
      intraOpNumThreads: opts.threads ?? 0,
      graphOptimizationLevel: 'all',
    });
    return new OrtDetector(
      session,
      lowered ? 'int8' : 'fp32',
      {
        scoreThreshold: opts.scoreThreshold ?? 0.4,
        iouThreshold: opts.iouThreshold ?? 0.6,
        maxDetections: opts.maxDetections ?? 100,
        threads: opts.threads ?? 0,
      },
      sessionMaxBatch(session),
    );
  }

  /** Raw head outputs for a [1,3,S,S] input tensor. */
  async infer(input: Float32Array): Promise<HeadLevel[]> {
    return (await this.inferBatch(input, 1))[0] as HeadLevel[];
  }

  /** Raw head outputs, per frame, for `n` frames in an [n,3,S,S] input tensor (views, no copies). */
  async inferBatch(input: Float32Array, n: number): Promise<HeadLevel[][]> {
    const s = NANODET_SPEC.inputSize;
    if (n < 1 || n > this.maxBatch) throw new Error(`a batch of ${n} frames: this model takes 1 to ${this.maxBatch}`);
    const out = await this.session.run({
      [NANODET_SPEC.inputName]: new ort.Tensor('float32', input.subarray(0, n * 3 * s * s), [n, 3, s, s]),
    });
    return Array.from({ length: n }, (_, i) =>
      NANODET_SPEC.strides.map((stride) => {
        const cls = out[`cls_s${stride}`]!.data as Float32Array;
        const reg = out[`reg_s${stride}`]!.data as Float32Array;
        return {
          stride,
          cls: cls.subarray((i * cls.length) / n, ((i + 1) * cls.length) / n),
          reg: reg.subarray((i * reg.length) / n, ((i + 1) * reg.length) / n),
        };
      }),
    );
  }

  /** `stamps.inferredUs` is set when the model's outputs are back (before post-processing). */
  async detect(input: Float32Array, lb: Letterbox, stamps?: { inferredUs?: number }): Promise<Detection[]> {
    return (await this.detectBatch(input, [lb], stamps))[0] as Detection[];
  }

  /** Detections of each of `boxes.length` frames laid one after the other in `input`. */
  async detectBatch(
    input: Float32Array | DeviceBatchHandle,
    boxes: Letterbox[],
    stamps?: { inferredUs?: number },
  ): Promise<Detection[][]> {
    if (!(input instanceof Float32Array))
      throw new Error('ONNX Runtime (CPU) takes a host tensor, not a GPU input batch');
    const levels = await this.inferBatch(input, boxes.length);
    if (stamps) stamps.inferredUs = monoNowUs();
    return levels.map((l, i) =>
      decodeNanodet(l, boxes[i] as Letterbox, {
        inputSize: NANODET_SPEC.inputSize,
        numClasses: NANODET_SPEC.numClasses,
        regMax: NANODET_SPEC.regMax,
        scoreThreshold: this.opts.scoreThreshold,
        iouThreshold: this.opts.iouThreshold,
        maxDetections: this.opts.maxDetections,
      }),
    );
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
