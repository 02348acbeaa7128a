import { mkdirSync, openSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Modes of what Vigil creates under its media directory: the service user's alone (snapshots show people). */
export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

/** The file that marks a directory as Vigil's media directory (reconcile touches nothing else). */
export const MEDIA_MARKER = '.vigil-media';

/**
 * The names Vigil writes under the media directory (relative, '/'-separated):
 * <camera>/<YYYY-MM-DD>/<event id>.mp4, <event id>-<frame seq>.jpg, and their .part/.tmp files.
 */
export const MEDIA_FILE =
  /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\/\d{4}-\d{2}-\d{2}\/\d+(?:-\d+)?\.(?:jpg|mp4)(?:\.part|\.tmp)?$/;

/**
 * Opens `path` for writing (it must not exist), creating its directory; synchronous, so that a
 * directory emptied and removed by a retention pass just before is made again (one retry).
 */
export function openNewSync(path: string): number {
  for (let attempt = 0; ; attempt++) {
    mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR });
    try {
      return openSync(path, 'wx', PRIVATE_FILE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err;
    }
  }
}

/** Flushes a file's data to the disk. */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Flushes a directory's entries (a rename or a new file in it) to the disk. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes `data` to `path` so that it is whole on the disk before the call resolves: a temp file,
 * flushed, renamed over, and the directory flushed (a power cut leaves the old file or the new
 * one, never a cut one).
 */
export async function writeDurable(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  let fh;
  for (let attempt = 0; ; attempt++) {
    await mkdir(dirname(path), { recursive: true, mode: PRIVATE_DIR });
    try {
      fh = await open(tmp, 'w', PRIVATE_FILE);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err; // a retention pass removed the emptied directory
    }
  }
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}
