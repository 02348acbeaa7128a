import { z } from 'zod';

/**
 * What events keep besides their row: a snapshot (JPEG of the best-scored frame the pool still
 * held) and a clip (the camera's encoded stream from `pre_roll_seconds` before the event to
 * `post_roll_seconds` after it, as MP4), and how long they are kept.
 */
export const mediaSchema = z.strictObject({
  /** Where snapshots and clips are written. Default: <data_dir>/media. */
  dir: z.string().min(1).optional(),
  snapshots: z
    .strictObject({
      enabled: z.boolean().default(true),
      quality: z.int().min(1).max(100).default(85),
      /** A better detection replaces the snapshot at most this often. */
      min_interval_ms: z.int().min(0).max(600_000).default(1000),
    })
    .prefault({}),
  clips: z
    .strictObject({
      enabled: z.boolean().default(true),
      pre_roll_seconds: z.number().min(0).max(120).default(5),
      post_roll_seconds: z.number().min(0).max(120).default(5),
      /** A longer event's clip ends here (the event goes on without it). */
      max_seconds: z.number().min(1).max(3600).default(300),
    })
    .prefault({}),
  /** Oldest events go first (row, snapshot and clip together); open or recording events stay. */
  retention: z
    .strictObject({
      /** Events that started longer ago than this are deleted; 0 keeps them. */
      max_age_days: z.number().min(0).max(36_500).default(30),
      /** Snapshots and clips together stay under this; 0: no quota. */
      max_mb: z.number().min(0).max(1e9).default(10_240),
      /** The filesystem keeps at least this much free (events are deleted to make room); 0: no check. */
      min_free_mb: z.number().min(0).max(1e9).default(1024),
      check_seconds: z.number().min(1).max(86_400).default(60),
    })
    .prefault({}),
});

export type MediaConfig = z.output<typeof mediaSchema>;
