import { mkdirSync, readFileSync } from 'node:fs';

import { loadAddon } from '../native/addon.js';
import type { DeviceBatchHandle, GpuEngineHandle, Int8EngineOptions } from '../native/types.js';
import { decodeDetectionRecords } from '../protocol/binary.js';
import { monoNowUs } from '../util/LatencyWindow.js';
import type { Detection } from './Detection.js';
import type { Letterbox } from './letterbox.js';
import { lowerPlan, type GpuProgram } from '../model/int8/program.js';
import { planInt8 } from '../model/int8/plan.js';
import type { ModelSpec } from './ModelSpec.js';
import { NANODET_MODEL } from './nanodet/nanodetSpec.js';
import { readOnnx } from '../model/onnx/readOnnx.js';
import type { DetectorOptions } from './OrtDetector.js';

export interface TrtDetectorOptions extends DetectorOptions {
  /** Serialized engines, one per key (GPU, TensorRT version, model hash, precision, batch shape). */
  cacheDir: string;
  /** The optimization profile's largest batch (the engine's I/O buffers are sized for it). */
  maxBatch: number;
  /** TensorRT's build messages (an engine build takes minutes, once per key). */
  onLog?: (line: string) => void;
}

export interface CudaDetectorOptions extends DetectorOptions {
  /** The engine's buffers are sized for this batch. */
  maxBatch: number;
  /** The engine's settings (benches compare variants); the daemon leaves them to their defaults. */
  engine?: Int8EngineOptions;
}

/**
 * NanoDet on the GPU, one of two engines behind the same detector (native/src/infer/GpuDetector):
 * a batch of letterboxed frames goes up once (or the cameras' letterboxes write it on the GPU),
 * the engine runs it, and the head decode + NMS run in CUDA where the outputs lie: only the
 * detections come back.
 * - `tensorrt`: the QDQ ONNX becomes an explicit-quantization INT8 TensorRT engine, built on
 *   first use and cached. Compiled against TensorRT's headers, the libraries loaded at run time:
 *   where they are missing, loadTensorRt() rejects with the reason.
 * - `cuda`: Vigil's own INT8 engine (native/src/int8/Int8Engine.h), from the same QDQ ONNX on
 *   any NVIDIA GPU from sm_61 (tensor cores from sm_80): the model is planned
 *   (src/model/int8/plan.ts) and lowered (program.ts) here, in a second, nothing to build.
 */
export class GpuDetector {
  private constructor(
    private readonly handle: GpuEngineHandle,
    readonly backend: 'tensorrt' | 'cuda',
    readonly maxBatch: number,
    readonly precision: 'fp32' | 'int8',
    readonly cacheKey: string,
    readonly builtNow: boolean,
    readonly deviceInputs: readonly DeviceBatchHandle[],
    /** What the model is: its input, head family and classes. */
    readonly spec: ModelSpec,
  ) {}

  static async loadTensorRt(modelPath: string, opts: TrtDetectorOptions): Promise<GpuDetector> {
    const int8 = readFileSync(modelPath).includes('QuantizeLinear');
    mkdirSync(opts.cacheDir, { recursive: true, mode: 0o700 }); // private like the rest of data_dir
    const r = await loadAddon().openTensorRt({
      onnx: modelPath,
      cacheDir: opts.cacheDir,
      maxBatch: opts.maxBatch,
      ...postOptions(opts),
    });
    for (const line of r.log) opts.onLog?.(line);
    return GpuDetector.around(r, 'tensorrt', int8 ? 'int8' : 'fp32', opts.model ?? NANODET_MODEL);
  }

  /** Vigil's own engine on the QDQ ONNX at `modelPath`; rejects naming what it cannot run. */
  static async loadCuda(modelPath: string, opts: CudaDetectorOptions): Promise<GpuDetector> {
    const post = postOptions(opts);
    const program = cudaProgram(modelPath);
    const r = await loadAddon().openInt8Engine({ program, options: opts.engine, maxBatch: opts.maxBatch, ...post });
    const det = GpuDetector.around(r, 'cuda', 'int8', opts.model ?? NANODET_MODEL);
    await det.warmUp();
    return det;
  }

