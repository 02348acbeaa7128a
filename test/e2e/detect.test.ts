import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import type { DetectionEvent } from '../../src/detect/DetectionService.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import { loadAddon } from '../../src/native/addon.js';
import { api, cameraHealth, health, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';

let running: Daemon | null = null;
let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264');
  fp32OnnxPath(); // the setup step made it; fail early and clearly otherwise
}, 300_000);

afterEach(async () => {
  await running?.close();
  running = null;
});

describe('detection in the pipeline (ONNX Runtime CPU)', () => {
  it('detects the people in vtest: events with stage stamps, health and metrics', async () => {
    const { daemon, url } = await startDaemon([{ id: 'yard', url: h264, loop: true }], { detect: { enabled: true } });
    running = daemon;
    const events: DetectionEvent[] = [];
    daemon.on('detections', (ev: DetectionEvent) => events.push(ev));
    await waitFor(() => events.length >= 20, 20000, '20 detection events');

    for (const ev of events) {
      expect(ev.camera).toBe('yard');
      const s = ev.stamps;
      expect(s.recvUs).toBeLessThanOrEqual(s.decodedUs);
      expect(s.decodedUs).toBeLessThanOrEqual(s.preprocessedUs);
      expect(s.preprocessedUs).toBeLessThanOrEqual(s.inferredUs);
      expect(s.inferredUs).toBeLessThanOrEqual(s.postprocessedUs);
      for (const d of ev.detections) {
        expect(d.x1).toBeGreaterThanOrEqual(0);
        expect(d.x2).toBeLessThanOrEqual(768);
        expect(d.y2).toBeLessThanOrEqual(576);
        expect(d.x2).toBeGreaterThan(d.x1);
      }
    }
    for (let i = 1; i < events.length; i++) expect(events[i]!.seq).toBeGreaterThan(events[i - 1]!.seq);
    const people = events.map((e) => e.detections.filter((d) => d.label === 'person' && d.score > 0.5).length);
    expect(Math.max(...people)).toBeGreaterThanOrEqual(4); // vtest has several pedestrians in view

    const h = await health(url);
    expect(h).toMatchObject({ detector: { status: 'ready', backend: 'cpu' } });
    const cam = await cameraHealth(url, 'yard');
    expect(
      (cam as unknown as { detect: { framesInferred: number; lastObjects: Record<string, number> } }).detect
        .framesInferred,
    ).toBeGreaterThanOrEqual(20);
    const metrics = await (await api(url, `/metrics`)).text();
    expect(Number(/vigil_detections_total\{camera="yard",label="person"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(
      20,
    );
    expect(metrics).toMatch(/vigil_infer_seconds_count\{backend="cpu"\} \d+/);
    // Where each detected frame's time went, per stage: histograms and percentiles.
    for (const stage of ['decode', 'queue_preprocess', 'infer', 'postprocess', 'total']) {
      expect(
        Number(
          new RegExp(`vigil_frame_stage_seconds_count\\{camera="yard",stage="${stage}"\\} (\\d+)`).exec(metrics)?.[1],
        ),
      ).toBeGreaterThanOrEqual(20);
    }
    type Pcts = { p50: number; p99: number; n: number };
    const lat = (
      cam as unknown as {
        latencyMs: { decode: Pcts; total: Pcts; coldStart: { totalMs: number; openToDetectionMs: number } };
      }
    ).latencyMs;
    expect(lat.total.n).toBeGreaterThanOrEqual(19); // the first (cold) detection is kept apart
    expect(lat.total.p50).toBeGreaterThan(0);
    expect(lat.total.p99).toBeGreaterThanOrEqual(lat.total.p50);
    expect(lat.decode.p99).toBeLessThanOrEqual(lat.total.p99);
    expect(lat.coldStart.totalMs).toBeGreaterThan(0);
    expect(lat.coldStart.openToDetectionMs).toBeGreaterThan(0);
    // Inter-frame timing: vtest is 10 fps, played at its own pace.
    const timing = (cam as unknown as { latencyMs: { intervalMs: Pcts; jitterMs: number } }).latencyMs;
    expect(timing.intervalMs.p50).toBeGreaterThan(80);
    expect(timing.intervalMs.p50).toBeLessThan(120);
    expect(timing.jitterMs).toBeGreaterThanOrEqual(0);
    expect(timing.jitterMs).toBeLessThan(30);
    expect(metrics).toMatch(/vigil_frame_jitter_seconds\{camera="yard"\} [\d.e-]+/);
  });

  it('takes the newest frame when it falls behind, and counts every frame it skipped', async () => {
    // A file decoded as fast as the CPU allows: far more frames than the detector can take.
    const { daemon, url } = await startDaemon([{ id: 'flood', url: h264, realtime: false, loop: true }], {
      detect: { enabled: true },
    });
    running = daemon;
    const seqs: number[] = [];
    daemon.on('detections', (ev: DetectionEvent) => seqs.push(ev.seq));
    await waitFor(() => seqs.length >= 15, 20000, '15 detection events');
    const stats = daemon.detection!.stats('flood')!;
    expect(stats.dropped).toBeGreaterThan(100);
    // Skipped = the gaps between consecutive inferred frames, exactly.
    const gaps = seqs.slice(1).reduce((sum, s, i) => sum + (s - seqs[i]! - 1), 0);
    expect(stats.dropped).toBeGreaterThanOrEqual(gaps);
    expect(stats.dropped - gaps).toBeLessThanOrEqual(seqs[0]! + 1000); // plus whatever came before the first event
    const cam = await cameraHealth(url, 'flood');
    expect(cam.state).toBe('streaming');
  });

  it('a missing model leaves the cameras streaming and says why in /api/health', async () => {
    const { daemon, url } = await startDaemon([{ id: 'yard', url: h264, loop: true }], {
      detect: { enabled: true, model: '/nonexistent/model.onnx' },
    });
    running = daemon;
    await waitFor(async () => (await cameraHealth(url, 'yard')).state === 'streaming', 10000, 'streaming');
    const h = (await health(url)) as unknown as { status: string; detector: { status: string; reason: string } };
    expect(h.status).toBe('degraded');
    expect(h.detector.status).toBe('unavailable');
    expect(h.detector.reason).toMatch(/nonexistent\/model\.onnx/);
  });

  // What the addon says about TensorRT depends on what it was built with (a clone from a public
  // host has no TensorRT headers beside it; ../shared does): ask the addon, expect its reason.
  const trt = loadAddon().buildInfo().tensorrt;
  it.skipIf(trt.available)(
    `backend tensorrt where TensorRT cannot run (${trt.compiled ? 'compiled, libraries missing' : 'not compiled in'}): unavailable with the reason; auto: the CPU, saying why not TensorRT`,
    async () => {
      if (trt.compiled) expect(trt.reason).toMatch(/libnvinfer|libnvonnxparser|TensorRT \d+ is installed/);
      else expect(trt.reason).toMatch(/^this addon was built without the TensorRT backend/);
      const { daemon, url } = await startDaemon([{ id: 'yard', url: h264, loop: true }], {
        detect: { enabled: true, backend: 'tensorrt' },
      });
      running = daemon;
      await waitFor(async () => (await cameraHealth(url, 'yard')).state === 'streaming', 10000, 'streaming');
      const h = (await health(url)) as unknown as { detector: { status: string; backend: string; reason: string } };
      expect(h.detector).toMatchObject({ status: 'unavailable', backend: 'tensorrt' });
      expect(h.detector.reason).toBe(trt.reason);
      await daemon.close();
      const auto = await startDaemon([{ id: 'yard', url: h264, loop: true }], {
        detect: { enabled: true, backend: 'auto' },
      });
      running = auto.daemon;
      const events: DetectionEvent[] = [];
      auto.daemon.on('detections', (ev: DetectionEvent) => events.push(ev));
      await waitFor(() => events.length >= 3, 20000, 'detections on the CPU');
      const a = (await health(auto.url)) as unknown as {
        detector: { status: string; backend: string; fallback: string };
      };
      expect(a.detector).toMatchObject({ status: 'ready', backend: 'cpu' });
      expect(a.detector.fallback.startsWith(`TensorRT unavailable: ${trt.reason}`), a.detector.fallback).toBe(true);
    },
  );
});
