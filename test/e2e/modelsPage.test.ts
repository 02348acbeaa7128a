import { readFileSync } from 'node:fs';

import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import { shippedFiles } from '../../src/detect/ModelDetectors.js';
import { ADMIN_PASSWORD, api, login, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';

// The detector panel (#models): every model the daemon runs, and a calibrated one's report as the
// calibration wrote it; a viewer sees only the cameras it may see.
interface ShownModel {
  id: string;
  family: string;
  precision: string | null;
  cameras: string[];
  report: { method: string; int8Layers: number; keptFp32: string[] } | null;
}

let daemon: Daemon;
let url: string;
let browser: Browser;
const int8 = shippedFiles('nanodet').int8;

beforeAll(async () => {
  if (!int8) throw new Error('NanoDet has no INT8 model: scripts/setup.sh calibrates it');
  const clip = await ensureClip('h264');
  ({ daemon, url } = await startDaemon(
    [
      { id: 'yard', url: clip, loop: true },
      { id: 'street', url: clip, loop: true, model: 'centernet' },
    ],
    { detect: { enabled: true } },
  ));
  await waitFor(() => daemon.models?.models().every((m) => m.status === 'ready') ?? false, 60_000, 'both models');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.close();
});

describe('detector panel', () => {
  it("shows each model, its cameras, and the INT8 model's calibration report", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}/#models`);
    await page.fill('input[name=password]', ADMIN_PASSWORD);
    await page.click('#login button');
    await page.waitForSelector('#models:not([hidden]) .model[data-model=centernet]');
    const shown = (await page.evaluate(() =>
      (window as unknown as { vigil: { models(): unknown } }).vigil.models(),
    )) as ShownModel[];
    const calibration = JSON.parse(readFileSync(int8!.replace(/\.onnx$/, '.calibration.json'), 'utf8')) as {
      method: string;
      int8Layers: number;
      keptFp32: string[];
    };
    expect(shown.map((m) => [m.id, m.family, m.precision, m.cameras])).toEqual([
      ['nanodet', 'nanodet', 'int8', ['yard']],
      ['centernet', 'centernet', 'fp32', ['street']],
    ]);
    expect(shown[0]!.report).toMatchObject({
      method: calibration.method,
      int8Layers: calibration.int8Layers,
      keptFp32: calibration.keptFp32,
    });
    expect(shown[1]!.report).toBeNull();
    const nanodet = await page.textContent('.model[data-model=nanodet]');
    expect(nanodet).toContain(`${calibration.int8Layers} of`);
    expect(nanodet).toContain('Ranges, most clipped first');
    expect(await page.textContent('.model[data-model=centernet]')).toContain('not calibrated (FP32)');
    expect(await page.isVisible('#grid')).toBe(false);
    expect(errors).toEqual([]);
  });

  it("a viewer sees only its cameras' ids; the report of an uncalibrated or unknown model is a 404", async () => {
    const put = await api(url, '/api/users/narrow', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: 'narrow-password', role: 'viewer', cameras: ['yard'] }),
    });
    expect(put.status).toBe(200);
    const token = await login(url, 'narrow', 'narrow-password');
    const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const { models } = (await (await get('/api/models')).json()) as { models: ShownModel[] };
    expect(models.map((m) => [m.id, m.cameras])).toEqual([
      ['nanodet', ['yard']],
      ['centernet', []],
    ]);
    const health = (await (await get('/api/health')).json()) as { models: ShownModel[] };
    expect(health.models.flatMap((m) => m.cameras)).toEqual(['yard']);
    expect((await get('/api/models/nanodet/calibration')).status).toBe(200);
    expect((await get('/api/models/centernet/calibration')).status).toBe(404);
    const unknown = await get('/api/models/nosuch/calibration');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { message: string }).message).toMatch(/No model 'nosuch'/);
    expect((await fetch(`${url}/api/models`)).status).toBe(401);
  });
});
