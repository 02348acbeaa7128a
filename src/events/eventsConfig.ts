import { z } from 'zod';

import { COCO_LABELS } from '../protocol/cocoLabels.js';

const label = z.string().refine((l) => (COCO_LABELS as readonly string[]).includes(l), {
  message: 'a COCO class name (person, car, bicycle…)',
});

/**
 * A zone of one camera: a polygon in source-frame pixels. A confirmed track of one of `classes`
 * whose anchor (the bottom centre of its box: where it stands) stays inside for `min_dwell_ms`
 * opens an event; leaving the zone, or the track ending, closes it.
 */
export const zoneSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, { message: 'an id of letters, digits, - and _ (at most 64)' }),
  polygon: z
    .array(z.tuple([z.number().min(0).max(100_000), z.number().min(0).max(100_000)]))
    .min(3)
    .max(64),
  /** Empty: every class. */
  classes: z.array(label).max(80).default([]),
  min_dwell_ms: z.int().min(0).max(3_600_000).default(0),
});

/**
 * A tripwire of one camera: a segment A→B in source-frame pixels. A confirmed track whose anchor
 * (the bottom centre of its box) crosses it makes an instant event. `direction`, as seen
 * standing at A looking at B: left_to_right, right_to_left, or any.
 */
export const lineSchema = z.strictObject({
  id: zoneSchema.shape.id,
  points: z
    .tuple([
      z.tuple([z.number().min(0).max(100_000), z.number().min(0).max(100_000)]),
      z.tuple([z.number().min(0).max(100_000), z.number().min(0).max(100_000)]),
    ])
    .refine(([a, b]) => a[0] !== b[0] || a[1] !== b[1], { message: 'two different points' }),
  classes: z.array(label).max(80).default([]),
  direction: z.enum(['any', 'left_to_right', 'right_to_left']).default('any'),
  /** A track crossing this line again within this long (a box jittering over it) makes no new event. */
  cooldown_ms: z.int().min(0).max(3_600_000).default(1000),
});

/** Tracking settings (src/events/Tracker.ts), for every camera. */
export const trackerSchema = z.strictObject({
  iou_threshold: z.number().min(0.05).max(0.95).default(0.3),
  high_score: z.number().min(0.05).max(1).default(0.5),
  min_hits: z.int().min(1).max(100).default(3),
  max_age: z.int().min(1).max(1000).default(15),
});

export type ZoneConfig = z.output<typeof zoneSchema>;
export type LineConfig = z.output<typeof lineSchema>;
export type TrackerConfig = z.output<typeof trackerSchema>;
