import { z } from 'zod';

/**
 * What a camera does when its latency budget (`budget_ms`, packet received → detections out) is
 * breached. The policy is engaged on a breach and stays engaged until `hold_seconds` after the
 * recovery, so a camera that only keeps its budget because of the policy does not flap.
 *   newest_wins  drop a frame that can no longer make the budget (its age + the expected
 *                inference time > budget_ms) and take the next fresh one
 *   every_nth    infer only every `every_nth` decoded frame (lightens the shared detector)
 *   short_batch  for a batching (GPU) backend, to halve its batch timeout; no backend
 *                batches yet (the CPU one runs batch 1, no batch wait): today alarm only
 *   alarm_only   change nothing: events and metrics only
 */
export const BUDGET_POLICIES = ['newest_wins', 'every_nth', 'short_batch', 'alarm_only'] as const;
export type BudgetPolicy = (typeof BUDGET_POLICIES)[number];

export const budgetSchema = z.strictObject({
  policy: z.enum(BUDGET_POLICIES).default('newest_wins'),
  /** every_nth: infer one frame in this many while the policy is engaged. */
  every_nth: z.int().min(2).max(100).default(2),
  /** This many detected frames in a row over budget_ms = a breach. */
  breach_frames: z.int().min(1).max(10_000).default(5),
  /** This many in a row within budget_ms (after a breach) = recovered. */
  recover_frames: z.int().min(1).max(10_000).default(30),
  /** The policy stays engaged this long after a recovery (0 = disengage at once). */
  hold_seconds: z.number().min(0).max(3600).default(30),
});

export type BudgetConfig = z.output<typeof budgetSchema>;
export const BUDGET_DEFAULTS: BudgetConfig = {
  policy: 'newest_wins',
  every_nth: 2,
  breach_frames: 5,
  recover_frames: 30,
  hold_seconds: 30,
};
