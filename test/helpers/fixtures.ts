import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import ffmpeg from 'fluent-ffmpeg';

import { clipDir, ensureClip } from '../../src/cli/demoClips.js';

export { ensureClip };

/** vtest.avi's frame count: every decode-to-the-end test expects exactly this many frames. */
export const VTEST_FRAMES = 795;

function runFfmpeg(build: (cmd: ffmpeg.FfmpegCommand) => ffmpeg.FfmpegCommand, out: string): Promise<void> {
  const tmp = `${out}.partial.${process.pid}`;
  return new Promise<void>((resolve, reject) => {
    build(ffmpeg())
      .on('error', (err: Error) => reject(new Error(`ffmpeg could not make ${out}: ${err.message}`)))
      .on('end', () => {
        renameSync(tmp, out);
        resolve();
      })
      .save(tmp);
  });
}

/** Byte offsets of Annex-B NAL units (after their start codes). */
export function nalUnits(buf: Buffer): Array<{ start: number; end: number; type: number }> {
  const starts: number[] = [];
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  return starts.map((s, k) => {
    let end = k + 1 < starts.length ? (starts[k + 1] as number) - 3 : buf.length;
    if (end > s && buf[end - 1] === 0) end--; // 4-byte start code's leading zero
    return { start: s, end, type: (buf[s] as number) & 0x1f };
  });
}

export interface CorruptClip {
  path: string;
  /** Slices with flipped bytes and slices cut short. */
  flipped: number;
  truncated: number;
  totalSlices: number;
}

/**
 * The H.264 clip with damage a bad link or a failing camera produces: every 6th coded slice
 * after the first 30 has bytes flipped in its payload or is truncated to half its length.
 * Start codes stay intact, so the damage is inside NAL units; remuxed to MPEG-TS.
 */
export async function corruptH264Clip(): Promise<CorruptClip> {
  const dir = clipDir();
  const path = join(dir, 'vtest-h264-corrupt.ts');
  const metaPath = `${path}.json`;
  if (existsSync(path) && existsSync(metaPath)) return JSON.parse(readFileSync(metaPath, 'utf8')) as CorruptClip;

  const clean = await ensureClip('h264');
  const annexB = join(dir, 'vtest-h264.h264');
  await runFfmpeg(
    (c) => c.input(clean).outputOptions(['-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb', '-an']).format('h264'),
    annexB,
  );
  const src = readFileSync(annexB);
  const chunks: Buffer[] = [];
  let flipped = 0;
  let truncated = 0;
  let slice = 0;
  let last = 0;
  for (const nal of nalUnits(src)) {
    if (nal.type !== 1 && nal.type !== 5) continue;
    slice++;
    if (slice <= 30 || slice % 6 !== 0) continue;
    const len = nal.end - nal.start;
    if (len < 64) continue;
    chunks.push(src.subarray(last, nal.start));
    const body = Buffer.from(src.subarray(nal.start, nal.end));
    if ((slice / 6) % 2 === 0) {
      for (let i = Math.floor(len / 3); i < Math.floor(len / 3) + 24 && i < len; i++)
        body[i] = (body[i] as number) ^ 0xa5;
      // never create a start code inside the payload
      for (let i = 2; i < body.length; i++) if (body[i] === 1 && body[i - 1] === 0 && body[i - 2] === 0) body[i] = 2;
      chunks.push(body);
      flipped++;
    } else {
      chunks.push(body.subarray(0, Math.floor(len / 2)));
      truncated++;
    }
    last = nal.end;
  }
  chunks.push(src.subarray(last));
  const damaged = join(dir, 'vtest-h264-corrupt.h264');
  writeFileSync(damaged, Buffer.concat(chunks));
  await runFfmpeg(
    (c) =>
      c
        .input(damaged)
        .inputOptions(['-f', 'h264', '-framerate', '10'])
        .outputOptions(['-c:v', 'copy'])
        .format('mpegts'),
    path,
  );
  const meta: CorruptClip = { path, flipped, truncated, totalSlices: slice };
  writeFileSync(metaPath, JSON.stringify(meta));
  return meta;
}
