import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/** What ffprobe says about a local image or video file. */
export interface MediaInfo {
  width: number;
  height: number;
  /** A single picture (jpg, png, ...), not a video. */
  still: boolean;
  /** Seconds; null where the container does not say (stills, some streams). */
  durationSeconds: number | null;
}

export type MediaFileProblem = 'missing' | 'unreadable' | 'not-media' | 'damaged' | 'past-end';

/**
 * A file that could not be read as an image or video. The message is one line naming the file
 * and the reason (never FFmpeg's banner): `cannot read photo.jpg: no such file`.
 */
export class MediaFileError extends Error {
  constructor(
    readonly path: string,
    readonly problem: MediaFileProblem,
    readonly reason: string,
    /** The video's duration in seconds, where known (set for 'past-end'). */
    readonly durationSeconds: number | null = null,
  ) {
    super(`cannot read ${path}: ${reason}`);
    this.name = 'MediaFileError';
  }
}

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function run(cmd: 'ffmpeg' | 'ffprobe', args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 65536) err += d.toString();
    });
    child.on('error', (e) => reject(new Error(`cannot run ${cmd} (is FFmpeg installed?): ${e.message}`)));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

/** FFmpeg's own words for a failure, one line: its first messages without the `[mjpeg @ 0x…]` tags, the file name or its closing boilerplate. */
function ffmpegReason(stderr: string, input: string): string {
  const noise =
    /deprecated pixel format|^Consider increasing|^Output file is empty|^Error marking filters|^Conversion failed|^Cannot determine format of input stream/;
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/, '').trim())
    .map((l) => (l.startsWith(`${input}: `) ? l.slice(input.length + 2) : l))
    .filter((l) => l && !noise.test(l));
  return [...new Set(lines)].slice(0, 2).join('; ') || 'no message';
}

/** The file is there, a regular file, not empty and readable by us; else why not. */
function checkReadable(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new MediaFileError(path, 'missing', 'no such file');
    if (code === 'EACCES') throw new MediaFileError(path, 'unreadable', 'permission denied');
    throw new MediaFileError(path, 'unreadable', (err as Error).message);
  }
  if (st.isDirectory()) throw new MediaFileError(path, 'not-media', 'is a directory, not an image or video file');
  if (!st.isFile()) throw new MediaFileError(path, 'not-media', 'not a regular file');
  if (st.size === 0) throw new MediaFileError(path, 'not-media', 'empty file');
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new MediaFileError(path, 'unreadable', 'permission denied');
  }
}

// `file:` so that a name with a colon or a leading dash is never read as a protocol or an option.
const input = (path: string) => `file:${path}`;

/** Size, still or video, and duration of a local image or video file (one ffprobe child). */
export async function probeMedia(path: string): Promise<MediaInfo> {
  checkReadable(path);
  const r = await run('ffprobe', [
    '-hide_banner',
    '-v',
    'error',
    '-show_entries',
    'stream=codec_type,width,height,duration:format=format_name,duration',
    '-of',
    'json',
    input(path),
  ]);
  if (r.code !== 0)
    throw new MediaFileError(
      path,
      'not-media',
      `not an image or video (ffprobe: ${ffmpegReason(r.stderr, input(path))})`,
    );
  const meta = JSON.parse(r.stdout.toString()) as {
    streams?: Array<{ codec_type?: string; width?: number; height?: number; duration?: string }>;
    format?: { format_name?: string; duration?: string };
  };
  const videos = (meta.streams ?? []).filter((s) => s.codec_type === 'video');
  if (videos.length === 0)
    throw new MediaFileError(path, 'not-media', 'not an image or video (ffprobe found no video stream)');
  const v = videos.find((s) => s.width && s.height);
  if (!v)
    throw new MediaFileError(
      path,
      'not-media',
      `not an image or video (ffprobe found no picture in it${r.stderr.trim() ? `: ${ffmpegReason(r.stderr, input(path))}` : ''})`,
    );
  const formatName = meta.format?.format_name ?? '';
  const still = formatName === 'image2' || formatName.endsWith('_pipe');
  const duration = Number(meta.format?.duration ?? v.duration);
  return {
    width: v.width!,
    height: v.height!,
    still,
    durationSeconds: !still && Number.isFinite(duration) && duration > 0 ? duration : null,
  };
}

