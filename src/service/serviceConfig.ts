import { z } from 'zod';

/** Running under a service manager (systemd: Type=notify, WatchdogSec). */
export const serviceSchema = z.strictObject({
  /** The watchdog is not fed while inference has made no progress for this long (a stuck pipeline: systemd restarts the daemon). */
  watchdog_stuck_seconds: z.number().min(1).max(3600).default(30),
  /** SIGTERM: cameras closed, events and clips written, the store flushed within this bound, else exit 1 (keep under TimeoutStopSec). */
  stop_timeout_seconds: z.number().min(1).max(600).default(20),
  /** How often STATUS= (the one line `systemctl status` shows) is refreshed. */
  status_seconds: z.number().min(1).max(3600).default(5),
});

export type ServiceConfig = z.output<typeof serviceSchema>;
