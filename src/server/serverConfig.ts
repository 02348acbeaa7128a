import { isIP } from 'node:net';

import { z } from 'zod';

// proxy-addr's (fastify's trustProxy) forms: an address, address/prefix, or a named range.
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);
function isAddressOrRange(s: string): boolean {
  if (NAMED_RANGES.has(s)) return true;
  const [addr = '', prefix, extra] = s.split('/');
  const family = isIP(addr);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** HTTP server settings. Loopback by default; every API request needs a login either way (auth). */
export const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.int().min(0).max(65535).default(8080),
  /** Live view: bytes queued for one WebSocket client before its video skips to the next keyframe. */
  live_queue_kb: z.int().min(16).max(65536).default(1024),
  /** Live view: ping every this often; a client that has not answered the last ping is dropped. */
  live_ping_seconds: z.number().min(0.2).max(600).default(10),
  /**
   * Reverse proxies whose X-Forwarded-For names the client (login limits, logs). From any other
   * peer the header is ignored: anyone could send it.
   */
  trusted_proxies: z
    .array(
      z.string().refine(isAddressOrRange, {
        message: 'an IP address, a CIDR range (10.0.0.0/8, fd00::/8) or loopback, linklocal, uniquelocal',
      }),
    )
    .max(64)
    .default([]),
});

export type ServerConfig = z.output<typeof serverSchema>;
