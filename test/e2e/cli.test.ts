import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../src/native/addon.js';
import { login } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { freePort, RtspServer } from '../helpers/rtspServer.js';
import { tempDir } from '../helpers/tempDir.js';

const CLI = join(packageRoot(), 'dist/src/cli/main.js');
let server: RtspServer;
const dir = tempDir('vigil-cli-');

function vigil(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30000 });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build:ts\` first (npm test does).`);
  server = await RtspServer.start({ h264: { file: await ensureClip('h264'), codec: 'h264' } });
}, 300_000);

afterAll(async () => {
  await server?.stop();
});

describe('vigil CLI', () => {
  it('probe reports codec, size, fps and time to first frame of an RTSP camera', () => {
    const r = vigil('probe', server.url('h264'));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/codec\s+h264 \(High\)/);
    expect(r.stdout).toMatch(/size\s+768x576/);
    expect(r.stdout).toMatch(/fps\s+10\.00/);
    const ttff = /time to first frame\s+([\d.]+) ms/.exec(r.stdout);
    expect(Number(ttff?.[1])).toBeGreaterThan(0);
    const json = JSON.parse(vigil('probe', '--json', server.url('h264')).stdout) as { ok: boolean; codec: string };
    expect(json).toMatchObject({ ok: true, codec: 'h264' });
  });

  it('probe fails with the reason and exit code 1', () => {
    const r = vigil('probe', '--timeout', '1000', `rtsp://127.0.0.1:${server.port}/nothing-here`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/probe failed \(error\): cannot open input: .*404/);
    const bad = vigil('probe', '--transport', 'sctp', server.url('h264'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("Expected 'tcp' or 'udp' for --transport but received 'sctp'");
  });

  it('detect prints what the CPU detector finds; calibrate names a bad option', () => {
    const r = vigil('detect', '/usr/share/doc/opencv-doc/examples/data/messi5.jpg');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/messi5\.jpg: 548x342, (int8|fp32) \(nanodet-(int8|fp32)\.onnx\), \d+ detection\(s\)/); // the daemon's model (test/e2e/cliDetect.test.ts)
    expect(r.stdout).toMatch(/person\s+0\.\d\d/);
    expect(r.stdout).toMatch(/sports ball\s+0\.\d\d/);
    const bad = vigil('calibrate', '--method', 'kl');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("Expected 'mse', 'entropy' or 'percentile' for --method but received 'kl'");
    const keep = vigil('calibrate', '--frames', '2', '--keep-fp32', 'conv_does_not_exist');
    expect(keep.status).toBe(1);
    expect(keep.stderr).toMatch(/Unknown layer\(s\) for --keep-fp32: conv_does_not_exist/);
  });

  it('doctor lists the GPU, the decoders and every backend with its status, and runs the CPU one', () => {
    const r = vigil('doctor', '--json');
    expect(r.status).toBe(0);
    const d = JSON.parse(r.stdout) as {
      gpu: { devices: number };
      backends: Record<string, { status: string; detections?: number; reason: string | null }>;
    };
    expect(d.backends.cpu!.status).toBe('ready');
    expect(d.backends.cpu!.detections).toBeGreaterThan(0);
    expect(['libraries found', 'unavailable', 'not built']).toContain(d.backends.tensorrt!.status);
    if (d.backends.tensorrt!.status !== 'libraries found')
      expect(d.backends.tensorrt!.reason).toMatch(/TensorRT|libnvinfer/);
    // Vigil's own INT8 engine: runs wherever there is a GPU, and says why not elsewhere.
    const cuda = d.backends.cuda as {
      status: string;
      reason: string | null;
      comparedWithCpu: { matched: number; reference: number } | null;
    };
    if (d.gpu.devices > 0) {
      expect(cuda.status).toBe('ready');
      expect(cuda.comparedWithCpu!.matched).toBe(cuda.comparedWithCpu!.reference);
    } else {
      expect(['unavailable', 'not built']).toContain(cuda.status);
      expect(cuda.reason).toMatch(/CUDA|device|driver/i);
    }
    const text = vigil('doctor');
    expect(text.stdout).toMatch(/^cpu\s+ready: ONNX Runtime/m);
    expect(text.stdout).toMatch(/^tensorrt\s+/m);
    expect(text.stdout).toMatch(
      d.gpu.devices > 0 ? /^cuda\s+ready: Vigil's INT8 engine/m : /^cuda\s+(unavailable|not built): /m,
    );
  });

  it('check-config accepts a good file and names each problem in a bad one (exit 2)', () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, `cameras:\n  - id: lobby\n    url: ${server.url('h264')}\n`);
    const ok = vigil('check-config', good);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('OK (1 camera(s), 1 enabled');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'server:\n  port: -1\ncameras:\n  - id: lobby\n    url: rtsp://x/y\n    transport: quic\n');
    const r = vigil('check-config', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Expected a value of at least 0 for server.port but received number -1');
    expect(r.stderr).toContain("Expected one of 'tcp', 'udp' for cameras[0].transport but received 'quic'");
  });

  it('run serves health for its cameras and exits cleanly on SIGTERM', async () => {
    const port = await freePort();
    const cfg = join(dir, 'run.yaml');
    const state = tempDir('vigil-run-state-');
    writeFileSync(
      cfg,
      `server:\n  port: ${port}\ndata_dir: ${state}\nlog:\n  level: warn\ncameras:\n  - id: lobby\n    url: ${server.url('h264')}\n`,
    );
    const child = spawn(process.execPath, [CLI, 'run', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      const t0 = Date.now();
      let camState = '';
      let token = '';
      while (Date.now() - t0 < 15000 && camState !== 'streaming') {
        await new Promise((r) => setTimeout(r, 200));
        // First run: the generated admin password is printed once on stdout, stored hashed.
        const pw = /log in as 'admin' with password (\S+)/.exec(stdout)?.[1];
        if (!pw) continue;
        if (!token) {
          expect((await fetch(`${base}/api/health`)).status).toBe(401); // no login, no health: even from localhost
          token = await login(base, 'admin', pw);
        }
        const res = await fetch(`${base}/api/health`, { headers: { authorization: `Bearer ${token}` } }).catch(
          () => null,
        );
        if (res?.ok) camState = ((await res.json()) as { cameras: Array<{ state: string }> }).cameras[0]?.state ?? '';
      }
      expect(camState).toBe('streaming');
      const users = JSON.parse(readFileSync(join(state, 'users.json'), 'utf8')) as {
        users: Array<{ name: string; hash: string }>;
      };
      expect(users.users[0]!.name).toBe('admin');
      expect(readFileSync(join(state, 'users.json'), 'utf8')).not.toContain(/password (\S+)/.exec(stdout)![1]!);
      expect(statSync(join(state, 'users.json')).mode & 0o777).toBe(0o600);
      expect(stderr).toContain(`Vigil is running: http://127.0.0.1:${port}/`);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
