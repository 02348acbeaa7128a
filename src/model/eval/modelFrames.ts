import { join } from 'node:path';

import { loadAddon } from '../../native/addon.js';
import type { CameraOptions } from '../../native/types.js';
import { countVideoFrames, imagesIn, readImageRgb, videoFrames, type RgbImage } from '../imageFile.js';
import { letterboxRgb } from '../../detect/letterbox.js';
import type { ModelSpec } from '../../detect/ModelSpec.js';
import { NANODET_MODEL } from '../../detect/nanodet/nanodetSpec.js';

/** Where calibration or evaluation frames come from. */
export type InputSource =
  | { kind: 'video'; path: string; from: number; every: number; count: number }
  | { kind: 'frames'; path: string; indices: number[] }
  | { kind: 'images'; dir: string; count: number }
  | { kind: 'files'; paths: string[] }
  | { kind: 'camera'; camera: CameraOptions; every: number; count: number; timeoutMs?: number };

type FileSource = Exclude<InputSource, { kind: 'camera' }>;

/** The pictures of a file source (video frames, images) decoded to RGB, one at a time, in order. */
async function* pictures(src: FileSource): AsyncGenerator<RgbImage> {
  if (src.kind === 'video' || src.kind === 'frames') {
    const indices =
      src.kind === 'frames' ? src.indices : Array.from({ length: src.count }, (_, i) => src.from + i * src.every);
    yield* videoFrames(src.path, indices);
    return;
  }
  const files = src.kind === 'files' ? src.paths : imagesIn(src.dir).slice(0, src.count);
  if (files.length === 0 && src.kind === 'images') throw new Error(`No images (jpg, png, bmp, webp) in ${src.dir}`);
  for (const f of files) yield await readImageRgb(f);
}

/** A file source's pictures in RGB, to letterbox for several models (toModelInputs) from one decode. */
export async function sourceImages(src: FileSource): Promise<RgbImage[]> {
  const out: RgbImage[] = [];
  for await (const img of pictures(src)) out.push(img);
  return out;
}

const toInput = (img: RgbImage, model: ModelSpec): Float32Array =>
  letterboxRgb(img.rgb, img.width, img.height, model.input.size, model.input.normalize).tensor;

/** Pictures as `model`'s inputs: letterboxed to its input size, with its normalisation. */
export const toModelInputs = (images: RgbImage[], model: ModelSpec): Float32Array[] =>
  images.map((img) => toInput(img, model));

/**
 * Model inputs ([3, S, S] float) from a frame source, letterboxed to `model`'s input size with its
 * normalisation (default: the shipped NanoDet).
 */
export async function modelInputs(
  src: InputSource,
  log = (_: string) => {},
  model: ModelSpec = NANODET_MODEL,
): Promise<Float32Array[]> {
  const { size, normalize } = model.input;
  const out: Float32Array[] = [];
  if (src.kind !== 'camera') {
    for await (const img of pictures(src)) out.push(toInput(img, model));
  } else {
    // A live camera through the real pipeline: the same native letterbox the detector uses.
    const { Camera } = loadAddon();
    let newest = 0;
    let ended = '';
    const cam = new Camera(src.camera, (ev) => {
      if (ev.type === 'frame') newest = ev.seq;
      if (ev.type === 'ended') ended = `${ev.reason}${ev.message ? `: ${ev.message}` : ''}`;
    });
    cam.open();
    const deadline = Date.now() + (src.timeoutMs ?? 120_000);
    let next = 1;
    try {
      while (out.length < src.count) {
        if (ended) throw new Error(`The camera session ended (${ended}) after ${out.length} of ${src.count} frames`);
        if (Date.now() > deadline) throw new Error(`Only ${out.length} of ${src.count} frames arrived in time`);
        if (newest >= next) {
          const t = new Float32Array(3 * size * size);
          const lb = await cam.letterbox(t, size, normalize, next);
          if (lb) {
            out.push(t);
            next = lb.seq + src.every;
            if (out.length % 20 === 0) log(`camera frames: ${out.length}/${src.count}`);
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      cam.close();
    }
  }
  return out;
}

/** Debian's opencv-doc sample data: the varied set's videos and photos. */
export const OPENCV_DATA = '/usr/share/doc/opencv-doc/examples/data';

export interface VariedSetOptions {
  /** Default: vtest.avi (pedestrians, 795 frames) and Megamind.avi (an animated film, 270 frames). */
  videos?: string[];
  /** Default: every photo in OPENCV_DATA (91: people, cars, animals, fruit, chessboards, text, ...). */
  photoDir?: string;
  /** Calibration frames from each video, spread over its length. Default 24. */
  calibrationPerVideo?: number;
  /** Held-out frames from each video, spread over its length. Default 100. */
  heldOutPerVideo?: number;
  /** At most this many of the part's photos (default all of them). */
  photos?: number;
  /** Held-out video frames are at least this many frames from any calibration frame. Default 4. */
  gap?: number;
  /** Further video frames the held-out part keeps `gap` away from (another calibration's). */
  avoid?: Array<{ path: string; indices: number[] }>;
}

/** `n` items spread evenly over `from` (each from the middle of its share). */
const spread = <T>(from: T[], n: number): T[] =>
  n >= from.length ? [...from] : Array.from({ length: n }, (_, i) => from[Math.floor(((i + 0.5) * from.length) / n)]!);

/**
 * The sources of the varied frame set (several scenes, not one clip), in two parts that share no
 * frame: 'calibration' takes `calibrationPerVideo` frames spread over each video's length and the
 * even-numbered photos; 'held-out' takes `heldOutPerVideo` frames spread over each video among
 * those `gap` frames or more from every calibration frame, and the odd-numbered photos.
 */
export async function variedSources(
  part: 'calibration' | 'held-out',
  opts: VariedSetOptions = {},
): Promise<InputSource[]> {
  const videos = opts.videos ?? [join(OPENCV_DATA, 'vtest.avi'), join(OPENCV_DATA, 'Megamind.avi')];
  const gap = opts.gap ?? 4;
  const sources: InputSource[] = [];
  for (const path of videos) {
    const all = Array.from({ length: await countVideoFrames(path) }, (_, i) => i);
    const calibration = spread(all, opts.calibrationPerVideo ?? 24);
    if (part === 'calibration') {
      sources.push({ kind: 'frames', path, indices: calibration });
      continue;
    }
    const avoid = [...calibration, ...(opts.avoid ?? []).filter((a) => a.path === path).flatMap((a) => a.indices)];
    const free = all.filter((i) => avoid.every((c) => Math.abs(c - i) >= gap));
    sources.push({ kind: 'frames', path, indices: spread(free, opts.heldOutPerVideo ?? 100) });
  }
  const photos = imagesIn(opts.photoDir ?? OPENCV_DATA).filter((_, i) => i % 2 === (part === 'calibration' ? 0 : 1));
  sources.push({ kind: 'files', paths: photos.slice(0, opts.photos ?? photos.length) });
  return sources;
}

/** The varied frame set's part as `model`'s inputs: every source's frames, one after the other. */
export async function variedFrames(
  model: ModelSpec,
  part: 'calibration' | 'held-out',
  opts: VariedSetOptions = {},
  log = (_: string) => {},
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const src of await variedSources(part, opts)) out.push(...(await modelInputs(src, log, model)));
  return out;
}
