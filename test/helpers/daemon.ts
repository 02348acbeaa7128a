import { validateConfig } from '../../src/config/loadConfig.js';
import { Daemon } from '../../src/daemon/Daemon.js';
import type { CameraHealth } from '../../src/pipeline/CameraSupervisor.js';
import { createLogger } from '../../src/util/logger.js';

/** Fast-reacting camera settings for fault tests. */
export const FAST = {
  timeout_ms: 2000,
  stall_seconds: 2,
  backoff: { initial_ms: 200, max_ms: 1000, multiplier: 2, jitter: 0.2 },
};

/**
 * A real daemon (real addon, real HTTP server on an ephemeral loopback port). The detector is
 * off unless `extra.detect` turns it on: fault tests time reconnects, and 2 cores are few.
 */
export async function startDaemon(
  cameras: Array<Record<string, unknown>>,
  extra: Record<string, unknown> = {},
): Promise<{ daemon: Daemon; url: string }> {
  const config = validateConfig(
    { server: { host: '127.0.0.1', port: 0 }, log: { level: 'silent' }, detect: { enabled: false }, cameras, ...extra },
    'test',
  );
  const daemon = new Daemon(config, createLogger('silent'));
  const url = await daemon.start();
  return { daemon, url };
}

export async function health(url: string): Promise<{ status: string; cameras: CameraHealth[] }> {
  const res = await fetch(`${url}/api/health`);
  if (!res.ok) throw new Error(`/api/health answered ${res.status}`);
  return (await res.json()) as { status: string; cameras: CameraHealth[] };
}

export async function cameraHealth(url: string, id: string): Promise<CameraHealth> {
  const cam = (await health(url)).cameras.find((c) => c.id === id);
  if (!cam) throw new Error(`no camera ${id} in /api/health`);
  return cam;
}

/** Polls `pred` every 50 ms; resolves with the elapsed ms, rejects after `timeoutMs`. */
export async function waitFor(pred: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (await pred()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
