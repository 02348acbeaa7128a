import { z } from 'zod';

/** HTTP server settings. Loopback by default: authentication arrives with the live view. */
export const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.int().min(0).max(65535).default(8080),
});

export type ServerConfig = z.output<typeof serverSchema>;
