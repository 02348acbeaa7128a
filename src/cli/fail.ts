import { ConfigError } from '../config/loadConfig.js';
import { redactSecrets } from '../util/redact.js';

/** Prints the error (its secrets masked: a terminal, CI logs, a journal read it) and exits: 2 for a bad config. */
export function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${redactSecrets(err.message)}\n`);
    process.exit(2);
  }
  process.stderr.write(`vigil: ${redactSecrets((err as Error).message ?? String(err))}\n`);
  process.exit(1);
}
