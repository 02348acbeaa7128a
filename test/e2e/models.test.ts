import { join } from 'node:path';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError, validateConfig } from '../../src/config/loadConfig.js';
import type { Daemon } from '../../src/daemon/Daemon.js';
import type { BatchEvent, DetectionEvent } from '../../src/detect/DetectionService.js';
import { shippedFiles } from '../../src/detect/ModelDetectors.js';
import { cameraHealth, health, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { writeYoloTestModel } from '../helpers/headGraphs.js';
import { tempDir } from '../helpers/tempDir.js';

let running: Daemon | null = null;
let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264');
  shippedFiles('nanodet').fp32(); // the setup step made them; fail early and clearly otherwise
  shippedFiles('centernet').fp32();
}, 300_000);

afterEach(async () => {
  await running?.close();
  running = null;
});

interface ModelRow {
  id: string;
  family: string;
  status: string;
  cameras: string[];
  reason: string | null;
}

describe('several models in one daemon, chosen per camera', () => {
  it('two cameras on NanoDet and one on CenterNet: each model batches its own cameras and finds the people', async () => {
    const cams = ['door', 'yard', 'street'].map((id) => ({ id, url: h264, loop: true }));
    const { daemon, url } = await startDaemon([cams[0]!, cams[1]!, { ...cams[2]!, model: 'centernet' }], {
      detect: { enabled: true, batch: { max_size: 2, timeout_ms: 50 } },
    });
    running = daemon;
    const batches = new Map<string, BatchEvent[]>([
      ['nanodet', []],
      ['centernet', []],
    ]);
    for (const [id, seen] of batches) daemon.models!.service(id)!.on('batch', (ev) => seen.push(ev));
    const people = new Map<string, number>();
    daemon.on('detections', (ev: DetectionEvent) => {
      const n = ev.detections.filter((d) => d.label === 'person' && d.score > 0.5).length;
      people.set(ev.camera, Math.max(people.get(ev.camera) ?? 0, n));
    });
    await waitFor(
      () => ['door', 'yard', 'street'].every((c) => (people.get(c) ?? 0) >= 3),
      90_000,
      'people on every camera',
    );

    const h = (await health(url)) as unknown as { detector: { status: string }; models: ModelRow[] };
    expect(h.models.map((m) => [m.id, m.family, m.status, [...m.cameras].sort()])).toEqual([
      ['nanodet', 'nanodet', 'ready', ['door', 'yard']],
      ['centernet', 'centernet', 'ready', ['street']],
    ]);
    expect(h.detector.status).toBe('ready'); // the default model's
    // Each service batched only its own cameras; NanoDet's two shared batches.
    const camsOf = (id: string) => new Set(batches.get(id)!.flatMap((b) => b.cameras));
    expect([...camsOf('nanodet')].sort()).toEqual(['door', 'yard']);
    expect([...camsOf('centernet')]).toEqual(['street']);
    expect(batches.get('nanodet')!.some((b) => b.cameras.length === 2)).toBe(true);
    for (const id of ['door', 'street']) {
      const cam = (await cameraHealth(url, id)) as unknown as { detect: { framesInferred: number } };
      expect(cam.detect.framesInferred).toBeGreaterThan(0);
    }
  }, 180_000);

  it("a model from the config's models: (an ONNX file), and one that cannot load, beside a working one", async () => {
    const dir = tempDir('vigil-models-');
    const yolo = join(dir, 'yolo.onnx');
    writeYoloTestModel(yolo);
    const { daemon, url } = await startDaemon(
      [
        { id: 'a', url: h264, loop: true },
        { id: 'b', url: h264, loop: true, model: 'mine' },
        { id: 'c', url: h264, loop: true, model: 'gone' },
      ],
      {
        detect: { enabled: true },
        models: [
          { id: 'mine', source: yolo, family: 'yolo', classes: ['x', 'y', 'z'], input: { size: 128 } },
          { id: 'gone', source: join(dir, 'missing.onnx'), family: 'detr', input: { size: 640 } },
        ],
      },
    );
    running = daemon;
    await waitFor(
      async () => {
        const b = (await cameraHealth(url, 'b')) as unknown as { detect: { framesInferred: number } | null };
        const a = (await cameraHealth(url, 'a')) as unknown as { detect: { framesInferred: number } | null };
        return (b.detect?.framesInferred ?? 0) >= 5 && (a.detect?.framesInferred ?? 0) >= 5;
      },
      60_000,
      'frames inferred on a (NanoDet) and b (the YOLO file)',
    );
    const h = (await health(url)) as unknown as { status: string; models: ModelRow[] };
    const row = (id: string) => h.models.find((m) => m.id === id)!;
    expect(row('mine')).toMatchObject({ family: 'yolo', status: 'ready', cameras: ['b'] });
    expect(row('gone')).toMatchObject({ family: 'detr', status: 'unavailable', cameras: ['c'] });
    expect(row('gone').reason).toMatch(/missing\.onnx/);
    expect(h.status).toBe('degraded'); // a camera's model is unavailable
    const c = (await cameraHealth(url, 'c')) as unknown as { state: string; detect: unknown };
    expect(c.state).toBe('streaming'); // it runs on without detection
    expect(c.detect).toBeNull();
  }, 120_000);

  it('a camera naming an unknown model, or an ONNX model without its family, is a config error naming the field', () => {
    const problems = (raw: unknown) => {
      try {
        validateConfig(raw, 'test');
      } catch (err) {
        return (err as ConfigError).problems.join('\n');
      }
      return '';
    };
    expect(problems({ cameras: [{ id: 'a', url: h264, model: 'yolov9' }] })).toMatch(
      /a model id \(nanodet, centernet\) for cameras\[0\]\.model but received 'yolov9'/,
    );
    expect(problems({ models: [{ id: 'm', source: '/x.onnx', input: { size: 640 } }] })).toMatch(/models\[0\]\.family/);
    expect(
      problems({
        models: [{ id: 'm', source: '/x.onnx', family: 'yolo', input: { size: 640 }, head: { format: 'fancy' } }],
      }),
    ).toMatch(/models\[0\]\.head\.format/);
    expect(problems({ models: [{ id: 'c', source: 'centernet', input: { size: 640 } }] })).toMatch(
      /models\[0\]\.input/,
    );
    expect(problems({ detect: { model: 'nosuch' } })).toMatch(
      /a model id \(nanodet, centernet\) or an ONNX file for detect\.model but received 'nosuch'/,
    );
    expect(
      problems({ models: [{ id: 'cn', source: 'centernet' }], cameras: [{ id: 'a', url: h264, model: 'cn' }] }),
    ).toBe('');
  });
});
