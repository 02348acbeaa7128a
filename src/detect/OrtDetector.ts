import { readFileSync } from 'node:fs';

import ort from 'onnxruntime-node';

import type { DeviceBatchHandle } from '../native/types.js';
import { decodeHead } from './decodeHead.js';
import type { Detection } from './Detection.js';
import type { Letterbox } from './letterbox.js';
import { headOutputs, type FrameOutputs, type ModelSpec } from './ModelSpec.js';
import { NANODET_MODEL } from './nanodet/nanodetSpec.js';
import { monoNowUs } from '../util/LatencyWindow.js';
import { lowerQdqForOrtCpu } from '../model/quant/ortLowering.js';

export interface DetectorOptions {
  scoreThreshold?: number;
  iouThreshold?: number;
  maxDetections?: number;
  /** ONNX Runtime intra-op threads; 0 = its default (one per core). */
  threads?: number;
  /** What the ONNX file is (its input, head family, classes); default the shipped NanoDet. */
  model?: ModelSpec;
}

/** The largest batch a session takes: its input's first dimension (symbolic: any, up to `any`; fixed: that one). */
function sessionMaxBatch(session: ort.InferenceSession, any = 64): number {
  const input = session.inputMetadata[0];
  if (!input?.isTensor || input.shape.length === 0) return 1; // no shape given: one frame at a time
  const dim = input.shape[0];
  return typeof dim === 'number' && dim > 0 ? dim : any;
}

/** The session's input and outputs against the model's description: a clear error naming what is missing. */
function checkSession(session: ort.InferenceSession, spec: ModelSpec, path: string): void {
  if (!session.inputNames.includes(spec.input.name))
    throw new Error(
      `Expected input '${spec.input.name}' for model ${spec.id} but ${path} has: ${session.inputNames.join(', ')}`,
    );
  const missing = headOutputs(spec.head).filter((n) => !session.outputNames.includes(n));
  if (missing.length)
    throw new Error(
      `Expected outputs ${missing.map((n) => `'${n}'`).join(', ')} (${spec.head.family} head) for model ${spec.id} ` +
        `but ${path} has: ${session.outputNames.join(', ')}`,
    );
}

/**
 * A detector model on ONNX Runtime (CPU). `infer` runs on ONNX Runtime's own threads (the call is
 * asynchronous: the JS thread only decodes the small head outputs).
 */
export class OrtDetector {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** What the model is: its input, head family and classes. */
    readonly spec: ModelSpec,
    precision: 'fp32' | 'int8',
    private readonly opts: Required<Omit<DetectorOptions, 'model'>>,
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
    const spec = opts.model ?? NANODET_MODEL;
    const bytes = new Uint8Array(readFileSync(modelPath));
    const lowered = lowerQdqForOrtCpu(bytes);
    const session = await ort.InferenceSession.create(lowered ?? bytes, {
      intraOpNumThreads: opts.threads ?? 0,
      graphOptimizationLevel: 'all',
    });
    checkSession(session, spec, modelPath);
    return new OrtDetector(
      session,
      spec,
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

  /** The head's outputs for a [1,3,S,S] input tensor. */
  async infer(input: Float32Array): Promise<FrameOutputs> {
    return (await this.inferBatch(input, 1))[0]!;
  }

  /** The head's outputs, per frame, for `n` frames in an [n,3,S,S] input tensor (views, no copies). */
  async inferBatch(input: Float32Array, n: number): Promise<FrameOutputs[]> {
    const s = this.spec.input.size;
    if (n < 1 || n > this.maxBatch) throw new Error(`a batch of ${n} frames: this model takes 1 to ${this.maxBatch}`);
    const out = await this.session.run({
      [this.spec.input.name]: new ort.Tensor('float32', input.subarray(0, n * 3 * s * s), [n, 3, s, s]),
    });
    const names = headOutputs(this.spec.head);
    return Array.from({ length: n }, (_, i) =>
      Object.fromEntries(
        names.map((name) => {
          const t = out[name]!.data as Float32Array;
          return [name, t.subarray((i * t.length) / n, ((i + 1) * t.length) / n)];
        }),
      ),
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
    const outs = await this.inferBatch(input, boxes.length);
    if (stamps) stamps.inferredUs = monoNowUs();
    return outs.map((o, i) => decodeHead(this.spec, o, boxes[i] as Letterbox, this.opts));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
