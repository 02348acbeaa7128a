import { z } from 'zod';

import { detectSchema } from '../detect/detectConfig.js';
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
    cameras: z.array(cameraSchema).default([]),
  })
  .superRefine((cfg, ctx) => {
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
