import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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

  // The TensorRT 11.1 public headers beside the checkout (../shared/sdk/tensorrt), or the box's own.
  const trtHeaders = [process.env.VIGIL_TENSORRT_INCLUDE, '/usr/include/x86_64-linux-gnu', join(root, '..', 'shared', 'sdk', 'tensorrt', 'include')]
    .some((d) => d && existsSync(join(d, 'NvInfer.h')) && existsSync(join(d, 'NvOnnxParser.h')));
  it.skipIf(!hasNvcc || !trtHeaders)('the TensorRT backend is compiled (against the headers), loads its libraries at run time and says why not', () => {
    const trt = loadAddon().buildInfo().tensorrt;
    expect(trt.compiled).toBe(true);
    expect(trt.headers).toMatch(/^\d+\.\d+$/);
    // No link-time dependency on TensorRT: the addon loads on a box without it.
    expect(execFileSync('nm', ['-D', '--undefined-only', join(root, 'build', 'native', 'Release', 'vigil.node')], { encoding: 'utf8' })).not.toMatch(/nvinfer|nvonnxparser/i);
    if (!trt.available) expect(trt.reason).toMatch(/libnvinfer|libnvonnxparser|TensorRT \d+ is installed/);
  });

  it('builds and runs without CUDA, says so at run time, and passes the C++ core tests', () => {
    const out = join(root, 'build', 'native-nocuda');
    // configure always (compile skips it when a cache exists), then build
    for (const step of [['configure', '--CDVIGIL_CUDA=OFF', '--CDVIGIL_NATIVE_TESTS=ON'], ['build']]) {
      execFileSync('npx', ['cmake-js', ...step, '--out', out], { cwd: root, stdio: 'ignore' });
    }
    const info = buildInfoOf(join(out, 'Release', 'vigil.node'));
    expect(info.cuda).toEqual({ built: false, toolkit: null, archs: null, devices: 0, reason: 'built without CUDA' });
    expect(info.decoders.h264).toBe(true);
    expect(info.tensorrt).toMatchObject({ compiled: false, available: false });
    expect(info.tensorrt.reason).toMatch(/built without the TensorRT backend/);
    // The C++ tests of the frame pool and JPEG encoder (exit code 0 = all passed).
    expect(execFileSync(join(out, 'native', 'vigil_core_test'), { encoding: 'utf8' })).toContain('core tests passed');
  }, 300_000);
});
