import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../src/native/addon.js';
import { ensureClip } from '../helpers/fixtures.js';

// A child Node process with the real addon (the built dist/ of src/native/addon.ts).
const addonModule = pathToFileURL(join(packageRoot(), 'dist', 'src', 'native', 'addon.js')).href;
const child = (body: string) =>
  spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { loadAddon } from '${addonModule}';\nconst { Camera } = loadAddon();\n${body}`,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );

let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264');
});

describe('camera events and the Node environment', () => {
  it('exits cleanly with events still queued (closed camera, flooding source): no native abort', () => {
    const r = child(`
      let frames = 0;
      const cam = new Camera({ url: ${JSON.stringify(h264)}, loop: true, decoder: 'software' }, (ev) => { if (ev.type === 'frame') frames++; });
      cam.open();
      await new Promise((r) => setTimeout(r, 1500));
      cam.close();
      console.log(frames > 0 ? 'closed' : 'no frames');`);
    expect(r.stderr).not.toMatch(/terminate called|Napi::Error/);
    expect(r.stdout.trim()).toBe('closed');
    expect(r.status).toBe(0);
  });

  it('a listener that throws becomes an uncaught exception (not an abort)', () => {
    const r = child(`
      process.on('uncaughtException', (e) => { console.log('uncaught: ' + e.message); process.exit(3); });
      const cam = new Camera({ url: ${JSON.stringify(h264)}, decoder: 'software' }, (ev) => { if (ev.type === 'frame') throw new Error('listener threw'); });
      cam.open();`);
    expect(r.stderr).not.toMatch(/terminate called/);
    expect(r.stdout.trim()).toBe('uncaught: listener threw');
    expect(r.status).toBe(3);
  });
});
