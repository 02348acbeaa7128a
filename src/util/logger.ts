import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { z } from 'zod';

import { redactJsonLine } from './redact.js';

export const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** libav's own messages (per-packet decoder chatter); Vigil reports media errors itself. */
  libav: z.enum(['quiet', 'fatal', 'error', 'warning', 'info', 'debug']).default('fatal'),
});
export type LogConfig = z.output<typeof logSchema>;

/**
 * The root logger: JSON lines on stdout (journald and log shippers read them as they are). Every
 * line, its children's included, passes redactJsonLine on its way out: whatever a message, an
 * error or a binding quotes (a camera URL, a config line), no password reaches the journal, and a
 * secret-named field (password, cookie, authorization) is "***" whatever its value's type.
 */
export function createLogger(level: LevelWithSilent = 'info', destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { app: 'vigil' },
    timestamp: pino.stdTimeFunctions.isoTime,
    hooks: { streamWrite: redactJsonLine },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A tagged logger per module, e.g. moduleLogger(root, 'CameraSupervisor', { camera: 'door' }). */
export function moduleLogger(root: Logger, module: string, bindings: Record<string, unknown> = {}): Logger {
  return root.child({ module, ...bindings });
}

export type { Logger };
