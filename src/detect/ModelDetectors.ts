import { EventEmitter } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { BudgetEvent } from '../budget/BudgetGuard.js';
import { ModelError, modelDir } from '../model/ModelStore.js';
import { moduleLogger, type Logger } from '../util/logger.js';
import type { DetectConfig } from './detectConfig.js';
import { DetectionService, type DetectionEvent, type Detector } from './DetectionService.js';
import { GpuDetector } from './GpuDetector.js';
import type { ResolvedModel } from './modelConfig.js';
import { OrtDetector } from './OrtDetector.js';

/** One model's detector as the health API reports it. */
export interface DetectorHealth {
  status: 'off' | 'ready' | 'unavailable';
  backend: string;
  precision: string | null;
  /** The ONNX file it runs. */
  model: string | null;
  reason: string | null;
  /** backend auto: why not the backends before the one it runs on (TensorRT, cuda). */
  fallback: string | null;
}

export interface ModelHealth extends DetectorHealth {
  id: string;
  family: string;
  cameras: string[];
}

/** A calibration report as `vigil calibrate` writes it beside the INT8 file (the UI's detector panel shows it). */
export interface CalibrationSummary {
  method: string;
  frames: number;
  int8Layers: number;
  totalLayers: number;
  keptFp32: string[];
  tensors: Array<{ tensor: string; absMax: number; threshold: number; scale: number; saturation: number }>;
  [key: string]: unknown;
}

type LoadedDetector = Detector & { precision: string; release(): Promise<void> };

interface Loaded {
  resolved: ResolvedModel;
  health: DetectorHealth;
  detector: LoadedDetector | null;
  service: DetectionService | null;
  cameras: Set<string>;
}

export interface ModelDetectorsEvents {
  detections: [ev: DetectionEvent];
  budget: [ev: BudgetEvent];
}

/** A shipped model's files in the model cache: `<name>-fp32.onnx` and, once calibrated, `<name>-int8.onnx`. */
export function shippedFiles(name: string): { fp32: () => string; int8: string | null } {
  const dir = modelDir();
  const int8 = join(dir, `${name}-int8.onnx`);
  return {
    fp32: () => {
      const path = join(dir, `${name}-fp32.onnx`);
      if (!existsSync(path) || statSync(path).size === 0)
        throw new ModelError(
          `The ${name} model's ONNX file is missing: ${path}. Make it with \`vigil model import --model ${name}\` (scripts/setup.sh does).`,
        );
      return path;
    },
    int8: existsSync(int8) && statSync(int8).size > 0 ? int8 : null,
  };
}

/**
 * The ONNX file a model runs: a user's file as given; for a shipped model the calibrated INT8 file
 * for precision auto/int8 where there is one, else FP32 (the daemon's rule; `vigil detect` uses it).
 */
export function modelFile(m: ResolvedModel, precision: DetectConfig['precision']): string {
  if (m.source.kind === 'file') return m.source.path;
  const files = shippedFiles(m.source.name);
  if (precision === 'int8' && !files.int8)
    throw new Error(
      `precision int8 was asked for, but ${m.spec.id} has no INT8 model: run \`vigil calibrate --model ${m.source.name}\``,
    );
  return precision !== 'fp32' && files.int8 ? files.int8 : files.fp32();
}

/**
 * One detector per model that cameras use, each with its own DetectionService (its own batches
 * across its cameras). A model that cannot load leaves its cameras running without detection and
 * says why; the others are unaffected.
 */
export class ModelDetectors extends EventEmitter<ModelDetectorsEvents> {
  private readonly loaded = new Map<string, Loaded>();
  private readonly log: Logger;

  constructor(
    private readonly cfg: DetectConfig,
    private readonly dataDir: string,
    private readonly logger: Logger,
  ) {
    super();
    this.log = moduleLogger(logger, 'ModelDetectors');
  }

  /** Loads each model (in order: the first is the default, whose health the API shows as `detector`). */
  async start(models: ResolvedModel[]): Promise<void> {
    for (const m of models) {
      if (this.loaded.has(m.spec.id)) continue;
      const entry: Loaded = { resolved: m, health: offHealth(), detector: null, service: null, cameras: new Set() };
      this.loaded.set(m.spec.id, entry);
      await this.load(entry);
    }
  }

