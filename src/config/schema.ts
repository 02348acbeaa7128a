import { z } from 'zod';

import { detectSchema } from '../detect/detectConfig.js';
import { modelEntrySchema, SHIPPED_MODELS } from '../detect/modelConfig.js';
import { mediaSchema } from '../media/mediaConfig.js';
import { mqttSchema } from '../mqtt/mqttConfig.js';
import { cameraSchema } from '../pipeline/cameraConfig.js';
import { authSchema } from '../server/auth/authConfig.js';
import { serverSchema } from '../server/serverConfig.js';
import { serviceSchema } from '../service/serviceConfig.js';
import { logSchema } from '../util/logger.js';

export const configSchema = z
  .strictObject({
    server: serverSchema.prefault({}),
    /** Where state lives (users file). Default: $STATE_DIRECTORY under systemd, else ~/.local/state/vigil. */
    data_dir: z.string().min(1).optional(),
    auth: authSchema.prefault({}),
    log: logSchema.default({ level: 'info', libav: 'fatal' }),
    detect: detectSchema.default({
      enabled: true,
      backend: 'cpu',
      precision: 'auto',
      score_threshold: 0.4,
      iou_threshold: 0.6,
      max_detections: 100,
      threads: 0,
      batch: { max_size: 1, timeout_ms: 20 },
      tensorrt: { max_batch: 8 },
      tracker: { iou_threshold: 0.3, high_score: 0.5, min_hits: 3, max_age: 15 },
    }),
    /** Event snapshots and clips, and their retention (src/media/). */
    media: mediaSchema.prefault({}),
    /** Under a service manager: watchdog, stop bound, status line (src/service/). */
    service: serviceSchema.prefault({}),
    /** Events and camera states to an MQTT broker; absent = off. */
    mqtt: mqttSchema.optional(),
    /** Detector models beyond the shipped ones (src/detect/modelConfig.ts); cameras name them by id. */
    models: z.array(modelEntrySchema).max(32).default([]),
    cameras: z.array(cameraSchema).default([]),
  })
  .superRefine((cfg, ctx) => {
    const ids = new Set(Object.keys(SHIPPED_MODELS));
    const declared = new Map<string, number>();
    cfg.models.forEach((m, i) => {
      const first = declared.get(m.id);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'id'],
          input: m.id,
          message: `a model id not already used by models[${first}]`,
        });
      declared.set(m.id, i);
      ids.add(m.id);
    });
    const known = [...ids].join(', ');
    cfg.cameras.forEach((cam, i) => {
      if (cam.model !== undefined && !ids.has(cam.model))
        ctx.addIssue({
          code: 'custom',
          path: ['cameras', i, 'model'],
          input: cam.model,
          message: `a model id (${known})`,
        });
    });
    const dm = cfg.detect.model;
    // detect.model may still be an ONNX file (a NanoDet-family model): anything with a path or .onnx in it.
    if (dm !== undefined && !ids.has(dm) && !/[/\\]|\.onnx$/i.test(dm))
      ctx.addIssue({
        code: 'custom',
        path: ['detect', 'model'],
        input: dm,
        message: `a model id (${known}) or an ONNX file`,
      });
    const seen = new Map<string, number>();
    cfg.cameras.forEach((cam, i) => {
      const first = seen.get(cam.id);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['cameras', i, 'id'],
          input: cam.id,
          message: `a camera id not already used by cameras[${first}]`,
        });
      } else {
        seen.set(cam.id, i);
      }
    });
  });

export type VigilConfig = z.output<typeof configSchema>;
