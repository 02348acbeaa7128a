import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadAddon, packageRoot } from '../../src/native/addon.js';

const root = packageRoot();
const hasNvcc = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).status === 0;

/** buildInfo() of an addon file, read in a fresh process (one addon per process). */
function buildInfoOf(addonPath: string) {
  const out = execFileSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(addonPath)}).buildInfo()))`], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as ReturnType<ReturnType<typeof loadAddon>['buildInfo']>;
}

describe('native build variants', () => {
  it('the default build includes CUDA exactly when a CUDA compiler is present', () => {
    const info = loadAddon().buildInfo();
    expect(info.cuda.built).toBe(hasNvcc);
    if (hasNvcc) expect(info.cuda.toolkit).toMatch(/^\d+\.\d+/);
  });

  it('builds and runs without CUDA, and says so at run time', () => {
    const out = join(root, 'build', 'native-nocuda');
    execFileSync('npx', ['cmake-js', 'compile', '-d', 'native', '--out', out, '--CDVIGIL_CUDA=OFF'], {
      cwd: root,
      stdio: 'ignore',
    });
    const info = buildInfoOf(join(out, 'Release', 'vigil.node'));
    expect(info.cuda).toEqual({ built: false, toolkit: null, archs: null, devices: 0, reason: 'built without CUDA' });
    expect(info.decoders.h264).toBe(true);
  }, 300_000);
});
