import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

import { packageRoot } from '../src/native/addon.js';

export interface BenchRow {
  case: string;
  vigil?: number;
  peer?: number;
  unit: string;
  ratio?: number;
  [extra: string]: unknown;
}

export interface BenchResult {
  bench: string;
  setup: string;
  peer: string;
  rows: BenchRow[];
  summary: Record<string, unknown>;
  [extra: string]: unknown;
}

/** `cpu2` on the 2-core developer/CI box; override with VIGIL_BENCH_MACHINE (h100, l4...). */
export function machineName(): string {
  return process.env.VIGIL_BENCH_MACHINE ?? `cpu${cpus().length}`;
}

/** Writes bench/results/<bench>-<machine>-<date>.json (format: shared/BENCH.md) and returns the path. */
export function writeResult(result: BenchResult): string {
  const date = new Date().toISOString().slice(0, 10);
  const machine = machineName();
  // VIGIL_COMMIT: runs from a copy without git history (the lent GPU box)
  let commit = process.env.VIGIL_COMMIT ?? 'unknown';
  if (!process.env.VIGIL_COMMIT) {
    try {
      commit = execSync('git rev-parse --short HEAD', { cwd: packageRoot(), encoding: 'utf8' }).trim();
    } catch {
      /* not a git checkout */
    }
  }
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${result.bench}-${machine}-${date}.json`);
  const { bench, ...rest } = result;
  writeFileSync(
    file,
    `${JSON.stringify({ bench, machine, date, commit, cpu: cpus()[0]?.model, cores: cpus().length, ...rest }, null, 2)}\n`,
  );
  return file;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}
