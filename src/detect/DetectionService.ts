import { EventEmitter } from 'node:events';

import type { BudgetEvent } from '../budget/BudgetGuard.js';
import type { DeviceBatchHandle, InputNorm, LetterboxResult, LetterboxTarget } from '../native/types.js';
import { monoNowUs } from '../util/LatencyWindow.js';
import type { Logger } from '../util/logger.js';
import { BatchCounts, type BatchStats } from './BatchCounts.js';
import { BatchScheduler, type BatchEvent, type BatchOptions } from './BatchScheduler.js';
import type { CameraDetectStats } from './CameraStats.js';
import { DetectCamera, type FrameSource } from './DetectCamera.js';
import type { Detection } from './Detection.js';
import { NO_BUDGET, type CameraDetectOptions } from './FramePolicy.js';
import type { Letterbox } from './letterbox.js';
import { StuckWatch } from './StuckWatch.js';

export { BATCH_LAUNCHES, type BatchEvent, type BatchLaunch, type BatchOptions } from './BatchScheduler.js';
export type { BatchStats } from './BatchCounts.js';
export type { CameraDetectStats } from './CameraStats.js';
export type { FrameSource } from './DetectCamera.js';
export { DROP_REASONS, type DropReason } from './DropLedger.js';
export { NO_BUDGET, type CameraDetectOptions } from './FramePolicy.js';

/** What it needs of a detector. */
export interface Detector {
  /** The largest batch the model takes (1 for a model whose batch dimension is fixed). */
  readonly maxBatch: number;
  /**
   * GPU input batches the cameras' letterboxes write straight into (frame i → slot i), for a
   * GPU backend: the tensor never comes to the host. With two, the next batch is letterboxed
   * while the one before it is inferred. Absent or empty: one host tensor, a batch at a time.
   */
  readonly deviceInputs?: readonly DeviceBatchHandle[];
  /**
   * `boxes.length` letterboxed frames, one after the other in `input` (a host tensor or one of
   * deviceInputs); their detections in the same order. Sets `stamps.inferredUs` when the
   * model's outputs are back, before post-processing.
   */
  detectBatch(
    input: Float32Array | DeviceBatchHandle,
    boxes: Letterbox[],
    stamps?: { inferredUs?: number },
  ): Promise<Detection[][]>;
}

/** Detections of one frame, with the frame's stamps (monotonic µs) through every stage. */
export interface DetectionEvent {
  camera: string;
  seq: number;
  ptsUs: number;
  width: number;
  height: number;
  /** First packet received, decoded, letterboxed, model outputs back, boxes out of post-processing. */
  stamps: { recvUs: number; decodedUs: number; preprocessedUs: number; inferredUs: number; postprocessedUs: number };
  detections: Detection[];
}

/** What the service announces; the compiler checks names and payloads. */
export interface DetectionServiceEvents {
  /** A batch was launched (as it goes). */
  batch: [ev: BatchEvent];
  /** One frame's detections: the typed stream the live view publishes. */
  detections: [ev: DetectionEvent];
  /** A camera's latency budget was breached, or is kept again. */
  budget: [ev: BudgetEvent];
}

/** A camera's frame in a batch: its letterbox and its slot in the batch's input. */
interface Taken {
  cam: DetectCamera;
  lb: LetterboxResult;
  slot: number;
}

/**
 * One detector shared by every camera: batches of the newest frames of cameras that have one
 * newer than their last inferred one, gathered round-robin (BatchScheduler); one batch inferred
 * at a time (the detector uses every core, or its GPU, already), and with two GPU input batches
 * the next one is letterboxed meanwhile. When it falls behind, only each camera's newest frame
 * is taken and the skipped ones are counted (DropLedger); each camera's policy (FramePolicy)
 * says which frames it may take. Every decoded frame is either inferred or counted as dropped,
 * with the reason. Emits DetectionServiceEvents.
 */
export class DetectionService extends EventEmitter<DetectionServiceEvents> {
  private readonly cams = new Map<string, DetectCamera>();
  private readonly scheduler: BatchScheduler;
  private readonly counts = new BatchCounts();
  private readonly progress = new StuckWatch();
  /** A batch is letterboxing its frames (one at a time; the next may start once it infers). */
  private gathering = false;
  /** Input buffers no batch holds: the GPU input batches, or null for the one host tensor. */
  private readonly free: Array<DeviceBatchHandle | null>;
  /** Settles when the last batch queued for inference is done: batches infer in launch order. */
  private inferTail: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly input: Float32Array;
  private readonly frameLen: number;

