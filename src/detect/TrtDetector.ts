import { mkdirSync, readFileSync } from 'node:fs';

import { loadAddon } from '../native/addon.js';
import type { DeviceBatchHandle, TensorRtHandle } from '../native/types.js';
import { COCO_LABELS } from '../protocol/cocoLabels.js';
import { decodeDetectionRecords } from '../protocol/binary.js';
import { monoNowUs } from '../util/LatencyWindow.js';
import type { Detection } from './Detection.js';
import type { Letterbox } from './letterbox.js';
import { NANODET_SPEC } from './nanodet/nanodetSpec.js';
import type { DetectorOptions } from './OrtDetector.js';

export interface TrtDetectorOptions extends DetectorOptions {
  /** Serialized engines, one per key (GPU, TensorRT version, model hash, precision, batch shape). */
  cacheDir: string;
  /** The optimization profile's largest batch (the engine's I/O buffers are sized for it). */
  maxBatch: number;
  /** TensorRT's build messages (an engine build takes minutes, once per key). */
  onLog?: (line: string) => void;
}

/**
 * NanoDet on TensorRT (the `tensorrt` backend): the QDQ ONNX becomes an explicit-quantization
 * INT8 engine, built on first use and cached; a batch of letterboxed frames goes up once, runs
 * as one enqueueV3, and the head decode + NMS run in CUDA where the outputs lie: only the
 * detections come back (native/src/infer/TrtDetector). Compiled against TensorRT's headers, the
 * libraries loaded at run time: where they are missing, load() rejects with the reason.
 */
export class TrtDetector {
  private constructor(
    private readonly handle: TensorRtHandle,
    readonly maxBatch: number,
    readonly precision: 'fp32' | 'int8',
    readonly cacheKey: string,
    readonly builtNow: boolean,
    readonly deviceInput: DeviceBatchHandle,
  ) {}

  static async load(modelPath: string, opts: TrtDetectorOptions): Promise<TrtDetector> {
    const int8 = readFileSync(modelPath).includes('QuantizeLinear');
    mkdirSync(opts.cacheDir, { recursive: true });
    const r = await loadAddon().openTensorRt({
      onnx: modelPath,
      cacheDir: opts.cacheDir,
      maxBatch: opts.maxBatch,
      inputSize: NANODET_SPEC.inputSize,
      numClasses: NANODET_SPEC.numClasses,
      regMax: NANODET_SPEC.regMax,
      scoreThreshold: opts.scoreThreshold ?? 0.4,
      iouThreshold: opts.iouThreshold ?? 0.6,
      maxDetections: opts.maxDetections ?? 100,
    });
    for (const line of r.log) opts.onLog?.(line);
    // The cameras' letterboxes write this batch on the GPU (NVDEC frames by the CUDA kernel).
    const deviceInput = loadAddon().createDeviceBatch(r.maxBatch, NANODET_SPEC.inputSize);
    return new TrtDetector(r.handle, r.maxBatch, int8 ? 'int8' : 'fp32', r.cacheKey, r.builtNow, deviceInput);
  }

  async detect(input: Float32Array, lb: Letterbox, stamps?: { inferredUs?: number }): Promise<Detection[]> {
    return (await this.detectBatch(input, [lb], stamps))[0] as Detection[];
  }

  /** Detections of each of `boxes.length` frames laid one after the other in `input` (null: in deviceInput). */
  async detectBatch(input: Float32Array | null, boxes: Letterbox[], stamps?: { inferredUs?: number }): Promise<Detection[][]> {
    const records = await loadAddon().tensorRtDetect(this.handle, input ?? this.deviceInput, boxes);
    // Inference and post-processing end together on the GPU: one stamp for both.
    if (stamps) stamps.inferredUs = monoNowUs();
    return records.map((r) => decodeDetectionRecords(r).map((b) => ({ ...b, label: COCO_LABELS[b.classId] ?? `class ${b.classId}` })));
  }

  /** The engine is freed with its handle (garbage collection); nothing to wait for. */
  async release(): Promise<void> {}
}
