import { homedir } from 'node:os';
import { join } from 'node:path';

import { z } from 'zod';

/** Where Vigil keeps state (users): systemd's StateDirectory when it runs as a service. */
export function defaultDataDir(): string {
  return process.env.STATE_DIRECTORY?.split(':')[0] || join(homedir(), '.local', 'state', 'vigil');
}

/**
 * Authentication. Every API request and the live WebSocket need a session (cookie) or a bearer
 * token, whatever address they come from. On first run an admin account is created: with
 * `admin_password` when set, else with a random password printed once.
 */
export const authSchema = z.strictObject({
  /** The users file (scrypt hashes, mode 0600). Default: <data_dir>/users.json. */
  users_file: z.string().min(1).optional(),
  /** The admin's password; when set it replaces the stored one at start. */
  admin_password: z.string().min(8).max(256).optional(),
  /** How long a login lasts. */
  session_hours: z
    .number()
    .positive()
    .max(24 * 365)
    .default(12),
  /** Origins besides the daemon's own that may open the WebSocket (e.g. a reverse proxy's). */
  allowed_origins: z.array(z.url()).default([]),
  /** Failed logins allowed per user name and client address per minute (one address cannot lock a user out from another). */
  login_per_minute: z.int().min(1).max(1000).default(10),
  /** Failed logins allowed per user name per hour from all addresses together. */
  login_per_user_per_hour: z.int().min(1).max(100_000).default(60),
  /**
   * How long a (user, address) pair that logged in stays exempt from the per-user limit (kept
   * in <data_dir>/known-logins.json across restarts). Longer than a session: a session's end is
   * when its user must log in again.
   */
  known_address_days: z.int().min(1).max(3650).default(30),
});

export type AuthConfig = z.output<typeof authSchema>;
