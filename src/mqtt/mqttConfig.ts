import { z } from 'zod';

import { backoffSchema } from '../pipeline/cameraConfig.js';

/** MQTT for the rest of the building (src/mqtt/MqttPublisher.ts); absent = off. */
export const mqttSchema = z.strictObject({
  url: z.string().regex(/^mqtts?:\/\/[^\s]+$/, { message: 'an mqtt:// or mqtts:// URL' }),
  /** Topics: <prefix>/events/<camera>, <prefix>/cameras/<camera>/state (retained), <prefix>/status (retained, LWT). */
  topic_prefix: z
    .string()
    .regex(/^[^#+\s]+$/, { message: 'a topic prefix without wildcards or spaces' })
    .default('vigil'),
  client_id: z.string().min(1).max(128).optional(),
  username: z.string().min(1).max(256).optional(),
  password: z.string().min(1).max(256).optional(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
  /** Messages kept while the broker is away; beyond this the oldest are dropped (and counted). */
  queue_max: z.int().min(1).max(1_000_000).default(10_000),
  /** Reconnect with exponential backoff and jitter (the cameras' policy). */
  backoff: backoffSchema.default({ initial_ms: 500, max_ms: 30_000, multiplier: 2, jitter: 0.5 }),
});

export type MqttConfig = z.output<typeof mqttSchema>;
