import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';

import ffmpeg from 'fluent-ffmpeg';

import { packageRoot } from '../native/addon.js';

/** Real footage shipped by Debian's opencv-doc: pedestrians, 768×576, 10 fps, 795 frames. */
export const VTEST_AVI = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

export type ClipCodec = 'h264' | 'hevc';

/** Where generated clips live: $VIGIL_CACHE/fixtures or <package>/.cache/fixtures. */
export function clipDir(): string {
  const dir = resolve(process.env.VIGIL_CACHE ?? join(packageRoot(), '.cache'), 'fixtures');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Keyframe every `keyint` frames (2 s, as cameras send them); no B-frames (IP cameras rarely use them). */
const encoder = (codec: ClipCodec, keyint: number): { codec: string; options: string[] } =>
  codec === 'h264'
    ? { codec: 'libx264', options: ['-preset', 'veryfast', '-g', String(keyint), '-bf', '0', '-pix_fmt', 'yuv420p'] }
    : {
        codec: 'libx265',
        options: [
          '-preset',
          'veryfast',
          '-x265-params',
          `log-level=error:keyint=${keyint}:bframes=0`,
          '-pix_fmt',
          'yuv420p',
          '-tag:v',
          'hvc1',
        ],
      };

/**
 * The GPU benches' camera: vtest upscaled to 1920×1080 and played at 30 fps (each source frame
 * one output frame, so every frame differs), 4 Mb/s, a keyframe every 2 s, 300 frames (10 s).
 * The input is read at 30 fps (`-r` before `-i`): a setpts retime in the AVI's 1/10 s time base
 * would round the timestamps to 0, 33, 100, 133 ms…, 20 frames a second.
 */
const HD_1080P30 = {
  input: ['-r', '30'],
  filter: 'scale=1920:1080:flags=bicubic',
  options: ['-frames:v', '300', '-b:v', '4M', '-maxrate', '4M', '-bufsize', '8M'],
};

/**
 * Transcodes vtest.avi (or `source`) to `codec` in a Matroska file once and returns its path;
 * `loops` > 1 concatenates the footage that many times (long runs without a restart); `hd`:
 * the 1080p30 form above.
 * A child ffmpeg is the right tool here: a one-shot fixture job, never the frame path.
 */
export async function ensureClip(
  codec: ClipCodec,
  opts: { loops?: number; container?: 'mkv' | 'ts' | 'mp4'; hd?: boolean } = {},
): Promise<string> {
  const loops = opts.loops ?? 1;
  const container = opts.container ?? 'mkv';
  const out = join(
    clipDir(),
    `vtest-${codec}${opts.hd ? '-1080p30' : ''}${loops > 1 ? `-x${loops}` : ''}.${container}`,
  );
  if (existsSync(out)) return out;
  if (!existsSync(VTEST_AVI)) {
    throw new Error(`${VTEST_AVI} is missing: install Debian's opencv-doc package (scripts/setup.sh does).`);
  }
  const tmp = `${out}.partial.${process.pid}.${container}`;
  const enc = encoder(codec, opts.hd ? 60 : 20);
  // Other containers of the same footage are remuxed from the Matroska clip (no re-encode).
  const remuxFrom = container !== 'mkv' && loops === 1 ? await ensureClip(codec, { hd: opts.hd }) : null;
  await new Promise<void>((resolvePromise, reject) => {
    const cmd = ffmpeg(remuxFrom ?? VTEST_AVI);
    if (loops > 1) cmd.inputOptions(['-stream_loop', String(loops - 1)]);
    if (remuxFrom)
      cmd.outputOptions(['-c:v', 'copy', ...(codec === 'hevc' && container === 'mp4' ? ['-tag:v', 'hvc1'] : [])]);
    else {
      cmd.videoCodec(enc.codec).outputOptions(enc.options);
      if (opts.hd) cmd.inputOptions(HD_1080P30.input).videoFilters(HD_1080P30.filter).outputOptions(HD_1080P30.options);
    }
    cmd
      .noAudio()
      .format({ mkv: 'matroska', ts: 'mpegts', mp4: 'mp4' }[container])
      .on('error', (err: Error) => reject(new Error(`ffmpeg could not make ${out}: ${err.message}`)))
      .on('end', () => resolvePromise())
      .save(tmp);
  });
  renameSync(tmp, out);
  return out;
}
