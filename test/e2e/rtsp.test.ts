import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { clipDir } from '../../src/cli/demoClips.js';
import type { Daemon } from '../../src/daemon/Daemon.js';
import type { CameraState } from '../../src/pipeline/CameraSupervisor.js';
import { api, cameraHealth, FAST, health, startDaemon, waitFor } from '../helpers/daemon.js';
import { corruptH264Clip, ensureClip } from '../helpers/fixtures.js';
import { RtspServer } from '../helpers/rtspServer.js';

let serverA: RtspServer;
let serverB: RtspServer;
let secured: RtspServer;
let running: Daemon | null = null;

beforeAll(async () => {
  const h264 = await ensureClip('h264');
  const hevc = await ensureClip('hevc');
  const corrupt = await corruptH264Clip();
  serverA = await RtspServer.start({
    h264: { file: h264, codec: 'h264' },
    hevc: { file: hevc, codec: 'hevc' },
    corrupt: { file: corrupt.path, codec: 'h264' },
  });
  serverB = await RtspServer.start({ h264: { file: h264, codec: 'h264' } });
  secured = await RtspServer.start({ cam: { file: h264, codec: 'h264' } }, { auth: 'viewer:s3cret' });
}, 300_000);

afterAll(async () => {
  await Promise.all([serverA?.stop(), serverB?.stop(), secured?.stop()]);
});

afterEach(async () => {
  await running?.close();
  running = null;
});

async function daemonWith(cameras: Array<Record<string, unknown>>) {
  const d = await startDaemon(cameras);
  running = d.daemon;
  return d;
}

/** Every state a camera goes through from now on. */
function recordStates(daemon: Daemon, id: string): CameraState[] {
  const seen: CameraState[] = [];
  daemon.cameras.get(id)!.on('state', (s: CameraState) => seen.push(s));
  return seen;
}

const streaming = (url: string, id: string) => async () => (await cameraHealth(url, id)).state === 'streaming';
const allStreaming = (url: string) => async () => (await health(url)).cameras.every((c) => c.state === 'streaming');

