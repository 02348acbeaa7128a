import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import type { BatchEvent, BatchStats, DetectionEvent } from '../../src/detect/DetectionService.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import { api, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { RtspServer } from '../helpers/rtspServer.js';

let running: Daemon | null = null;
const servers: RtspServer[] = [];
let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264'); // vtest.avi as H.264, 10 fps: a frame every 100 ms
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
      [
        { id: 'a', url: ac.url('live') },
        { id: 'b', url: b.url('live'), stall_seconds: 120, timeout_ms: 120_000 },
        { id: 'c', url: ac.url('live') },
      ],
      { detect: { enabled: true, batch: { max_size: 3, timeout_ms: TIMEOUT_MS } } },
    );
    running = daemon;
    const batches: Array<BatchEvent & { at: number }> = [];
    const detections: Array<DetectionEvent & { at: number }> = [];
    await waitFor(() => daemon.detection !== null, 30_000, 'the detector');
    daemon.detection!.on('batch', (ev: BatchEvent) => batches.push({ ...ev, at: performance.now() }));
    daemon.on('detections', (ev: DetectionEvent) => detections.push({ ...ev, at: performance.now() }));

    // What every batch is, however fast this machine is: one frame each of up to max_size
    // distinct cameras.
    const wellFormed = (x: BatchEvent) =>
      x.cameras.length >= 1 && x.cameras.length <= 3 && new Set(x.cameras).size === x.cameras.length;

    // 1. All three streaming at 10 fps: batches take the frames of several cameras at once,
    //    full ones (a frame of every camera) among them.
    await waitFor(
      () => new Set(batches.flatMap((x) => x.cameras)).size === 3,
      30_000,
      'batches from all three cameras',
    );
    const steady = batches.length;
    await waitFor(() => batches.length >= steady + 20, 60_000, '20 more batches');
    const phase1 = batches.slice(steady, steady + 20);
    expect(phase1.filter((x) => !wellFormed(x))).toEqual([]);
    // Mostly multi-camera: batching every frame alone (the failure this guards) makes none.
    expect(
      phase1.filter((x) => x.cameras.length > 1).length,
      JSON.stringify(phase1.map((x) => x.cameras.length)),
    ).toBeGreaterThan(10);
    await waitFor(
      () => batches.slice(steady).some((x) => x.cameras.length === 3 && x.launch === 'full'),
      60_000,
      'a full batch of all three cameras',
    );

    // 2. Camera b stalls: its server freezes, the connection stays open, nothing arrives (the
    //    supervisor does not give up on it: its stall timeout is longer than this test). Batches
    //    go with a and c; they do not wait out the timeout for b (if they did, every one would).
    b.pause();
    const pausedAt = performance.now();
    // b's frames already on their way land first; from the first batch without b, b is gone.
    let from = -1;
    await waitFor(
      () => (from = batches.findIndex((x) => x.at > pausedAt + 1000 && !x.cameras.includes('b'))) >= 0,
      30_000,
      'a batch without b',
    );
    const fromAt = batches[from]!.at;
    await waitFor(() => batches.length >= from + 15, 60_000, '15 batches while b is stalled');
    const during = batches.slice(from, from + 15);
    expect(during.filter((x) => x.cameras.includes('b'))).toEqual([]);
    expect(during.filter((x) => !wellFormed(x))).toEqual([]);
    expect(
      during.filter((x) => x.launch === 'timeout').length,
      JSON.stringify(during.map((x) => [x.launch, Math.round(x.waitMs)])),
    ).toBeLessThan(during.length / 2);
    expect(during.some((x) => x.cameras.length === 2)).toBe(true); // a and c together
    for (const id of ['a', 'c']) {
      await waitFor(
        () => detections.filter((d) => d.camera === id && d.at > fromAt).length >= 10,
        60_000,
        `camera ${id} detections while b stalled`,
      );
    }
    expect(daemon.cameras.get('b')!.state).toBe('streaming'); // stalled, not given up on

    // 3. b comes back: batches take its frames again.
    b.resume();
    const resumedAt = performance.now();
    await waitFor(
      () => batches.some((x) => x.at > resumedAt && x.cameras.length === 3),
      30_000,
      'a batch of all three again',
    );
    expect(batches.filter((x) => !wellFormed(x))).toEqual([]);

    // What /api/health and /metrics say about it (batches seen before asking: more launch while the answer is on its way).
    const seen = batches.length;
    const health = (await (await api(url, '/api/health')).json()) as { detector: { batch: BatchStats } };
    expect(health.detector.batch).toMatchObject({ maxSize: 3, timeoutMs: TIMEOUT_MS });
    expect(health.detector.batch.batches).toBeGreaterThanOrEqual(seen);
    expect(health.detector.batch.meanSize).toBeGreaterThan(1); // batches combine cameras
    const metrics = await (await api(url, '/metrics')).text();
    expect(metrics).toMatch(/vigil_detect_batches_total\{launch="full"\} [1-9]/);
    expect(metrics).toMatch(/vigil_detect_batch_frames_total [1-9]/);
  }, 150_000);
});