  private static around(
    r: { handle: GpuEngineHandle; maxBatch: number; cacheKey: string; builtNow: boolean },
    backend: 'tensorrt' | 'cuda',
    precision: 'fp32' | 'int8',
    spec: ModelSpec,
  ) {
    // The cameras' letterboxes write these batches on the GPU (NVDEC frames by the CUDA kernel):
    // two, so that one batch is letterboxed while the one before it is inferred.
    const deviceInputs = [0, 1].map(() => loadAddon().createDeviceBatch(r.maxBatch, spec.input.size));
    return new GpuDetector(r.handle, backend, r.maxBatch, precision, r.cacheKey, r.builtNow, deviceInputs, spec);
  }

  /**
   * Runs every batch size once on each input batch: the engine captures its CUDA graph for each
   * (size, input) now, before cameras run. A capture while other threads launch kernels (a
   * camera's letterbox, a module loaded on first use) can be invalidated, failing that batch.
   */
  private async warmUp(): Promise<void> {
    const box: Letterbox = {
      scale: 1,
      padX: 0,
      padY: 0,
      srcWidth: this.spec.input.size,
      srcHeight: this.spec.input.size,
      size: this.spec.input.size,
    };
    for (const input of this.deviceInputs) {
      for (let n = 1; n <= this.maxBatch; n++) await this.detectBatch(input, Array(n).fill(box));
    }
  }

  /** The engine handle, for checks and benches (checks.int8EngineRun/int8EngineRead on `cuda`). */
  get engine(): GpuEngineHandle {
    return this.handle;
  }

  async detect(input: Float32Array, lb: Letterbox, stamps?: { inferredUs?: number }): Promise<Detection[]> {
    return (await this.detectBatch(input, [lb], stamps))[0] as Detection[];
  }

  /** Detections of each of `boxes.length` frames laid one after the other in `input` (a host tensor or one of deviceInputs). */
  async detectBatch(
    input: Float32Array | DeviceBatchHandle,
    boxes: Letterbox[],
    stamps?: { inferredUs?: number },
  ): Promise<Detection[][]> {
    const records = await loadAddon().gpuEngineDetect(this.handle, input, boxes);
    // Inference and post-processing end together on the GPU: one stamp for both.
    if (stamps) stamps.inferredUs = monoNowUs();
    return records.map((r) =>
      decodeDetectionRecords(r).map((b) => ({ ...b, label: this.spec.classes[b.classId] ?? `class ${b.classId}` })),
    );
  }

  /** The engine is freed with its handle (garbage collection); nothing to wait for. */
  async release(): Promise<void> {}
}

/**
 * The post-processing settings every GPU engine opens with (the defaults where `opts` has none).
 * The CUDA head decode is NanoDet's; other families are refused here, naming the backend that does run them.
 */
export function postOptions(opts: DetectorOptions) {
  const spec = opts.model ?? NANODET_MODEL;
  if (spec.head.family !== 'nanodet')
    throw new Error(
      `Expected a nanodet model for the GPU backends (their head decode runs in CUDA) but model ${spec.id} is ${spec.head.family}: use backend cpu`,
    );
  return {
    inputSize: spec.input.size,
    numClasses: spec.classes.length,
    regMax: spec.head.regMax,
    scoreThreshold: opts.scoreThreshold ?? 0.4,
    iouThreshold: opts.iouThreshold ?? 0.6,
    maxDetections: opts.maxDetections ?? 100,
  };
}

/** The `cuda` engine's program for a QDQ ONNX: planned and lowered; throws naming what it cannot run. */
export function cudaProgram(modelPath: string): GpuProgram {
  const bytes = readFileSync(modelPath);
  if (!bytes.includes('QuantizeLinear'))
    throw new Error(
      `the cuda backend runs INT8 (QDQ) models; ${modelPath} has no QuantizeLinear: run \`vigil calibrate\` or set detect.precision int8`,
    );
  return lowerPlan(planInt8(readOnnx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))));
}
