import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { loadAddon, packageRoot } from '../../src/native/addon.js';
import { tempDir } from '../helpers/tempDir.js';

const root = packageRoot();
// Builds run as child processes the worker awaits: a synchronous minutes-long build blocks the
// worker's event loop past vitest's RPC timeout on a loaded box (an unhandled error: a red run).
const run = promisify(execFile);
const hasNvcc = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).status === 0;

/** The size of each kernel's machine code (`.text.<kernel>` sections) in a cubin (ELF64). */
function kernelCodeSizes(cubin: Buffer): Map<string, number> {
  const shoff = Number(cubin.readBigUInt64LE(0x28));
  const shentsize = cubin.readUInt16LE(0x3a),
    shnum = cubin.readUInt16LE(0x3c),
    shstrndx = cubin.readUInt16LE(0x3e);
  const header = (i: number) => shoff + i * shentsize;
  const strtab = Number(cubin.readBigUInt64LE(header(shstrndx) + 24));
  const sizes = new Map<string, number>();
  for (let i = 0; i < shnum; i++) {
    const nameAt = strtab + cubin.readUInt32LE(header(i));
    const name = cubin.toString('latin1', nameAt, cubin.indexOf(0, nameAt));
    if (name.startsWith('.text.')) sizes.set(name.slice(6), Number(cubin.readBigUInt64LE(header(i) + 32)));
  }
  return sizes;
}

/** buildInfo() of an addon file, read in a fresh process (one addon per process). */
function buildInfoOf(addonPath: string) {
  const out = execFileSync(
    process.execPath,
    ['-e', `console.log(JSON.stringify(require(${JSON.stringify(addonPath)}).buildInfo()))`],
    {
      encoding: 'utf8',
    },
  );
  return JSON.parse(out) as ReturnType<ReturnType<typeof loadAddon>['buildInfo']>;
}

describe('native build variants', () => {
  it('the default build includes CUDA exactly when a CUDA compiler is present', () => {
    const info = loadAddon().buildInfo();
    expect(info.cuda.built).toBe(hasNvcc);
    if (hasNvcc) expect(info.cuda.toolkit).toMatch(/^\d+\.\d+/);
  });

  // TensorRT's public headers where native/CMakeLists.txt looks for them: the box's own, or the
  // SDK's beside the checkout (../shared/sdk/tensorrt). Headers that appear after the first build
  // are built in by the next setup (scripts/setup.sh reconfigures when what it found changes).
  const trtHeaders = [
    process.env.VIGIL_TENSORRT_INCLUDE,
    '/usr/include/x86_64-linux-gnu',
    '/usr/local/TensorRT/include',
    join(root, '..', 'shared', 'sdk', 'tensorrt', 'include'),
    join(root, 'shared', 'sdk', 'tensorrt', 'include'),
  ].find((d) => d && existsSync(join(d, 'NvInfer.h')) && existsSync(join(d, 'NvOnnxParser.h')));
  it.skipIf(!hasNvcc || trtHeaders !== undefined)(
    'without TensorRT headers the backend is not compiled, and says so',
    () => {
      expect(loadAddon().buildInfo().tensorrt).toMatchObject({ compiled: false, available: false, headers: null });
      expect(loadAddon().buildInfo().tensorrt.reason).toMatch(/^this addon was built without the TensorRT backend/);
    },
  );
  it.skipIf(!hasNvcc || trtHeaders === undefined)(
    `the TensorRT backend is compiled (against the headers in ${trtHeaders}), loads its libraries at run time and says why not`,
    () => {
      const trt = loadAddon().buildInfo().tensorrt;
      expect(trt.compiled).toBe(true);
      expect(trt.headers).toMatch(/^\d+\.\d+$/);
      // No link-time dependency on TensorRT: the addon loads on a box without it.
      expect(
        execFileSync('nm', ['-D', '--undefined-only', join(root, 'build', 'native', 'Release', 'vigil.node')], {
          encoding: 'utf8',
        }),
      ).not.toMatch(/nvinfer|nvonnxparser/i);
      if (!trt.available) expect(trt.reason).toMatch(/libnvinfer|libnvonnxparser|TensorRT \d+ is installed/);
    },
  );

  // Each unrolled copy of a convolution's epilogue is kilobytes of machine code: unrolled over a
  // thread's 64 outputs they made the tensor-core kernel 2 MB for sm_90, which every block streamed
  // through the instruction cache (the short-K convolutions were bound by it). Every kernel of
  // the engine's kernel files (native/src/int8/) stays well under that.
  it.skipIf(!hasNvcc)(
    "the INT8 engine's kernels stay small machine code (sm_90: none over 256 KB)",
    async () => {
      const dir = tempDir('vigil-cubin-');
      try {
        const sizes = new Map<string, number>();
        for (const file of ['ElementwiseKernels', 'ConvDp4a', 'ConvMma', 'ConvFloat', 'Stem']) {
          const cubin = join(dir, `${file}.cubin`);
          await run('nvcc', [
            '-cubin',
            '-arch=sm_90',
            '-std=c++17',
            '-O3',
            '-I',
            join(root, 'native', 'src'),
            '-o',
            cubin,
            join(root, 'native', 'src', 'int8', `${file}.cu`),
          ]);
          for (const [k, bytes] of kernelCodeSizes(readFileSync(cubin))) sizes.set(k, bytes);
        }
        const names = [...sizes.keys()].join(' ');
        for (const k of ['convMmaKernel', 'convFloatKernel', 'stemKernel', 'convDp4aKernel'])
          expect(names).toContain(k);
        // Named with their sizes, so that a failure says which kernel grew and by how much.
        expect([...sizes].filter(([, bytes]) => bytes > 256 * 1024)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    300_000,
  );

  it('builds and runs without CUDA, says so at run time, and passes the C++ core tests', async () => {
    const out = join(root, 'build', 'native-nocuda');
    // configure always (compile skips it when a cache exists), then build
    for (const step of [['configure', '--CDVIGIL_CUDA=OFF', '--CDVIGIL_NATIVE_TESTS=ON'], ['build']]) {
      await run('npx', ['cmake-js', ...step, '--out', out], { cwd: root, maxBuffer: 64 << 20 });
    }
    const info = buildInfoOf(join(out, 'Release', 'vigil.node'));
    expect(info.cuda).toEqual({ built: false, toolkit: null, archs: null, devices: 0, reason: 'built without CUDA' });
    expect(info.decoders.h264).toBe(true);
    expect(info.tensorrt).toMatchObject({ compiled: false, available: false });
    expect(info.tensorrt.reason).toMatch(/built without the TensorRT backend/);
    // The C++ tests of the frame pool and JPEG encoder (exit code 0 = all passed).
    expect((await run(join(out, 'native', 'vigil_core_test'), { encoding: 'utf8' })).stdout).toContain(
      'core tests passed',
    );
  }, 300_000);
});
