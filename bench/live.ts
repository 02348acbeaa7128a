// npm run bench:live — how far the browser's live view runs behind the camera: Debian's
// chromium (playwright-core) logged in to the daemon (`vigil run`, a child process) with one
// H.264 RTSP camera (detection on) from gst-rtsp-server on loopback. Every 250 ms: the pts of
// the newest fragment received minus the pts of the frame on screen. p50/p95/p99 per minute
// over LIVE_MINUTES (default 10); drift = last minute's p99 − first minute's p99. Also writes
// docs/live-view.png (the UI on real footage, boxes drawn).
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { ensureClip } from '../src/cli/demoClips.js';
import { packageRoot } from '../src/native/addon.js';
import { RtspServer } from '../test/helpers/rtspServer.js';
import { startDaemonProcess } from './daemonProcess.js';
import { percentile, writeResult } from './record.js';

const MINUTES = Number(process.env.LIVE_MINUTES ?? 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    p,
  );

interface TileState {
  player: { behindMs: number; jumps: number; rate: number } | null;
  overlay: { exact: number; held: number; empty: number; late: number };
}

const loops = Math.ceil((MINUTES * 60 + 120) / 79.5);
const clip = await ensureClip('h264', { loops });
const server = await RtspServer.start({ h264: { file: clip, codec: 'h264' } });
const daemon = await startDaemonProcess(
  `log:\n  level: warn\ndetect:\n  enabled: true\n  precision: int8\ncameras:\n  - id: lobby\n    name: Lobby (vtest.avi over RTSP)\n    url: ${server.url('h264')}\n`,
  'live',
);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 600 } });
  await page.goto(daemon.url);
  await page.fill('input[name=password]', 'vigil-bench-admin');
  await page.click('#login button');
  await page.waitForFunction(
    () =>
      ((window as unknown as { vigil: { tiles(): Record<string, { currentTime: number | null }> } }).vigil.tiles().lobby
        ?.currentTime ?? 0) > 0,
    undefined,
    { timeout: 30_000 },
  );
  await sleep(5000); // settle at the live edge
  const state = async () =>
    (await page.evaluate(
      () => (window as unknown as { vigil: { tiles(): Record<string, unknown> } }).vigil.tiles().lobby,
    )) as TileState;
  const minutes: number[][] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < MINUTES * 60_000) {
    const m = Math.floor((performance.now() - t0) / 60_000);
    (minutes[m] ??= []).push((await state()).player!.behindMs);
    await sleep(250);
  }
  const end = await state();
  await page.screenshot({ path: join(packageRoot(), 'docs', 'live-view.png'), fullPage: true });
  const all = minutes.flat();
  const perMinute = minutes.map((xs, i) => ({
    minute: i + 1,
    p50_ms: pct(xs, 50),
    p95_ms: pct(xs, 95),
    p99_ms: pct(xs, 99),
    n: xs.length,
  }));
  const drift = perMinute.at(-1)!.p99_ms - perMinute[0]!.p99_ms;
  const file = writeResult({
    bench: 'live',
    setup: `chromium ${browser.version()} (Debian, headless, playwright-core) on the daemon's own UI; vigil run (child process), 1 H.264 RTSP camera (vtest.avi 768x576 10 fps) from gst-rtsp-server on 127.0.0.1, detection on (INT8); live delay = pts of the newest fragment received − pts of the frame on screen (requestVideoFrameCallback), sampled every 250 ms for ${MINUTES} min; the player aims 200 ms behind`,
    peer: 'none: the goal is p50 ≤ 300 ms and no drift (last minute p99 within 100 ms of the first)',
    rows: [
      {
        case: 'live delay, whole run',
        p50_ms: pct(all, 50),
        p95_ms: pct(all, 95),
        p99_ms: pct(all, 99),
        n: all.length,
        unit: 'ms',
      },
      ...perMinute.map((m) => ({ case: `minute ${m.minute}`, ...m, unit: 'ms' })),
      {
        case: 'player',
        jumps: end.player!.jumps,
        rate_at_end: end.player!.rate,
        overlay_exact_frames: end.overlay.exact,
        overlay_late_frames: end.overlay.late,
        overlay_held_frames: end.overlay.held,
        overlay_empty_frames: end.overlay.empty,
        unit: 'count',
      },
    ],
    summary: {
      p50_ms: pct(all, 50),
      p99_ms: pct(all, 99),
      first_minute_p99_ms: perMinute[0]!.p99_ms,
      last_minute_p99_ms: perMinute.at(-1)!.p99_ms,
      drift_ms: drift,
      minutes: MINUTES,
    },
  });
  console.log(
    `live delay p50 ${pct(all, 50)} ms, p99 ${pct(all, 99)} ms; p99 first minute ${perMinute[0]!.p99_ms}, last ${perMinute.at(-1)!.p99_ms} (drift ${drift} ms); jumps ${end.player!.jumps}; wrote ${file}`,
  );
} finally {
  await browser.close();
  await daemon.stop();
  await server.stop();
}
