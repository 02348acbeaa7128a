import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import type { CameraDetectStats, DetectionEvent } from '../../src/detect/DetectionService.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import { api, cameraHealth, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { Viewer } from '../helpers/viewer.js';

let running: Daemon | null = null;
let viewer: Viewer | null = null;
let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264'); // vtest.avi as H.264, 10 fps, played in real time
  fp32OnnxPath();
}, 300_000);

afterEach(async () => {
  viewer?.close();
  viewer = null;
  await running?.close();
  running = null;
});

const detectStats = async (url: string, id: string) =>
  (await cameraHealth(url, id)) as unknown as { detect: CameraDetectStats };

describe('latency budgets', () => {
  it('a slowed inference stage breaches the budget; newest-wins then holds it by dropping stale frames, every frame accounted for', async () => {
    const budget = { policy: 'newest_wins', breach_frames: 3, recover_frames: 8, hold_seconds: 600 };
    const { daemon, url, token } = await startDaemon(
      [{ id: 'slow', url: h264, loop: true, budget_ms: 300, budget, testing: { infer_delay_ms: 400 } }],
      { detect: { enabled: true } },
    );
    running = daemon;
    const totals: number[] = [];
    daemon.on('detections', (ev: DetectionEvent, emittedUs: number) =>
      totals.push((emittedUs - ev.stamps.recvUs) / 1000),
    );
    viewer = new Viewer(url, token);
    await viewer.hello();
    viewer.send({ type: 'subscribe', camera: 'slow', video: false, detections: true });

    // 1. Inference alone (400 ms + the model) is longer than the budget: a breach, published,
    //    stored and counted. Dropping cannot help here, so the policy drops nothing yet.
    const breach = (await viewer.next('budget', 0, 30_000)).event;
    expect(breach).toMatchObject({
      camera: 'slow',
      kind: 'breach',
      budgetMs: 300,
      policy: 'newest_wins',
      durationMs: null,
    });
    expect(breach.latencyMs).toBeGreaterThan(300);
    const stored = (await (await api(url, '/api/budget-events?camera=slow')).json()) as {
      events: Array<Record<string, unknown>>;
    };
    expect(stored.events[0]).toMatchObject({
      camera: 'slow',
      kind: 'breach',
      budgetMs: 300,
      policy: 'newest_wins',
      latencyMs: breach.latencyMs,
    });
    const metrics = await (await api(url, '/metrics')).text();
    expect(metrics).toContain('vigil_budget_events_total{camera="slow",kind="breach"} 1');
    expect(metrics).toContain('vigil_budget_breached{camera="slow"} 1');
    expect((await detectStats(url, 'slow')).detect.dropReasons.stale).toBe(0);

    // 2. Slowed to 220 ms: a fresh frame makes the budget, one that waited up to a frame
    //    interval (100 ms) may not. The engaged policy drops those and takes the next one.
    const frames = { n: 0 };
    daemon.cameras.get('slow')!.on('frame', () => frames.n++);
    const before = (await detectStats(url, 'slow')).detect;
    daemon.detection!.setInferDelay('slow', 220);
    const from = totals.length + 5; // the expected service time follows the last 4 frames
    const jsonFrom = viewer.json.length;
    const recovered = (await viewer.next('budget', jsonFrom, 30_000)).event;
    expect(recovered).toMatchObject({ camera: 'slow', kind: 'recovered', budgetMs: 300 });
    expect(recovered.latencyMs).toBeLessThanOrEqual(300);
    expect(recovered.dropped).toBeGreaterThan(0);
    await waitFor(() => totals.length >= from + 20, 30_000, '20 more detected frames');
    const after = (await detectStats(url, 'slow')).detect;
    const counted = frames.n;

    const held = totals.slice(from);
    const within = held.filter((ms) => ms <= 300).length / held.length;
    expect(
      within,
      `share of ${held.length} frames within 300 ms: ${held.map(Math.round).join(' ')}`,
    ).toBeGreaterThanOrEqual(0.9);
    expect(after.dropReasons.stale - before.dropReasons.stale).toBeGreaterThan(0);
    // Every decoded frame was inferred, counted as dropped, or is still waiting (± a frame or
    // two decoded between this test's count and the API's answer).
    const fates =
      after.framesInferred -
      before.framesInferred +
      (after.dropped - before.dropped) +
      (after.pending - before.pending);
    expect(
      Math.abs(counted - fates),
      `${counted} frames decoded, ${fates} inferred, dropped or waiting`,
    ).toBeLessThanOrEqual(2);
    expect(after.dropped).toBe(Object.values(after.dropReasons).reduce((a, b) => a + b, 0));
    expect(after.budget).toMatchObject({ ms: 300, policy: 'newest_wins', state: 'ok', engaged: true, breaches: 1 });
    const events = (await (await api(url, '/api/budget-events?camera=slow&limit=10')).json()) as {
      events: Array<{ kind: string }>;
    };
    expect(events.events.map((e) => e.kind)).toEqual(['recovered', 'breach']);
  }, 120_000);

  it('alarm_only: the same slowed stage without a policy overruns the budget often; events only, nothing dropped by policy', async () => {
    const { daemon, url } = await startDaemon(
      [
        {
          id: 'alarm',
          url: h264,
          loop: true,
          budget_ms: 300,
          budget: { policy: 'alarm_only', breach_frames: 1, recover_frames: 1 },
          testing: { infer_delay_ms: 220 },
        },
      ],
      { detect: { enabled: true } },
    );
    running = daemon;
    const totals: number[] = [];
    const kinds: string[] = [];
    daemon.on('detections', (ev: DetectionEvent, emittedUs: number) =>
      totals.push((emittedUs - ev.stamps.recvUs) / 1000),
    );
    daemon.on('budget', (ev: { kind: string }) => kinds.push(ev.kind));
    await waitFor(() => totals.length >= 30, 60_000, '30 detected frames');
    const within = totals.slice(5).filter((ms) => ms <= 300).length / (totals.length - 5);
    expect(within, 'without the policy a frame that waited misses the budget').toBeLessThan(0.9);
    expect(kinds[0]).toBe('breach');
    const s = (await detectStats(url, 'alarm')).detect;
    expect(s.dropReasons.stale + s.dropReasons.every_nth).toBe(0);
    expect(s.budget?.breaches).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('every_nth infers one frame in N while breached; target_fps caps a camera; both counted as drops', async () => {
    const { daemon, url } = await startDaemon(
      [
        {
          id: 'nth',
          url: h264,
          loop: true,
          budget_ms: 50,
          budget: { policy: 'every_nth', every_nth: 4, breach_frames: 2 },
          testing: { infer_delay_ms: 80 },
        },
        { id: 'capped', url: h264, loop: true, target_fps: 2 },
      ],
      { detect: { enabled: true } },
    );
    running = daemon;
    const seqs = { nth: [] as number[], capped: [] as number[] };
    const breachAt: number[] = [];
    daemon.on('budget', () => breachAt.push(seqs.nth.length));
    daemon.on('detections', (ev: DetectionEvent) => seqs[ev.camera as keyof typeof seqs].push(ev.seq));
    await waitFor(
      () => breachAt.length > 0 && seqs.nth.length >= breachAt[0]! + 12,
      60_000,
      'a breach and 12 frames after it',
    );
    const engaged = seqs.nth.slice(breachAt[0]!);
    const gaps = engaged.slice(1).map((s, i) => s - engaged[i]!);
    expect(Math.min(...gaps), `gaps ${gaps.join(' ')}`).toBeGreaterThanOrEqual(4);
    const nth = (await detectStats(url, 'nth')).detect;
    expect(nth.dropReasons.every_nth).toBeGreaterThan(0);
    expect(nth.budget).toMatchObject({ policy: 'every_nth', state: 'breach', engaged: true });

    const capped = (await detectStats(url, 'capped')).detect;
    expect(capped.dropReasons.fps).toBeGreaterThan(0);
    expect(capped.fps).toBeGreaterThan(1);
    expect(capped.fps).toBeLessThanOrEqual(2.2);
    expect(capped.budget).toBeNull();
    const metrics = await (await api(url, '/metrics')).text();
    expect(metrics).toMatch(/vigil_detect_dropped_total\{camera="capped",reason="fps"\} [1-9]/);
    expect(metrics).toMatch(/vigil_detect_dropped_total\{camera="nth",reason="every_nth"\} [1-9]/);
  }, 120_000);

  it('rejects a bad budget config with the field named', async () => {
    await expect(startDaemon([{ id: 'x', url: h264, budget_ms: 0 }])).rejects.toThrow(/budget_ms/);
    await expect(startDaemon([{ id: 'x', url: h264, budget_ms: 100, budget: { policy: 'fastest' } }])).rejects.toThrow(
      /budget\.policy/,
    );
  });
});
