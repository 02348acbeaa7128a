// Writes .cache/gpu-heads.bin: NanoDet's raw head outputs (FP32 model, ONNX Runtime on this
// CPU) for real vtest frames, the input of the GPU post-processing check (bench/gpuCheck.ts,
// test/gpu) on a box without ONNX Runtime. GPU_HEADS_FRAMES sets how many (default 4).
import { join } from 'node:path';

import { VTEST_AVI } from '../src/cli/demoClips.js';
import { modelInputs } from '../src/model/eval/modelFrames.js';
import { letterboxGeometry } from '../src/detect/letterbox.js';
import { fp32OnnxPath } from '../src/model/importModel.js';
import { nanodetLevels } from '../src/detect/nanodet/NanodetHead.js';
import { NANODET_MODEL } from '../src/detect/nanodet/nanodetSpec.js';
import { OrtDetector } from '../src/detect/OrtDetector.js';
import { packageRoot } from '../src/native/addon.js';
import { writeHeads, type HeadFrame } from '../test/gpu/checks.js';

const count = Number(process.env.GPU_HEADS_FRAMES ?? 4);
const inputs = await modelInputs({ kind: 'video', path: VTEST_AVI, from: 100, every: 150, count });
const det = await OrtDetector.load(fp32OnnxPath(), {});
const frames: HeadFrame[] = [];
for (const t of inputs)
  frames.push({
    levels: nanodetLevels(NANODET_MODEL, await det.infer(t)),
    lb: letterboxGeometry(768, 576, NANODET_MODEL.input.size),
  });
await det.release();
const out = join(packageRoot(), '.cache', 'gpu-heads.bin');
writeHeads(out, frames);
console.log(`wrote ${out} (${frames.length} frames)`);
