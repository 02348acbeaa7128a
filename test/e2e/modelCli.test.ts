import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { OnnxGraph } from '../../src/model/onnx/OnnxGraph.js';
import { packageRoot } from '../../src/native/addon.js';
import { writeYoloTestModel } from '../helpers/headGraphs.js';
import { tempDir } from '../helpers/tempDir.js';

const CLI = join(packageRoot(), 'dist/src/cli/main.js');
const dir = tempDir('vigil-model-cli-');
const vigil = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env } });

const yolo = join(dir, 'yolo11n.onnx');
writeYoloTestModel(yolo);

describe('vigil model add / list', () => {
  it('add checks the file as its family on every backend and writes it into the config, comments kept', () => {
    const config = join(dir, 'vigil.yaml');
    writeFileSync(config, '# my box\ncameras: [] # none yet\n', { mode: 0o640 });
    const classes = join(dir, 'classes.txt');
    writeFileSync(classes, 'person\ncar\ndog\n');
    const r = vigil('model', 'add', yolo, '--family', 'yolo', '--classes', classes, '--config', config);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // The input size comes from the file; the GPU backends say why not (the CUDA decode is NanoDet's).
    expect(r.stdout).toMatch(/yolo11n: yolo 128x128, 3 classes, outputs output0/);
    expect(r.stdout).toMatch(/cpu +yes/);
    expect(r.stdout).toMatch(/cuda +no: its head decode \(yolo\) runs on the CPU only for now/);
    const text = readFileSync(config, 'utf8');
    expect(text).toMatch(/# my box/);
    expect(text).toMatch(/# none yet/);
    expect(text).toMatch(/id: yolo11n/);
    expect(statSync(config).mode & 0o777).toBe(0o640);
    const list = JSON.parse(vigil('model', 'list', '--config', config, '--json').stdout) as Array<{
      id: string;
      family: string;
      backends: Record<string, { cpu: string | null }>;
    }>;
    expect(list.map((m) => [m.id, m.family])).toEqual([
      ['nanodet', 'nanodet'],
      ['centernet', 'centernet'],
      ['yolo11n', 'yolo'],
    ]);
    expect(list[2]!.backends.fp32!.cpu).toBeNull();
    // Added once: a second add under the same id is refused, the file unchanged.
    const again = vigil('model', 'add', yolo, '--family', 'yolo', '--classes', classes, '--config', config);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/'yolo11n' is already in/);
    expect(readFileSync(config, 'utf8')).toBe(text);
  });

  it('a file that is not what its family says, or holds an op no backend runs, is refused naming why', () => {
    const wrong = vigil('model', 'add', yolo, '--family', 'detr');
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(
      /does not run as a detr model: Expected outputs 'pred_logits', 'pred_boxes'.*has: .*output0/,
    );
    // COCO-80 by default: this file's 3 classes do not fit its output.
    const classes = vigil('model', 'add', yolo, '--family', 'yolo');
    expect(classes.stderr).toMatch(
      /Expected 28224 values in output 'output0' \(boxes and class scores\) but received 2352/,
    );
    const g = new OnnxGraph();
    g.inputs.push({ name: 'images', shape: [1, 3, 64, 64] });
    g.addNode('FancyPool', ['images'], ['output0'], {}, 'head/fancy_pool');
    g.outputs.push({ name: 'output0', shape: [1, 84, 84] });
    const odd = join(dir, 'odd.onnx');
    writeFileSync(odd, g.encode());
    const r = vigil('model', 'add', odd, '--family', 'yolo');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/FancyPool/);
    expect(r.stderr).toMatch(/head\/fancy_pool/);
  });

  it('calibrate takes a shipped model by id and names them when given another', () => {
    const r = vigil('calibrate', '--model', 'yolo11n');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Expected nanodet or centernet for --model but received 'yolo11n'/);
  });
});
