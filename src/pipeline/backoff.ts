import type { BackoffConfig } from './cameraConfig.js';

/**
 * Delay before reconnect attempt `attempt` (0-based): initial × multiplier^attempt, capped at
 * max_ms, with the top `jitter` fraction randomised so cameras that fail together do not
 * reconnect in lockstep. `random` is in [0, 1).
 */
export function backoffDelay(cfg: BackoffConfig, attempt: number, random: () => number = Math.random): number {
  const raw = cfg.initial_ms * Math.pow(cfg.multiplier, Math.max(0, attempt));
  const capped = Math.min(cfg.max_ms, raw);
  return Math.round(capped * (1 - cfg.jitter * random()));
}
