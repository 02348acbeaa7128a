import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import type { BatchEvent, BatchStats, DetectionEvent } from '../../src/detect/DetectionService.js';
import { fp32OnnxPath } from '../../src/detect/model/importModel.js';
import { api, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { RtspServer } from '../helpers/rtspServer.js';

let running: Daemon | null = null;
const servers: RtspServer[] = [];
let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264');  // vtest.avi as H.264, 10 fps: a frame every 100 ms
  fp32OnnxPath();
}, 300_000);

afterEach(async () => {
  await running?.close();
  running = null;
  for (const s of servers.splice(0)) await s.stop();
});

const TIMEOUT_MS = 400;

describe('cross-camera batching', () => {
  it('one inference takes a frame of every camera; a stalled camera never holds the others back', async () => {
    // Cameras a and c on one RTSP server, b on its own so that it alone can be frozen.
    const ac = await RtspServer.start({ live: { file: h264, codec: 'h264' } });
    const b = await RtspServer.start({ live: { file: h264, codec: 'h264' } });
    servers.push(ac, b);
    const { daemon, url } = await startDaemon(
      [{ id: 'a', url: ac.url('live') }, { id: 'b', url: b.url('live') }, { id: 'c', url: ac.url('live') }],
      { detect: { enabled: true, batch: { max_size: 3, timeout_ms: TIMEOUT_MS } } },
    );
    running = daemon;
    const batches: Array<BatchEvent & { at: number }> = [];
    const detections: Array<DetectionEvent & { at: number }> = [];
    await waitFor(() => daemon.detection !== null, 30_000, 'the detector');
    daemon.detection!.on('batch', (ev: BatchEvent) => batches.push({ ...ev, at: performance.now() }));
    daemon.on('detections', (ev: DetectionEvent) => detections.push({ ...ev, at: performance.now() }));

    // 1. All three streaming at 10 fps, the detector faster than that: each batch waits for
    //    the cameras whose frames are due and takes one frame of each.
    await waitFor(() => new Set(batches.flatMap((x) => x.cameras)).size === 3, 30_000, 'batches from all three cameras');
    const steady = batches.length;
    await waitFor(() => batches.length >= steady + 20, 30_000, '20 more batches');
    const phase1 = batches.slice(steady, steady + 20);
    const mean1 = phase1.reduce((s, x) => s + x.cameras.length, 0) / phase1.length;
    expect(mean1).toBeGreaterThanOrEqual(2.5);
    expect(phase1.filter((x) => x.cameras.length === 3).length).toBeGreaterThanOrEqual(14);
    for (const x of phase1) expect(x.waitMs).toBeLessThan(TIMEOUT_MS);

    // 2. Camera b stalls: its server freezes, the connection stays open, nothing arrives (the
    //    supervisor has not given up on it yet: its stall timeout is longer). Batches go with
    //    a and c as soon as both have a frame; none waits out the timeout for b.
    b.pause();
    const pausedAt = performance.now();
    await new Promise((r) => setTimeout(r, 4000));
    const during = batches.filter((x) => x.at > pausedAt + 300);  // b's frames in flight have landed
    expect(during.length).toBeGreaterThanOrEqual(25);
    expect(during.every((x) => !x.cameras.includes('b'))).toBe(true);
    expect(during.filter((x) => x.launch === 'timeout')).toEqual([]);
    const waits = during.map((x) => x.waitMs).sort((p, q) => p - q);
    expect(waits[Math.floor(waits.length * 0.9)]).toBeLessThan(120);  // at most a frame interval's phase gap
    expect(Math.max(...waits)).toBeLessThan(TIMEOUT_MS / 2);
    for (const id of ['a', 'c']) {
      const got = detections.filter((d) => d.camera === id && d.at > pausedAt + 300);
      expect(got.length, `camera ${id} detections while b stalled`).toBeGreaterThanOrEqual(30);  // ~37 at 10 fps
    }

    // 3. b comes back: batches take its frames again.
    b.resume();
    const resumedAt = performance.now();
    await waitFor(() => batches.some((x) => x.at > resumedAt && x.cameras.length === 3), 30_000, 'a batch of all three again');

    // What /api/health and /metrics say about it (batches seen before asking: more launch while the answer is on its way).
    const seen = batches.length;
    const health = (await (await api(url, '/api/health')).json()) as { detector: { batch: BatchStats } };
    expect(health.detector.batch).toMatchObject({ maxSize: 3, timeoutMs: TIMEOUT_MS });
    expect(health.detector.batch.batches).toBeGreaterThanOrEqual(seen);
    expect(health.detector.batch.meanSize).toBeGreaterThan(1.5);
    const metrics = await (await api(url, '/metrics')).text();
    expect(metrics).toMatch(/vigil_detect_batches_total\{launch="full"\} [1-9]/);
    expect(metrics).toMatch(/vigil_detect_batch_frames_total [1-9]/);
  }, 150_000);
});
