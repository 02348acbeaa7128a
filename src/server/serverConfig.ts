import { z } from 'zod';

/** HTTP server settings. Loopback by default; every API request needs a login either way (auth). */
export const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.int().min(0).max(65535).default(8080),
  /** Live view: bytes queued for one WebSocket client before its video skips to the next keyframe. */
  live_queue_kb: z.int().min(16).max(65536).default(1024),
  /** Live view: ping every this often; a client that has not answered the last ping is dropped. */
  live_ping_seconds: z.number().min(0.2).max(600).default(10),
});

export type ServerConfig = z.output<typeof serverSchema>;
