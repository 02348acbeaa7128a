import { describe, expect, it } from 'vitest';

import type { Detection } from '../../src/detect/Detection.js';
import {
  DetectionService,
  type DetectionEvent,
  type Detector,
  type FrameSource,
} from '../../src/detect/DetectionService.js';
import type { Letterbox } from '../../src/detect/letterbox.js';
import type { DeviceBatchHandle, LetterboxResult, LetterboxTarget } from '../../src/native/types.js';
import { createLogger } from '../../src/util/logger.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NORM = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number], bgr: false };

/** A camera's pool as the service sees it: letterbox() takes the newest frame at or after minSeq, after `ms`, into its target. */
class TimedSource implements FrameSource {
  newest = 0;
  readonly writes: Array<{ batch: DeviceBatchHandle; startMs: number; endMs: number }> = [];
  constructor(private readonly ms: number) {}
  async letterbox(dst: LetterboxTarget, _size: number, _norm: unknown, minSeq = 0): Promise<LetterboxResult | null> {
    const startMs = performance.now();
    await sleep(this.ms);
    if (dst instanceof Float32Array) throw new Error('expected a GPU input batch');
    this.writes.push({ batch: dst.batch, startMs, endMs: performance.now() });
    const seq = this.newest;
    if (seq < minSeq) return null;
    return {
      seq,
      ptsUs: seq * 33_333,
      recvUs: 1,
      decodedUs: 2,
      width: 64,
      height: 64,
      scale: 1,
      padX: 0,
      padY: 0,
      startUs: 3,
      doneUs: 4,
    };
  }
}

/** A GPU detector with two input batches; each batch takes `ms`, and says which input it read and when. */
class TimedDetector implements Detector {
  readonly maxBatch = 4;
  readonly deviceInputs = [{ id: 'A' }, { id: 'B' }] as unknown as DeviceBatchHandle[];
  readonly runs: Array<{ input: DeviceBatchHandle; startMs: number; endMs: number }> = [];
  running = 0;
  maxRunning = 0;
  constructor(private readonly ms: number) {}
  async detectBatch(input: Float32Array | DeviceBatchHandle, boxes: Letterbox[]): Promise<Detection[][]> {
    if (input instanceof Float32Array) throw new Error('expected a GPU input batch');
    const startMs = performance.now();
    this.maxRunning = Math.max(this.maxRunning, ++this.running);
    await sleep(this.ms);
    this.running--;
    this.runs.push({ input, startMs, endMs: performance.now() });
    return boxes.map(() => []);
  }
}

describe('DetectionService with two GPU input batches', () => {
  it('letterboxes the next batch while one is inferred, one inference at a time, in order, every frame accounted for', async () => {
    const detector = new TimedDetector(25);
    const service = new DetectionService(detector, 64, NORM, createLogger('silent'), { maxSize: 4, timeoutMs: 0 });
    const sources = [0, 1, 2, 3, 4, 5].map(() => new TimedSource(10));
    sources.forEach((s, i) => service.addCamera(`cam${i}`, s));
    const seen = new Map<string, number[]>();
    service.on('detections', (ev: DetectionEvent) => seen.set(ev.camera, [...(seen.get(ev.camera) ?? []), ev.seq]));

    // 6 cameras at ~100 frames/s for 0.6 s: more than one batch of 4 can keep up with serially.
    for (let seq = 1; seq <= 60; seq++) {
      sources.forEach((s, i) => {
        s.newest = seq;
        service.frame(`cam${i}`, seq, 1, seq * 10_000);
      });
      await sleep(10);
    }
    await sleep(300);
    service.close();

    expect(detector.runs.length).toBeGreaterThan(4);
    expect(detector.maxRunning).toBe(1);
    // Overlap: some letterbox ran while a batch was being inferred, into the other input.
    const writes = sources.flatMap((s) => s.writes);
    const overlapped = writes.filter((w) =>
      detector.runs.some((r) => w.startMs < r.endMs - 1 && w.endMs > r.startMs + 1),
    );
    expect(overlapped.length).toBeGreaterThan(0);
    for (const w of overlapped) {
      const during = detector.runs.filter((r) => w.startMs < r.endMs - 1 && w.endMs > r.startMs + 1);
      for (const r of during) expect(r.input).not.toBe(w.batch);
    }
    for (const [i, s] of sources.entries()) {
      const seqs = seen.get(`cam${i}`) ?? [];
      expect(seqs.length).toBeGreaterThan(2);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs); // in order
      expect(new Set(seqs).size).toBe(seqs.length); // never a frame twice
      const st = service.stats(`cam${i}`)!;
      expect(st.framesInferred).toBe(seqs.length);
      expect(st.framesInferred + st.dropped + st.pending).toBe(s.newest); // every frame inferred, dropped (with why) or waiting
      expect(st.dropped).toBe(st.dropReasons.behind);
    }
  });
});
