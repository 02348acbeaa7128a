import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import { packageRoot } from '../../src/native/addon.js';
import { uiDir } from '../../src/server/HttpServer.js';
import { ADMIN_PASSWORD, api, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';

interface PageEvent {
  id: number;
  type: string;
  snapshot: { url: string; box: { x1: number; y1: number }; width: number; height: number } | null;
  clip: { url: string; durationMs: number } | null;
}
/** The page's list, as its app exposes it (window.vigil.events). */
const shownOf = () => (window as unknown as { vigil: { events(): PageEvent[] } }).vigil.events();

let daemon: Daemon;
let url: string;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(join(uiDir(), 'index.html')))
    throw new Error('dist/ui is missing: run `npm run build:ui` first (npm test does).');
  fp32OnnxPath();
  ({ daemon, url } = await startDaemon(
    [
      {
        id: 'yard',
        name: 'Yard',
        url: await ensureClip('h264'),
        loop: true,
        zones: [
          {
            id: 'all',
            polygon: [
              [0, 0],
              [768, 0],
              [768, 576],
              [0, 576],
            ],
            classes: ['person'],
          },
        ],
        lines: [
          {
            id: 'middle',
            points: [
              [384, 0],
              [384, 576],
            ],
            classes: ['person'],
          },
        ],
      },
    ],
    {
      detect: { enabled: true, tracker: { min_hits: 2, max_age: 10 } },
      media: { clips: { pre_roll_seconds: 1, post_roll_seconds: 1 } },
    },
  ));
  const events = async () => ((await (await api(url, '/api/events')).json()) as { events: PageEvent[] }).events;
  await waitFor(
    async () => {
      const evs = await events();
      return evs.filter((e) => e.clip && e.snapshot).length >= 3 && evs.some((e) => e.type === 'line' && e.clip);
    },
    120_000,
    'events with snapshots and clips',
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.close();
});

describe('events page in a real browser', () => {
  it('lists events with snapshot thumbnails and boxes, filters them, plays a clip, deletes one', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}/#events`);
    await page.fill('input[name=password]', ADMIN_PASSWORD);
    await page.click('#login button');
    await page.waitForSelector('#events:not([hidden]) .event');
    expect(await page.isVisible('#grid')).toBe(false);

    // The list is the API's first page, newest first; every snapshot thumbnail is a decoded image with the box placed on it.
    // The list fills once its page has loaded (a reload empties it first): wait for it, don't read it mid-way.
    const shown = (await (
      await page.waitForFunction(() => {
        const e = (window as unknown as { vigil: { events(): PageEvent[] } }).vigil.events();
        return e.length > 0 ? e : null;
      })
    ).jsonValue()) as PageEvent[];
    const fromApi = ((await (await api(url, '/api/events?limit=50')).json()) as { events: PageEvent[] }).events;
    // (events newer than the page's load are left out: the camera keeps making them)
    expect(shown.map((e) => e.id).slice(0, 10)).toEqual(
      fromApi
        .map((e) => e.id)
        .filter((id) => id <= shown[0]!.id)
        .slice(0, 10),
    );
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('.event .thumb img')]
        .slice(0, 4)
        .every((i) => i.complete && i.naturalWidth > 0),
    );
    const thumb = await page.evaluate(() => {
      const li = document.querySelector<HTMLElement>('.event .thumb img')!.closest('li')!;
      const img = li.querySelector('img')!;
      return {
        id: Number(li.dataset.id),
        natural: [img.naturalWidth, img.naturalHeight],
        left: li.querySelector<HTMLElement>('.box')!.style.left,
      };
    });
    const ev = shown.find((e) => e.id === thumb.id)!;
    expect(thumb.natural).toEqual([768, 576]);
    expect(parseFloat(thumb.left)).toBeCloseTo((ev.snapshot!.box.x1 / 768) * 100, 3);

    // Filter: line events only, as the API has them.
    await page.selectOption('select[name=type]', 'line');
    await page.click('.filters button[type=submit]');
    await page.waitForFunction(() => {
      const shown = (window as unknown as { vigil: { events(): Array<{ type: string }> } }).vigil.events();
      return shown.length > 0 && shown.every((e) => e.type === 'line');
    });
    const lines = (await page.evaluate(shownOf)).map((e) => e.id);
    const linesApi = (
      (await (await api(url, '/api/events?type=line&limit=50')).json()) as { events: PageEvent[] }
    ).events.map((e) => e.id);
    expect(lines.slice(0, 3)).toEqual(linesApi.filter((id) => id <= lines[0]!).slice(0, 3));

    // Play a clip: the video loads, its length is the clip's, and it plays.
    const withClip = (await page.evaluate(shownOf)).find((e) => e.clip)!;
    await page.click(`.event[data-id="${withClip.id}"]`);
    await page.waitForFunction(
      () => {
        const v = document.querySelector<HTMLVideoElement>('.event-player video');
        return !!v && v.readyState >= 2 && v.currentTime > 0.3;
      },
      undefined,
      { timeout: 15_000 },
    );
    const video = await page.evaluate(() => {
      const v = document.querySelector<HTMLVideoElement>('.event-player video')!;
      return { duration: v.duration, width: v.videoWidth, src: v.currentSrc };
    });
    expect(video.width).toBe(768);
    expect(video.src).toBe(`${url}${withClip.clip!.url}`);
    expect(Math.abs(video.duration * 1000 - withClip.clip!.durationMs)).toBeLessThan(250);
    if (process.env.VIGIL_SCREENSHOT) await page.screenshot({ path: join(packageRoot(), 'docs', 'events-page.png') });

    // New events arrive over the live WebSocket: the page offers them.
    await page.waitForSelector('#events .fresh:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#events .fresh')).toMatch(/^\d+ new events?: show$/);

    // Delete it (admin): gone from the page and the API.
    page.once('dialog', (d) => void d.accept());
    await page.click('.event-player button');
    await page.waitForFunction((id) => !document.querySelector(`.event[data-id="${id}"]`), withClip.id);
    expect((await api(url, `/api/events/${withClip.id}`)).status).toBe(404);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