/** How many frames a local video has (its video packets, counted by ffprobe without decoding). */
export async function countVideoFrames(path: string): Promise<number> {
  checkReadable(path);
  const r = await run('ffprobe', [
    '-hide_banner',
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-count_packets',
    '-show_entries',
    'stream=nb_read_packets',
    '-of',
    'csv=p=0',
    input(path),
  ]);
  const n = Number(r.stdout.toString().trim());
  if (r.code !== 0 || !Number.isInteger(n) || n <= 0)
    throw new MediaFileError(path, 'not-media', `not a video (ffprobe: ${ffmpegReason(r.stderr, input(path))})`);
  return n;
}

const seconds = (s: number) => `${Number(s.toFixed(3))} s`;

/**
 * Decodes a still image (or a video's frame at `seekSeconds`) to interleaved RGB8 with a child
 * ffmpeg: for tools (import checks, calibration folders, `vigil detect`), never the frame path.
 * A truncated or damaged picture, a file that is no image, or a time past a video's end throws
 * a MediaFileError (one line, naming the file).
 */
export async function readImageRgb(path: string, seekSeconds?: number): Promise<RgbImage & MediaInfo> {
  const info = await probeMedia(path);
  const pastEnd = () =>
    new MediaFileError(
      path,
      'past-end',
      `${seconds(seekSeconds ?? 0)} is past the end (duration ${info.durationSeconds === null ? 'unknown' : seconds(info.durationSeconds)})`,
      info.durationSeconds,
    );
  const seek = seekSeconds !== undefined && !info.still;
  if (seek && info.durationSeconds !== null && seekSeconds >= info.durationSeconds) throw pastEnd();
  // A still is decoded strictly: FFmpeg otherwise fills a cut-off JPEG with grey and exits 0.
  const args = ['-hide_banner', '-nostdin', '-v', info.still ? 'warning' : 'error', '-noautorotate'];
  if (info.still) args.push('-err_detect', 'explode');
  if (seek) args.push('-ss', String(seekSeconds));
  args.push('-i', input(path), '-frames:v', '1', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1');
  const r = await run('ffmpeg', args);
  const expected = info.width * info.height * 3;
  if (info.still && (r.code !== 0 || r.stdout.length !== expected)) {
    throw new MediaFileError(
      path,
      'damaged',
      `truncated or damaged image (ffmpeg: ${ffmpegReason(r.stderr, input(path))})`,
    );
  }
  // The decoder makes up a missing end-of-image marker: the file was cut after its last scan.
  if (info.still && /EOI missing/.test(r.stderr))
    throw new MediaFileError(path, 'damaged', 'truncated image (the JPEG ends without its end-of-image marker)');
  if (r.code !== 0)
    throw new MediaFileError(path, 'damaged', `cannot decode it (ffmpeg: ${ffmpegReason(r.stderr, input(path))})`);
  if (r.stdout.length === 0 && seek) throw pastEnd();
  if (r.stdout.length !== expected)
    throw new MediaFileError(path, 'damaged', `decoded ${r.stdout.length} bytes, expected ${expected}`);
  return { ...info, rgb: new Uint8Array(r.stdout) };
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
  const { width, height } = await probeMedia(path);
  const frameBytes = width * height * 3;
  const wanted = new Set(indices);
  const last = Math.max(...indices);
  const child = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-noautorotate',
      '-i',
      input(path),
      '-pix_fmt',
      'rgb24',
      '-frames:v',
      String(last + 1),
      '-f',
      'rawvideo',
      'pipe:1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 65536) stderr += d.toString();
  });
  const spawned = new Promise<void>((_, reject) =>
    child.once('error', (e) => reject(new Error(`cannot run ffmpeg (is FFmpeg installed?): ${e.message}`))),
  );
  spawned.catch(() => {});
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= frameBytes) {
        if (wanted.has(index)) yield { index, width, height, rgb: new Uint8Array(pending.subarray(0, frameBytes)) };
        pending = pending.subarray(frameBytes);
        index++;
      }
    }
    await Promise.race([spawned, new Promise((r) => (child.exitCode !== null ? r(null) : child.once('close', r)))]);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
  if (index <= last) {
    const why = stderr.trim() ? ` (ffmpeg: ${ffmpegReason(stderr, input(path))})` : '';
    throw new MediaFileError(path, 'past-end', `it ended after ${index} frames; frame ${last} was asked for${why}`);
  }
}