  constructor(
    private readonly detector: Detector,
    private readonly size: number,
    private readonly norm: InputNorm,
    private readonly log: Logger,
    batch: BatchOptions = { maxSize: 1, timeoutMs: 0 },
  ) {
    super();
    const maxSize = Math.max(1, Math.min(batch.maxSize, detector.maxBatch));
    if (maxSize < batch.maxSize)
      log.warn({ asked: batch.maxSize, model: detector.maxBatch }, 'the model takes smaller batches than configured');
    this.scheduler = new BatchScheduler({ maxSize, timeoutMs: batch.timeoutMs }, this.cams, () => this.pump());
    this.frameLen = 3 * size * size;
    const device = detector.deviceInputs ?? [];
    this.free = device.length ? [...device] : [null];
    this.input = new Float32Array(device.length ? 0 : maxSize * this.frameLen); // the one preallocated host tensor
  }

  addCamera(id: string, source: FrameSource, opts: CameraDetectOptions = NO_BUDGET): void {
    this.cams.set(id, new DetectCamera(id, source, opts));
    this.scheduler.add(id);
  }

  /** Stops detecting on a camera (config reload); a batch running with its frame finishes, its result for this camera not emitted. */
  removeCamera(id: string): void {
    if (!this.cams.delete(id)) return;
    this.scheduler.remove(id);
  }

  /** Test only: slows this camera's inference stage by `ms` from now on. */
  setInferDelay(id: string, ms: number): void {
    const cam = this.cams.get(id);
    if (cam) cam.opts.inferDelayMs = ms;
  }

  /** A camera decoded frame `seq` (called from its frame events). */
  frame(id: string, seq: number, recvUs = 0, ptsUs: number | null = null): void {
    const cam = this.cams.get(id);
    if (!cam) return;
    const now = performance.now();
    if (cam.frame(seq, recvUs, ptsUs, now)) this.progress.frameWaiting(now);
    this.pump();
  }

  stats(id: string): CameraDetectStats | null {
    return this.cams.get(id)?.snapshot(performance.now()) ?? null;
  }

  /** How batches were formed: sizes, why they went, how long their first frame waited. */
  batchStats(): BatchStats {
    return this.counts.stats(this.scheduler.options);
  }

  /** No more batches start, and a running one's results are not emitted. */
  close(): void {
    this.closed = true;
    this.scheduler.close();
  }

  /**
   * Whether inference makes progress: null when it does, else why not. Stuck: a batch has run
   * longer than `stuckMs`, or frames have waited that long with no batch finishing (what the
   * service manager's watchdog is told).
   */
  stuck(stuckMs: number, now = performance.now()): string | null {
    if (this.closed) return null;
    // Frames a policy holds back (target_fps, every_nth) are not waiting on the detector.
    const waiting = () => [...this.cams.values()].filter((c) => c.waiting() && c.admits(now).ok).map((c) => c.id);
    return this.progress.stuck(stuckMs, now, waiting);
  }

