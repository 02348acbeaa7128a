// The INT8 engine's kernels for a profiler (ncu on the lent GPU box: bench/device.sh with
// BENCH_WRAP): opens the INT8 engine alone (not the cuda detector, whose warm-up runs every batch
// size from 1 up: a profiler's launch counts would include those), runs one batch of
// KERNELS_BATCH (default 32) real vtest frames once, op by op (no CUDA graph: each kernel
// launched as the engine launches it), and exits. The only kernels launched are that batch's
// (ncu: --kernel-name regex:^conv --launch-skip K counts from its first convolution). Writes
// nothing: the profiler's report is the result.
import { cudaProgram, postOptions } from '../src/detect/GpuDetector.js';
import { int8OnnxPath } from '../src/model/importModel.js';
import { loadAddon, loadChecks } from '../src/native/addon.js';
import { loadCheckFrames } from './checkFrames.js';

const batch = Number(process.env.KERNELS_BATCH ?? 32);
const model = int8OnnxPath();
if (!model) throw new Error('no INT8 model');
const input = loadCheckFrames().batchOf(batch);
const addon = loadAddon();
const { handle } = await addon.openInt8Engine({ program: cudaProgram(model), maxBatch: batch, ...postOptions({}) });
const r = await loadChecks().int8EngineRun(handle, { input, batch, iterations: 1, graphs: false });
process.stdout.write(`int8 kernels: batch ${batch}, GPU ${[...r.gpuMs][0]?.toFixed(3)} ms\n`);
