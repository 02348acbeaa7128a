import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../src/native/addon.js';
import { fp32OnnxPath, int8OnnxPath } from '../../src/model/importModel.js';
import { tempDir } from '../helpers/tempDir.js';

// `vigil detect` as a new user meets it: the real CLI on real files (Debian's opencv-doc data).
const CLI = join(packageRoot(), 'dist/src/cli/main.js');
const DATA = '/usr/share/doc/opencv-doc/examples/data';
const MESSI = join(DATA, 'messi5.jpg'); // 548x342: people and a ball
const VTEST = join(DATA, 'vtest.avi'); // 79.5 s at 10 fps
let dir = '';

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking the test worker (a synchronous spawn stalls vitest's RPC). */
function vigil(...args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** A failure as a user should see it: one line on stderr naming the file, nothing on stdout, no FFmpeg banner. */
function expectOneLineError(r: Result, file: string, reason: RegExp) {
  expect(r.status, r.stderr).not.toBe(0);
  expect(r.status).not.toBeNull();
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^vigil detect: /);
  expect(r.stderr).toContain(file);
  expect(r.stderr).toMatch(reason);
  expect(r.stderr).not.toMatch(/ffprobe version|ffmpeg version|configuration:|libavutil|Copyright/);
}

interface DetectJson {
  file: string;
  width: number;
  height: number;
  at: number | null;
  precision: string;
  model: string;
  detections: Array<{ label: string; score: number; box: [number, number, number, number] }>;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.json\` first (npm test does).`);
  dir = tempDir('vigil-cli-detect-');
  // Half of a real JPEG: the decoder runs out of data in the middle of the picture.
  const jpeg = readFileSync(MESSI);
  writeFileSync(join(dir, 'cut.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  copyFileSync(MESSI, join(dir, 'whole.jpg'));
  writeFileSync(join(dir, 'notes.jpg'), 'this is a text file, not a photo\n');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('vigil detect', async () => {
  it('--precision int8 runs the calibrated INT8 model and finds the people', async () => {
    const r = await vigil('detect', '--precision', 'int8', '--json', MESSI);
    if (!int8OnnxPath()) {
      // No calibrated model in this cache: a clear error, not a silent FP32 run.
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/no INT8 model exists: run `vigil calibrate`/);
      return;
    }
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as DetectJson;
    expect(j.precision).toBe('int8');
    expect(j.model).toBe(int8OnnxPath());
    expect(j.detections.some((d) => d.label === 'person')).toBe(true);
  });

  it('by default uses what the daemon would (the INT8 model when calibrated); --json is one document with the fields', async () => {
    const r = await vigil('detect', '--json', MESSI);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as DetectJson; // stdout holds the JSON document and nothing else
    expect(j).toMatchObject({ file: MESSI, width: 548, height: 342, at: null });
    expect(j.precision).toBe(int8OnnxPath() ? 'int8' : 'fp32');
    expect(j.model).toBe(int8OnnxPath() ?? fp32OnnxPath());
    expect(j.detections.length).toBeGreaterThan(0);
    for (const d of j.detections) {
      expect(typeof d.label).toBe('string');
      expect(d.score).toBeGreaterThanOrEqual(0.4);
      expect(d.score).toBeLessThanOrEqual(1);
      const [x1, y1, x2, y2] = d.box;
      // Source pixels of the 548x342 photo, not the model's 416x416 input.
      expect(x1).toBeGreaterThanOrEqual(-1);
      expect(y1).toBeGreaterThanOrEqual(-1);
      expect(x2).toBeLessThanOrEqual(549);
      expect(y2).toBeLessThanOrEqual(343);
      expect(x2).toBeGreaterThan(x1);
      expect(y2).toBeGreaterThan(y1);
    }
    expect(j.detections.some((d) => d.label === 'person')).toBe(true);
  });

  it("--config: the daemon's detect section applies (precision, threshold); the options override it", async () => {
    writeFileSync(join(dir, 'fp32.yaml'), 'detect:\n  precision: fp32\n  score_threshold: 0.7\ncameras: []\n');
    writeFileSync(join(dir, 'bad.yaml'), 'detect:\n  precision: fp16\ncameras: []\n');
    const [cfg, over, bad] = await Promise.all([
      vigil('detect', '--config', 'fp32.yaml', '--json', MESSI),
      vigil('detect', '--config', 'fp32.yaml', '--precision', 'auto', '--threshold', '0.3', '--json', MESSI),
      vigil('detect', '--config', 'bad.yaml', MESSI),
    ]);
    expect(cfg.status, cfg.stderr).toBe(0);
    const j = JSON.parse(cfg.stdout) as DetectJson;
    expect(j.precision).toBe('fp32');
    expect(j.model).toBe(fp32OnnxPath());
    expect(j.detections.length).toBeGreaterThan(0);
    expect(j.detections.every((d) => d.score >= 0.7)).toBe(true);
    expect(over.status, over.stderr).toBe(0);
    const o = JSON.parse(over.stdout) as DetectJson;
    expect(o.precision).toBe(int8OnnxPath() ? 'int8' : 'fp32');
    expect(o.detections.some((d) => d.score < 0.7)).toBe(true);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/detect\.precision/);
  });

  it('--precision fp32 runs the FP32 model and says so', async () => {
    const r = await vigil('detect', '--precision', 'fp32', MESSI);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/messi5\.jpg: 548x342, fp32 \(.*nanodet-fp32\.onnx\), \d+ detection\(s\)/);
    expect(r.stdout).toMatch(/person\s+0\.\d\d/);
  });

  it('a bad option value is named, with exit code 2', async () => {
    const [p, t, a] = await Promise.all([
      vigil('detect', '--precision', 'fp16', MESSI),
      vigil('detect', '--threshold', 'high', MESSI),
      vigil('detect', '--at', '-3', VTEST),
    ]);
    expect(p.status).toBe(2);
    expect(p.stderr).toContain("Expected auto, int8 or fp32 for --precision but received 'fp16'");
    expect(t.status).toBe(2);
    expect(t.stderr).toContain("Expected a score between 0.01 and 1 for --threshold but received 'high'");
    expect(a.status).toBe(2);
    expect(a.stderr).toContain("Expected a time in seconds (0 or more) for --at but received '-3'");
  });

  it('a missing file: one line naming it, non-zero exit', async () => {
    expectOneLineError(await vigil('detect', 'photo.jpg'), 'photo.jpg', /cannot read photo\.jpg: no such file/);
  });

  it('a text file named .jpg: one line, not an image', async () => {
    expectOneLineError(
      await vigil('detect', 'notes.jpg'),
      'notes.jpg',
      /cannot read notes\.jpg: not an image or video/,
    );
  });

  it('a truncated JPEG is an error, not "0 detection(s)"; the whole file passes', async () => {
    const [cut, whole] = await Promise.all([vigil('detect', 'cut.jpg'), vigil('detect', 'whole.jpg')]);
    expectOneLineError(cut, 'cut.jpg', /cannot read cut\.jpg: .*truncated/);
    expect(whole.status, whole.stderr).toBe(0);
    expect(whole.stdout).toMatch(/whole\.jpg: 548x342, (int8|fp32) .*[1-9]\d* detection\(s\)/);
  });

  it('--at past the end of a video names its duration; a frame inside it is detected', async () => {
    const [past, r] = await Promise.all([
      vigil('detect', '--at', '99', VTEST),
      vigil('detect', '--json', '--at', '20', VTEST),
    ]);
    expectOneLineError(past, 'vtest.avi', /--at 99 is past the end of .*vtest\.avi \(duration 79\.5 s\)/);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as DetectJson;
    expect(j).toMatchObject({ file: VTEST, width: 768, height: 576, at: 20 });
    expect(j.detections.some((d) => d.label === 'person')).toBe(true);
  });
});
