import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/**
 * A fresh directory under the system temp dir (`prefix` + random suffix), removed after the test
 * file that made it (test/helpers/cleanup.ts, a vitest setup file), or earlier by
 * removeTempDir(). Tests may read it after the daemon using it has stopped.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes one directory made by tempDir() now (a test that makes many: systemd trees). */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  const at = made.indexOf(dir);
  if (at >= 0) made.splice(at, 1);
}

/** Removes every directory tempDir() made in this test file. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
