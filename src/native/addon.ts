import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeChecks } from './checks.js';
import type { NativeAddon } from './types.js';

/** The package root, found from this file whether it runs from src/ (vitest) or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('Cannot find the Vigil package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

let cached: NativeAddon | undefined;

/** Loads build/native/Release/vigil.node (or $VIGIL_ADDON) once per environment. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const path = process.env.VIGIL_ADDON ?? resolve(packageRoot(), 'build/native/Release/vigil.node');
  if (!existsSync(path)) {
    throw new Error(`The native addon is not built: ${path} is missing. Run \`npm run build:native\`.`);
  }
  cached = createRequire(import.meta.url)(path) as NativeAddon;
  return cached;
}

/** The addon's check- and bench-only calls (checks.ts), from the same .node as loadAddon(). */
export function loadChecks(): NativeChecks {
  return (loadAddon() as unknown as { checks: NativeChecks }).checks;
}
