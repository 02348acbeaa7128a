// A vitest globalSetup: names what the run left in the temp dir. Every test removes what it
// makes (test/helpers/tempDir.ts); this catches the ones that do not. It only reports: another
// run on the same machine may own a new entry.
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';

const ours = (name: string) => name.startsWith('vigil-');

export default function setup(): () => void {
  const before = new Set(readdirSync(tmpdir()).filter(ours));
  return () => {
    const left = readdirSync(tmpdir()).filter((n) => ours(n) && !before.has(n));
    if (left.length > 0)
      console.warn(
        `tmp guard: the run left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in ${tmpdir()}: ${left.sort().join(' ')}`,
      );
  };
}
