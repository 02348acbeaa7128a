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