  private async load(entry: Loaded): Promise<void> {
    const cfg = this.cfg;
    const { spec } = entry.resolved;
    let fallback: string | null = null;
    let backend: 'cpu' | 'tensorrt' | 'cuda' = 'cpu';
    let model: string | null = null;
    let det: LoadedDetector | null = null;
    try {
      model = modelFile(entry.resolved, cfg.precision);
      const opts = {
        scoreThreshold: cfg.score_threshold,
        iouThreshold: cfg.iou_threshold,
        maxDetections: cfg.max_detections,
        model: spec,
      };
      const maxBatch = Math.max(cfg.tensorrt.max_batch, cfg.batch.max_size);
      const why: string[] = [];
      if (cfg.backend === 'tensorrt' || cfg.backend === 'auto') {
        try {
          const cacheDir = cfg.tensorrt.cache_dir ?? join(this.dataDir, 'engines');
          this.log.info({ model, cacheDir }, 'loading the TensorRT engine (a first build takes minutes)');
          det = await GpuDetector.loadTensorRt(model, {
            ...opts,
            cacheDir,
            maxBatch,
            onLog: (line) => this.log.info({ tensorrt: line }, 'TensorRT'),
          });
          backend = 'tensorrt';
        } catch (err) {
          if (cfg.backend === 'tensorrt') throw err;
          why.push(`TensorRT unavailable: ${(err as Error).message}`);
        }
      }
      if (!det && (cfg.backend === 'cuda' || cfg.backend === 'auto')) {
        try {
          // Vigil's own engine runs INT8 models; FP32 asked for explicitly stays elsewhere.
          if (cfg.precision === 'fp32' && entry.resolved.source.kind === 'shipped')
            throw new Error('no INT8 model (precision fp32 keeps the cuda engine off)');
          det = await GpuDetector.loadCuda(model, { ...opts, maxBatch });
          backend = 'cuda';
        } catch (err) {
          if (cfg.backend === 'cuda') throw err;
          why.push(`CUDA INT8 engine unavailable: ${(err as Error).message}`);
        }
      }
      if (why.length) {
        fallback = why.join('; ');
        this.log.warn(
          { model: spec.id, reason: fallback },
          det ? `backend auto: detecting with ${backend}` : 'backend auto: detecting on the CPU',
        );
      }
      det ??= await OrtDetector.load(model, { ...opts, threads: cfg.threads });
    } catch (err) {
      entry.health = {
        ...offHealth(),
        status: 'unavailable',
        backend: cfg.backend,
        model,
        reason: (err as Error).message,
        fallback,
      };
      this.log.error(
        { model: spec.id, reason: (err as Error).message },
        'detector unavailable; its cameras run without detection',
      );
      return;
    }
    entry.detector = det;
    entry.health = { status: 'ready', backend, precision: det.precision, model, reason: null, fallback };
    const service = new DetectionService(
      det,
      spec.input.size,
      spec.input.normalize,
      moduleLogger(this.logger, 'DetectionService', { model: spec.id }),
      {
        maxSize: cfg.batch.max_size,
        timeoutMs: cfg.batch.timeout_ms,
      },
    );
    service.on('detections', (ev) => this.emit('detections', ev));
    service.on('budget', (ev) => this.emit('budget', ev));
    entry.service = service;
    this.log.info({ model: spec.id, file: model, backend, precision: det.precision }, 'detector ready');
  }

  /** The service that detects for `camera` on model `id`; null when that model is not loaded or unavailable. */
  serviceFor(id: string, camera: string): DetectionService | null {
    const entry = this.loaded.get(id);
    if (!entry) return null;
    entry.cameras.add(camera);
    return entry.service;
  }

  /** Model `id`'s detection service (its batches); null when it is not loaded or unavailable. */
  service(id: string): DetectionService | null {
    return this.loaded.get(id)?.service ?? null;
  }

  removeCamera(camera: string): void {
    for (const e of this.loaded.values()) {
      if (e.cameras.delete(camera)) e.service?.removeCamera(camera);
    }
  }

  /** The camera's detection stats from whichever model detects for it. */
  stats(camera: string): ReturnType<DetectionService['stats']> | null {
    for (const e of this.loaded.values()) if (e.cameras.has(camera) && e.service) return e.service.stats(camera);
    return null;
  }

  /** The default model's (the first loaded) health; 'off' when none is. */
  defaultHealth(): DetectorHealth {
    return this.loaded.values().next().value?.health ?? offHealth();
  }

  /** The default model's batch stats. */
  defaultService(): DetectionService | null {
    return this.loaded.values().next().value?.service ?? null;
  }

  /** Every loaded model: its health, family and cameras. */
  models(): ModelHealth[] {
    return [...this.loaded.values()].map((e) => ({
      id: e.resolved.spec.id,
      family: e.resolved.spec.head.family,
      cameras: [...e.cameras],
      ...e.health,
    }));
  }

  /** The calibration report beside the INT8 file model `id` runs (`x-int8.onnx` → `x-int8.calibration.json`), or null. */
  async calibration(id: string): Promise<CalibrationSummary | null> {
    const file = this.loaded.get(id)?.health.model;
    if (!file || this.loaded.get(id)?.health.precision !== 'int8') return null;
    try {
      return JSON.parse(await readFile(file.replace(/\.onnx$/i, '.calibration.json'), 'utf8')) as CalibrationSummary;
    } catch {
      return null; // a file calibrated elsewhere comes without one
    }
  }

  /** Whether some model's detector is stuck: the first reason, or null. */
  stuck(ms: number): string | null {
    for (const e of this.loaded.values()) {
      const why = e.service?.stuck(ms);
      if (why) return this.loaded.size > 1 ? `${e.resolved.spec.id}: ${why}` : why;
    }
    return null;
  }

  /** Inferences a second over every model's cameras. */
  fps(): number {
    let fps = 0;
    for (const e of this.loaded.values()) for (const c of e.cameras) fps += e.service?.stats(c)?.fps ?? 0;
    return fps;
  }

  async close(): Promise<void> {
    for (const e of this.loaded.values()) await e.service?.close();
  }

  async release(): Promise<void> {
    for (const e of this.loaded.values()) await e.detector?.release();
  }
}

const offHealth = (): DetectorHealth => ({
  status: 'off',
  backend: 'cpu',
  precision: null,
  model: null,
  reason: null,
  fallback: null,
});
