import { validateConfig } from '../../src/config/loadConfig.js';
import { Daemon } from '../../src/daemon/Daemon.js';
import type { CameraHealth } from '../../src/pipeline/CameraSupervisor.js';
import { createLogger } from '../../src/util/logger.js';
import { tempDir } from './tempDir.js';

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
): Promise<{ daemon: Daemon; url: string; token: string }> {
  const config = validateConfig(
    {
      server: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      detect: { enabled: false },
      data_dir: tempDir('vigil-state-'), // removed after the test file (still readable once the daemon stops)
      auth: { admin_password: ADMIN_PASSWORD },
      cameras,
      ...extra,
    },
    'test',
  );
  const daemon = new Daemon(config, createLogger('silent'));
  const url = await daemon.start();
  const token = await login(url, 'admin', ADMIN_PASSWORD);
  tokens.set(url, token);
  return { daemon, url, token };
}

export const ADMIN_PASSWORD = 'vigil-test-admin';
const tokens = new Map<string, string>();

/** Logs in through the real API; returns the bearer token. */
export async function login(url: string, user: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, password }),
  });
  if (!res.ok) throw new Error(`login as ${user} answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** fetch() as the admin of the daemon at `url` (started by startDaemon). */
export function api(url: string, path: string, init: RequestInit = {}): Promise<Response> {
  const token = tokens.get(url);
  if (!token) throw new Error(`no login for ${url}`);
  return fetch(`${url}${path}`, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
  });
}

export async function health(url: string): Promise<{ status: string; cameras: CameraHealth[] }> {
  const res = await api(url, '/api/health');
  if (!res.ok) throw new Error(`/api/health answered ${res.status}`);
  return (await res.json()) as { status: string; cameras: CameraHealth[] };
}

export async function cameraHealth(url: string, id: string): Promise<CameraHealth> {
  const cam = (await health(url)).cameras.find((c) => c.id === id);
  if (!cam) throw new Error(`no camera ${id} in /api/health`);
  return cam;
}

/** Polls `pred` every 50 ms; resolves with the elapsed ms, rejects after `timeoutMs`. */
export async function waitFor(
  pred: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (await pred()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
