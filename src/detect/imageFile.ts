import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';

import ffmpeg from 'fluent-ffmpeg';

export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decodes a still image (or a video's frame at `seekSeconds`) to interleaved RGB8 with a child
 * ffmpeg: for tools (import checks, calibration folders, `vigil detect`), never the frame path.
 */
export async function readImageRgb(path: string, seekSeconds?: number): Promise<RgbImage> {
  const meta = await new Promise<ffmpeg.FfprobeData>((resolve, reject) =>
    ffmpeg.ffprobe(path, (err, data) => (err ? reject(new Error(`Cannot read image ${path}: ${(err as Error).message}`)) : resolve(data))),
  );
  const v = meta.streams.find((s) => s.codec_type === 'video');
  if (!v?.width || !v.height) throw new Error(`${path} has no picture`);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const cmd = ffmpeg(path);
    if (seekSeconds !== undefined) cmd.seekInput(seekSeconds);
    const stream = cmd
      .outputOptions(['-frames:v', '1', '-pix_fmt', 'rgb24'])
      .format('rawvideo')
      .on('error', (err: Error) => reject(new Error(`Cannot decode ${path}: ${err.message}`)))
      .pipe();
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => resolve());
  });
  const rgb = new Uint8Array(Buffer.concat(chunks));
  if (rgb.length !== v.width * v.height * 3) throw new Error(`Decoded ${rgb.length} bytes from ${path}, expected ${v.width * v.height * 3}`);
  return { rgb, width: v.width, height: v.height };
}

/** Image files (jpg, jpeg, png, bmp, webp) in a folder, sorted by name. */
export function imagesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => ['.jpg', '.jpeg', '.png', '.bmp', '.webp'].includes(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * The frames of a video with the given indices (0-based, ascending), decoded by one child
 * ffmpeg and read from its pipe one frame at a time (never the whole clip in memory).
 */
export async function* videoFrames(path: string, indices: number[]): AsyncGenerator<RgbImage & { index: number }> {
  const meta = await new Promise<ffmpeg.FfprobeData>((resolve, reject) =>
    ffmpeg.ffprobe(path, (err, data) => (err ? reject(new Error(`Cannot read video ${path}: ${(err as Error).message}`)) : resolve(data))),
  );
  const v = meta.streams.find((s) => s.codec_type === 'video');
  if (!v?.width || !v.height) throw new Error(`${path} has no video`);
  const { width, height } = v;
  const frameBytes = width * height * 3;
  const wanted = new Set(indices);
  const last = Math.max(...indices);
  const stream = ffmpeg(path)
    .outputOptions(['-pix_fmt', 'rgb24', '-frames:v', String(last + 1)])
    .format('rawvideo')
    .on('error', () => { /* surfaces as a short read below */ })
    .pipe();
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= frameBytes) {
      if (wanted.has(index)) yield { index, width, height, rgb: new Uint8Array(pending.subarray(0, frameBytes)) };
      pending = pending.subarray(frameBytes);
      index++;
    }
  }
  if (index <= last) throw new Error(`${path} ended after ${index} frames; frame ${last} was asked for`);
}
