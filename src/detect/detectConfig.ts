import { z } from 'zod';

import { trackerSchema } from '../events/eventsConfig.js';

/** The detector: one model for all cameras. The detect module owns these defaults. */
export const detectSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /**
   * cpu: ONNX Runtime on the CPU. tensorrt: TensorRT. cuda: Vigil's own INT8 engine on any NVIDIA
   * GPU (the INT8 model; no TensorRT needed). tensorrt and cuda are required where asked for: the
   * detector is unavailable, with the reason, where they cannot run. auto: TensorRT where it
   * runs, else cuda where a GPU and the INT8 model are, else the CPU (health says why).
   */
  backend: z.enum(['cpu', 'tensorrt', 'cuda', 'auto']).default('cpu'),
  tensorrt: z
    .strictObject({
      /** Serialized engines; default <data_dir>/engines. */
      cache_dir: z.string().min(1).optional(),
      /** The engine's optimization profile covers batches of 1 to this (the cuda engine's buffers too). */
      max_batch: z.int().min(1).max(64).default(8),
    })
    .default({ max_batch: 8 }),
  /**
   * The default model, for cameras that name none: an id from `models:` or a shipped one (nanodet,
   * centernet), or an ONNX file of the NanoDet family (FP32 or QDQ INT8). Default nanodet, from the
   * model cache as `precision` says.
   */
  model: z.string().min(1).optional(),
  /** auto: the calibrated INT8 model when `vigil calibrate` has made one, else FP32. */
  precision: z.enum(['auto', 'fp32', 'int8']).default('auto'),
  score_threshold: z.number().min(0.01).max(1).default(0.4),
  iou_threshold: z.number().min(0.05).max(1).default(0.6),
  max_detections: z.int().min(1).max(1000).default(100),
  /** ONNX Runtime intra-op threads; 0 = one per core. */
  threads: z.int().min(0).max(256).default(0),
  /** Per-camera object tracking (src/events/Tracker.ts): ids in the overlay, events in zones. */
  tracker: trackerSchema.default({ iou_threshold: 0.3, high_score: 0.5, min_hits: 3, max_age: 15 }),
  /**
   * Cross-camera batching (src/detect/BatchScheduler.ts): up to `max_size` cameras' frames in
   * one inference; a batch that is not full waits at most `timeout_ms` (less where a camera's
   * budget needs it) and never for a camera that stopped sending. The default is 1: ONNX Runtime
   * already spreads one frame over every core, so on the CPU a batch only adds its wait.
   */
  batch: z
    .strictObject({
      max_size: z.int().min(1).max(64).default(1),
      timeout_ms: z.number().min(0).max(1000).default(20),
    })
    .default({ max_size: 1, timeout_ms: 20 }),
});

export type DetectConfig = z.output<typeof detectSchema>;

/**
 * The ONNX model the detector loads: `model` where given, else the calibrated INT8 model for
 * precision auto/int8 where there is one, else FP32. The daemon's rule; `vigil detect` uses it too.
 */
export function detectorModel(
  cfg: Pick<DetectConfig, 'model' | 'precision'>,
  cache: { int8: string | null; fp32: () => string },
): string {
  if (cfg.precision === 'int8' && !cfg.model && !cache.int8)
    throw new Error('precision int8 was asked for, but no INT8 model exists: run `vigil calibrate`');
  return cfg.model ?? (cfg.precision !== 'fp32' && cache.int8 ? cache.int8 : cache.fp32());
}
