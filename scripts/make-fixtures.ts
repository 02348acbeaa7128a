// Setup step: transcodes the demo and test clips from opencv-doc's vtest.avi once (cached).
import { ensureClip } from '../src/cli/demoClips.js';

for (const codec of ['h264', 'hevc'] as const) {
  const t0 = performance.now();
  const path = await ensureClip(codec);
  process.stdout.write(`fixture ${path} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
}
