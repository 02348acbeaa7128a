import { EventEmitter } from 'node:events';

import type { InputNorm, LetterboxResult } from '../native/types.js';
import { monoNowUs } from '../util/LatencyWindow.js';
import type { Logger } from '../util/logger.js';
import type { Detection } from './Detection.js';
import type { Letterbox } from './letterbox.js';

/** What the service needs of a camera: its newest frame, letterboxed natively. */
export interface FrameSource {
  letterbox(dst: Float32Array, size: number, norm: InputNorm, minSeq?: number): Promise<LetterboxResult | null>;
}

/** What it needs of a detector. */
export interface Detector {
  detect(input: Float32Array, lb: Letterbox): Promise<Detection[]>;
}

/** Detections of one frame, with the frame's stamps (monotonic µs) through every stage. */
export interface DetectionEvent {
  camera: string;
  seq: number;
  ptsUs: number;
  width: number;
  height: number;
  stamps: { recvUs: number; decodedUs: number; preprocessedUs: number; inferredUs: number };
  detections: Detection[];
}

export interface CameraDetectStats {
  framesInferred: number;
  /** Decoded frames never inferred: the newest frame won while the detector was busy. */
  dropped: number;
  fps: number;
  inferMs: { p50: number; p99: number } | null;
  lastObjects: Record<string, number>;
  lastDetections: Detection[];
  lastSeq: number | null;
  lastError: string | null;
}

interface CamState {
  id: string;
  source: FrameSource;
  newestSeq: number;
  doneSeq: number;
  stats: CameraDetectStats;
  times: number[];   // recent inference times, ms
  doneAt: number[];  // recent completion times (ms), for fps
}

const WINDOW = 200;

/**
 * One detector shared by every camera: round-robin over cameras that have a frame newer than
 * their last inferred one; at most one inference in flight (it uses every core already). When
 * it falls behind, only each camera's newest frame is taken and the skipped ones are counted.
 * Emits 'detections' (DetectionEvent): the typed stream the live view publishes.
 */
export class DetectionService extends EventEmitter {
  private readonly cams = new Map<string, CamState>();
  private readonly order: string[] = [];
  private next = 0;
  private busy = false;
  private closed = false;
  private readonly input: Float32Array;

  constructor(
    private readonly detector: Detector,
    private readonly size: number,
    private readonly norm: InputNorm,
    private readonly log: Logger,
  ) {
    super();
    this.input = new Float32Array(3 * size * size);  // the one preallocated input tensor
  }

  addCamera(id: string, source: FrameSource): void {
    this.cams.set(id, {
      id,
      source,
      newestSeq: 0,
      doneSeq: 0,
      times: [],
      doneAt: [],
      stats: { framesInferred: 0, dropped: 0, fps: 0, inferMs: null, lastObjects: {}, lastDetections: [], lastSeq: null, lastError: null },
    });
    this.order.push(id);
  }

  /** A camera decoded frame `seq` (called from its frame events). */
  frame(id: string, seq: number): void {
    const cam = this.cams.get(id);
    if (!cam) return;
    cam.newestSeq = Math.max(cam.newestSeq, seq);
    this.pump();
  }

  stats(id: string): CameraDetectStats | null {
    const cam = this.cams.get(id);
    if (!cam) return null;
    const now = performance.now();
    const recent = cam.doneAt.filter((t) => now - t < 5000);
    const sorted = [...cam.times].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
    return {
      ...cam.stats,
      fps: recent.length > 1 ? Math.round(((recent.length - 1) / ((now - (recent[0] as number)) / 1000)) * 10) / 10 : 0,
      inferMs: sorted.length ? { p50: Math.round(pct(50) * 10) / 10, p99: Math.round(pct(99) * 10) / 10 } : null,
    };
  }

  close(): void {
    this.closed = true;
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    for (let k = 0; k < this.order.length; k++) {
      const id = this.order[(this.next + k) % this.order.length] as string;
      const cam = this.cams.get(id) as CamState;
      if (cam.newestSeq > cam.doneSeq) {
        this.next = (this.next + k + 1) % this.order.length;
        this.busy = true;
        this.run(cam).finally(() => {
          this.busy = false;
          this.pump();
        });
        return;
      }
    }
  }

  private async run(cam: CamState): Promise<void> {
    try {
      const lb = await cam.source.letterbox(this.input, this.size, this.norm, cam.doneSeq + 1);
      if (!lb || this.closed) {
        cam.doneSeq = cam.newestSeq;  // the newer frame is gone (new session): wait for the next
        return;
      }
      const t0 = performance.now();
      const detections = await this.detector.detect(this.input, {
        scale: lb.scale, padX: lb.padX, padY: lb.padY, srcWidth: lb.width, srcHeight: lb.height, size: this.size,
      });
      const inferredUs = monoNowUs();
      const ms = performance.now() - t0;
      if (cam.doneSeq > 0 && lb.seq > cam.doneSeq + 1) cam.stats.dropped += lb.seq - cam.doneSeq - 1;
      cam.doneSeq = lb.seq;
      cam.stats.framesInferred++;
      cam.times.push(ms);
      if (cam.times.length > WINDOW) cam.times.shift();
      cam.doneAt.push(performance.now());
      if (cam.doneAt.length > WINDOW) cam.doneAt.shift();
      const objects: Record<string, number> = {};
      for (const d of detections) objects[d.label] = (objects[d.label] ?? 0) + 1;
      cam.stats.lastObjects = objects;
      cam.stats.lastDetections = detections;
      cam.stats.lastSeq = lb.seq;
      cam.stats.lastError = null;
      const ev: DetectionEvent = {
        camera: cam.id,
        seq: lb.seq,
        ptsUs: lb.ptsUs,
        width: lb.width,
        height: lb.height,
        stamps: { recvUs: lb.recvUs, decodedUs: lb.decodedUs, preprocessedUs: lb.doneUs, inferredUs },
        detections,
      };
      this.emit('detections', ev);
    } catch (err) {
      cam.doneSeq = cam.newestSeq;
      cam.stats.lastError = (err as Error).message;
      this.log.error({ camera: cam.id, err: (err as Error).message }, 'detection failed');
    }
  }
}
