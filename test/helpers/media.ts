import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

import Database from 'better-sqlite3';

/** Every file under `root`, relative, with its size; `ownOnly`: without the directory's marker file. */
export function filesUnder(root: string, ownOnly = false): Map<string, number> {
  const out = new Map<string, number>();
  let entries: Array<{ name: string; parentPath: string; isFile(): boolean }> = [];
  try {
    entries = readdirSync(root, { recursive: true, withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.isFile() || (ownOnly && e.name === '.vigil-media' && e.parentPath === root)) continue;
    const p = join(e.parentPath, e.name);
    out.set(relative(root, p).split(sep).join('/'), statSync(p).size);
  }
  return out;
}

/** The media rows of a stopped daemon's database: path → bytes. */
export function mediaRows(dataDir: string): Map<string, number> {
  const db = new Database(join(dataDir, 'vigil.db'), { readonly: true });
  const rows = db.prepare('SELECT path, bytes FROM event_media').all() as Array<{ path: string; bytes: number }>;
  db.close();
  return new Map(rows.map((r) => [r.path, r.bytes]));
}
