// Writes .cache/int8check/nanodet-int8-ort.onnx: the INT8 model as ONNX Runtime's CPU loads it
// (src/model/quant/ortLowering.ts), for the ONNX Runtime peer of bench:infer on a box where
// only Python has ONNX Runtime. bench/int8Prepare.ts writes the same file on the dev box.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { int8OnnxPath } from '../src/model/importModel.js';
import { lowerQdqForOrtCpu } from '../src/model/quant/ortLowering.js';
import { packageRoot } from '../src/native/addon.js';

const model = int8OnnxPath();
if (!model) throw new Error('no INT8 model: `npm run setup` calibrates it');
const bytes = new Uint8Array(readFileSync(model));
const dir = join(packageRoot(), '.cache', 'int8check');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'nanodet-int8-ort.onnx'), lowerQdqForOrtCpu(bytes) ?? bytes);
