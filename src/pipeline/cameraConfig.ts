import { z } from 'zod';

import { BUDGET_DEFAULTS, budgetSchema } from '../budget/budgetConfig.js';
import { lineSchema, zoneSchema } from '../events/eventsConfig.js';

/** Reconnect policy: exponential backoff with jitter and a cap. */
export const backoffSchema = z
  .strictObject({
    initial_ms: z.int().min(10).max(600_000).default(500),
    max_ms: z.int().min(10).max(3_600_000).default(30_000),
    multiplier: z.number().min(1).max(10).default(2),
    /** Fraction of each delay that is randomised (0 = none, 1 = anywhere in [0, delay]). */
    jitter: z.number().min(0).max(1).default(0.5),
  })
  .refine((b) => b.initial_ms <= b.max_ms, {
    message: 'initial_ms must not exceed max_ms',
    path: ['initial_ms'],
  });

const RTSP_OR_FILE = /^(rtsps?:\/\/[^\s]+|[^:\s][^\s]*|file:[^\s]+)$/;

/** One camera as written in the config file. The camera module owns these defaults. */
export const cameraSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, {
    message: 'an id of letters, digits, - and _ (at most 64, starting with a letter or digit)',
  }),
  name: z.string().min(1).max(200).optional(),
  url: z.string().regex(RTSP_OR_FILE, {
    message: 'an rtsp:// or rtsps:// URL, or a file path',
  }),
  enabled: z.boolean().default(true),
  transport: z.enum(['tcp', 'udp']).default('tcp'),
  /** No data for this long while opening or reading ends the session (then backoff). */
  timeout_ms: z.int().min(100).max(600_000).default(5000),
  /** No decoded frame for this long while streaming = stalled (then backoff, reconnect). */
  stall_seconds: z.number().min(0.5).max(3600).default(5),
  /** File sources: play at the stream's pace like a live camera. */
  realtime: z.boolean().default(true),
  /** File sources: start again at the end. */
  loop: z.boolean().default(false),
  /** auto: NVDEC when the GPU and FFmpeg allow (else software, saying why); nvdec: required; software. */
  decoder: z.enum(['auto', 'software', 'nvdec']).default('auto'),
  /** Run the detector on this camera (when the detector is enabled). */
  detect: z.boolean().default(true),
  /** Send video to the live view (H.264 passes through, remuxed to fMP4; no re-encoding). */
  live: z.boolean().default(true),
  decode_threads: z.int().min(0).max(64).default(0),
  /**
   * low_latency: every packet's frame is out before the next packet comes (slice threads);
   * throughput: frame threads, more frames per second per core, threads−1 frames later.
   */
  decode_mode: z.enum(['low_latency', 'throughput']).default('low_latency'),
  backoff: backoffSchema.default({ initial_ms: 500, max_ms: 30_000, multiplier: 2, jitter: 0.5 }),
  /** Latency budget: first packet received → detections out (ms). Unset = none. */
  budget_ms: z.int().min(1).max(600_000).optional(),
  /** Run the detector at most this many times a second on this camera. Unset = as often as it can. */
  target_fps: z.number().min(0.1).max(1000).optional(),
  /** What happens when budget_ms is breached, and the hysteresis (src/budget/budgetConfig.ts). */
  budget: budgetSchema.default(BUDGET_DEFAULTS),
  /** Zones (polygons in source pixels): a tracked object inside one is an event (src/events/). */
  zones: z.array(zoneSchema).max(64).default([]),
  /** Tripwires (segments in source pixels): a tracked object crossing one is an event. */
  lines: z.array(lineSchema).max(64).default([]),
  /** Test only: makes this camera's inference stage slower by infer_delay_ms (latency tests). */
  testing: z.strictObject({ infer_delay_ms: z.int().min(0).max(60_000).default(0) }).optional(),
}).superRefine((cam, ctx) => {
  // Zones and lines share one id space: an event names the rule that made it.
  const seen = new Set<string>();
  for (const [kind, rules] of [['zones', cam.zones], ['lines', cam.lines]] as const) {
    rules.forEach((r, i) => {
      if (seen.has(r.id)) ctx.addIssue({ code: 'custom', path: [kind, i, 'id'], input: r.id, message: 'a rule id not already used by another zone or line of this camera' });
      seen.add(r.id);
    });
  }
});

export type CameraConfig = z.output<typeof cameraSchema>;
export type BackoffConfig = z.output<typeof backoffSchema>;
