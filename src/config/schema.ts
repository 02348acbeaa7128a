import { z } from 'zod';

import { cameraSchema } from '../pipeline/cameraConfig.js';
import { serverSchema } from '../server/serverConfig.js';
import { logSchema } from '../util/logger.js';

export const configSchema = z
  .strictObject({
    server: serverSchema.default({ host: '127.0.0.1', port: 8080 }),
    log: logSchema.default({ level: 'info', libav: 'fatal' }),
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