  private pump(): void {
    if (this.gathering || this.free.length === 0 || this.closed) return;
    const now = performance.now();
    const next = this.scheduler.take(now);
    if (!next) return;
    const { cameras, launch, waitMs } = next;
    this.counts.launched(launch, cameras.length, waitMs);
    const batch = this.progress.launched(now);
    const buffer = this.free.pop() as DeviceBatchHandle | null;
    for (const cam of cameras) cam.policy.took(now);
    this.emit('batch', { cameras: cameras.map((c) => c.id), launch, waitMs } satisfies BatchEvent);
    this.run(cameras, buffer)
      .catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'detection batch failed'))
      .finally(() => {
        this.progress.finished(batch);
        this.free.push(buffer);
        this.pump();
      });
  }

  /**
   * One batch: its frames letterboxed into `buffer` (the letterbox stage: the next batch may
   * gather into another buffer as soon as this one leaves it), then inferred in its turn.
   */
  private async run(batch: DetectCamera[], buffer: DeviceBatchHandle | null): Promise<void> {
    const startUs = monoNowUs();
    this.gathering = true;
    let frames: Taken[];
    try {
      frames = await this.letterboxAll(batch, buffer);
    } finally {
      this.gathering = false;
    }
    const turn = this.inferTail;
    let done!: () => void;
    this.inferTail = new Promise<void>((r) => (done = r));
    this.pump();
    try {
      await turn;
      if (frames.length) await this.infer(frames, buffer, startUs);
    } finally {
      done();
    }
  }

  /** Letterboxes each camera's newest frame into its slot; the frames taken (their skipped ones are dropped now). */
  private async letterboxAll(batch: DetectCamera[], buffer: DeviceBatchHandle | null): Promise<Taken[]> {
    const target = (i: number): LetterboxTarget =>
      buffer ? { batch: buffer, slot: i } : this.input.subarray(i * this.frameLen, (i + 1) * this.frameLen);
    // A letterbox that throws at once (a closed camera) settles like one that rejects.
    const got = await Promise.all(
      batch.map((cam, i) =>
        Promise.resolve()
          .then(() => cam.source.letterbox(target(i), this.size, this.norm, cam.ledger.doneSeq + 1))
          .catch((err: unknown) => err as Error),
      ),
    );
    // Frames that left their pool (a new session) get no slot: in a host tensor the ones after
    // them move up; in a GPU batch their slot runs along and its result is dropped.
    const frames: Taken[] = [];
    got.forEach((lb, i) => {
      const cam = batch[i] as DetectCamera;
      if (lb instanceof Error || !lb || this.closed) {
        if (lb instanceof Error) this.failed(cam, lb);
        else cam.ledger.drop(cam.newestSeq, 'gone', true); // the newer frame is gone (new session): wait for the next
        cam.ledger.waitReason = 'behind';
        return;
      }
      cam.ledger.take(lb.seq); // the frames it skipped are dropped for why they waited
      let slot = i;
      if (!buffer) {
        slot = frames.length;
        if (slot !== i) this.input.copyWithin(slot * this.frameLen, i * this.frameLen, (i + 1) * this.frameLen);
      }
      frames.push({ cam, lb, slot });
    });
    return frames;
  }

  private async infer(frames: Taken[], buffer: DeviceBatchHandle | null, startUs: number): Promise<void> {
    try {
      const t0 = performance.now();
      const delay = Math.max(...frames.map((f) => f.cam.opts.inferDelayMs));
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const model: { inferredUs?: number } = {};
      const box = (lb: LetterboxResult): Letterbox => ({
        scale: lb.scale,
        padX: lb.padX,
        padY: lb.padY,
        srcWidth: lb.width,
        srcHeight: lb.height,
        size: this.size,
      });
      const slots = (frames[frames.length - 1] as Taken).slot + 1;
      const boxes: Letterbox[] = Array.from({ length: slots }, () => box((frames[0] as Taken).lb));
      for (const f of frames) boxes[f.slot] = box(f.lb);
      const found = await this.detector.detectBatch(
        buffer ?? this.input.subarray(0, slots * this.frameLen),
        boxes,
        model,
      );
      const postprocessedUs = monoNowUs();
      const inferredUs = model.inferredUs ?? postprocessedUs;
      const ms = performance.now() - t0;
      for (const { cam, lb, slot } of frames)
        this.finish(cam, lb, found[slot] ?? [], { startUs, inferredUs, postprocessedUs, ms });
    } catch (err) {
      for (const { cam } of frames) this.failed(cam, err as Error, 1);
    }
  }

  /** The detector failed on the camera: its `taken` frames in the batch and those waiting are dropped. */
  private failed(cam: DetectCamera, err: Error, taken = 0): void {
    this.progress.failed(err.message, performance.now());
    if (this.cams.get(cam.id) !== cam) return;
    cam.failed(err.message, taken);
    this.log.error({ camera: cam.id, err: err.message }, 'detection failed');
  }

  /** One frame of a batch is done: its counters, service time, budget, and its event. */
  private finish(
    cam: DetectCamera,
    lb: LetterboxResult,
    detections: Detection[],
    t: { startUs: number; inferredUs: number; postprocessedUs: number; ms: number },
  ): void {
    this.progress.detected();
    // Closed (the daemon stops: its events are already closed), or the camera removed or
    // replaced by a reload while its batch ran: the result goes nowhere.
    if (this.closed || this.cams.get(cam.id) !== cam) return;
    cam.policy.served((t.postprocessedUs - t.startUs) / 1000, (lb.decodedUs - lb.recvUs) / 1000);
    cam.stats.inferred(lb.seq, detections, t.ms, performance.now());
    const ev: DetectionEvent = {
      camera: cam.id,
      seq: lb.seq,
      ptsUs: lb.ptsUs,
      width: lb.width,
      height: lb.height,
      stamps: {
        recvUs: lb.recvUs,
        decodedUs: lb.decodedUs,
        preprocessedUs: lb.doneUs,
        inferredUs: t.inferredUs,
        postprocessedUs: t.postprocessedUs,
      },
      detections,
    };
    this.emit('detections', ev);
    const change = cam.policy.observe(
      (t.postprocessedUs - lb.recvUs) / 1000,
      performance.now(),
      cam.ledger.policyDrops(),
    );
    if (change) this.emit('budget', change);
  }
}