describe('cameras over a real RTSP server', () => {
  it('streams H.264 (TCP) and HEVC (UDP) with credentials in the URL; bad cameras stay contained', async () => {
    const junk = join(clipDir(), 'not-video.mp4');
    writeFileSync(junk, Buffer.alloc(100_000, 7));
    const { url } = await daemonWith([
      { id: 'h264', url: serverA.url('h264'), ...FAST },
      { id: 'hevc', url: serverA.url('hevc'), transport: 'udp', ...FAST },
      { id: 'auth', url: secured.url('cam', 'viewer:s3cret'), ...FAST },
      { id: 'badpass', url: secured.url('cam', 'viewer:wrong'), ...FAST },
      { id: 'junk', url: junk, ...FAST },
    ]);
    await waitFor(
      async () => {
        const h = await health(url);
        return ['h264', 'hevc', 'auth'].every((id) => h.cameras.find((c) => c.id === id)?.state === 'streaming');
      },
      15000,
      'three cameras streaming',
    );
    await new Promise((r) => setTimeout(r, 3000)); // let the fps windows fill

    const h = await health(url);
    expect(h.status).toBe('degraded'); // two cameras are broken on purpose
    const byId = new Map(h.cameras.map((c) => [c.id, c]));
    for (const id of ['h264', 'hevc', 'auth']) {
      const c = byId.get(id)!;
      expect(c.state).toBe('streaming');
      expect(c.width).toBe(768);
      expect(c.height).toBe(576);
      expect(c.fps.decoded).toBeGreaterThan(7);
      expect(c.fps.decoded).toBeLessThan(13);
      expect(c.decoder).toMatch(/software/);
      expect(c.drops.total).toBe(0);
    }
    expect(byId.get('h264')!.codec).toBe('h264');
    expect(byId.get('hevc')!.codec).toBe('hevc');
    const bad = byId.get('badpass')!;
    expect(['backoff', 'connecting']).toContain(bad.state);
    expect(bad.lastError?.message).toMatch(/401/);
    expect(bad.url).toBe(secured.url('cam', 'viewer:***'));
    expect(JSON.stringify(h)).not.toContain('s3cret');
    expect(byId.get('junk')!.lastError?.message).toMatch(/cannot open input|stream info/);

    const snap = await api(url, `/api/cameras/hevc/snapshot.jpg`);
    expect(snap.status).toBe(200);
    expect(snap.headers.get('content-type')).toBe('image/jpeg');
    const jpeg = Buffer.from(await snap.arrayBuffer());
    expect(jpeg.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    expect((await api(url, `/api/cameras/nope/snapshot.jpg`)).status).toBe(404);
    const q = await api(url, `/api/cameras/h264/snapshot.jpg?quality=500`);
    expect(q.status).toBe(400);
    expect(((await q.json()) as { message: string }).message).toBe(
      "Expected an integer between 1 and 100 for quality but received '500'",
    );
    expect((await api(url, `/api/cameras/badpass/snapshot.jpg`)).status).toBe(503);

    const metrics = await (await api(url, `/metrics`)).text();
    const decoded = /vigil_camera_frames_decoded_total\{camera="hevc"\} (\d+)/.exec(metrics);
    expect(Number(decoded?.[1])).toBeGreaterThan(20);
    expect(metrics).toMatch(/vigil_camera_state\{camera="h264",state="streaming"\} 1/);
    expect(metrics).toMatch(/vigil_process_resident_memory_bytes/);
  });

  it('reconnects within 5 s of a killed server coming back; other cameras unaffected', async () => {
    const { daemon, url } = await daemonWith([
      { id: 'victim', url: serverA.url('h264'), ...FAST },
      { id: 'bystander', url: serverB.url('h264'), ...FAST },
    ]);
    await waitFor(allStreaming(url), 15000, 'both streaming');
    const bystanderStates = recordStates(daemon, 'bystander');
    const before = await cameraHealth(url, 'bystander');
    const t0 = performance.now();

    await serverA.kill();
    await waitFor(async () => (await cameraHealth(url, 'victim')).state !== 'streaming', 5000, 'victim to notice');
    await new Promise((r) => setTimeout(r, 3000)); // down for a while: attempts are refused
    const down = await cameraHealth(url, 'victim');
    expect(down.state).not.toBe('streaming');
    expect(down.lastError).not.toBeNull();

    await serverA.restart();
    const reconnectMs = await waitFor(streaming(url, 'victim'), 5000, 'victim to stream again');
    expect(reconnectMs).toBeLessThan(5000);
    expect((await cameraHealth(url, 'victim')).reconnects).toBeGreaterThanOrEqual(1);

    const after = await cameraHealth(url, 'bystander');
    const seconds = (performance.now() - t0) / 1000;
    expect(bystanderStates).toEqual([]);
    expect(after.reconnects).toBe(0);
    expect((after.frames.decoded - before.frames.decoded) / seconds).toBeGreaterThan(8);
    console.log(`reconnect after server restart: ${reconnectMs.toFixed(0)} ms`);
  });

  it('detects a stalled server, and resumes within 5 s of it answering again', async () => {
    const { daemon, url } = await daemonWith([
      { id: 'frozen', url: serverA.url('hevc'), ...FAST },
      { id: 'bystander', url: serverB.url('h264'), ...FAST },
    ]);
    await waitFor(allStreaming(url), 15000, 'both streaming');
    const states = recordStates(daemon, 'frozen');
    const bystanderStates = recordStates(daemon, 'bystander');

    serverA.pause();
    try {
      await waitFor(() => states.includes('stalled'), 6000, 'a stall');
      const during = await cameraHealth(url, 'frozen');
      expect(during.lastError?.message).toMatch(/no frame for [\d.]+ s|no data from the source/);
      await new Promise((r) => setTimeout(r, 3000));
      expect((await cameraHealth(url, 'frozen')).state).not.toBe('streaming');
    } finally {
      serverA.resume();
    }
    const resumeMs = await waitFor(streaming(url, 'frozen'), 5000, 'frozen camera to stream again');
    expect(resumeMs).toBeLessThan(5000);
    expect(states.slice(0, 2)).toEqual(['stalled', 'backoff']);
    expect(bystanderStates).toEqual([]);
    console.log(`resume after stall: ${resumeMs.toFixed(0)} ms`);
  });

  it('keeps decoding a corrupted stream: errors counted, no crash, frames keep coming', async () => {
    const { url } = await daemonWith([
      { id: 'corrupt', url: serverA.url('corrupt'), ...FAST, stall_seconds: 5 },
      { id: 'clean', url: serverB.url('h264'), ...FAST },
    ]);
    await waitFor(streaming(url, 'corrupt'), 15000, 'corrupt camera streaming');
    await waitFor(
      async () => {
        const c = await cameraHealth(url, 'corrupt');
        return c.decodeErrors + c.corruptFrames > 5;
      },
      20000,
      'decode errors to be counted',
    );
    const mid = await cameraHealth(url, 'corrupt');
    await new Promise((r) => setTimeout(r, 2000));
    const end = await cameraHealth(url, 'corrupt');
    expect(end.state).toBe('streaming');
    expect(end.decodeErrors + end.corruptFrames).toBeGreaterThan(mid.decodeErrors + mid.corruptFrames);
    expect(end.frames.decoded - mid.frames.decoded).toBeGreaterThan(12); // ~20 expected in 2 s
    expect(end.lastError?.stage).toBe('decode');
    expect((await cameraHealth(url, 'clean')).state).toBe('streaming');
  });
});
