/** Why a decoded frame was not inferred. */
export const DROP_REASONS = ['behind', 'stale', 'every_nth', 'fps', 'gone', 'error'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * One camera's frame accounting: every decoded frame is either taken into a batch or counted as
 * dropped, with the reason. Frames are counted by seq, from the first one seen.
 */
export class DropLedger {
  /** Every frame up to this seq was taken into a batch or counted as dropped. */
  doneSeq = -1;
  /** Why frames after doneSeq wait: the reason they get if a newer one is taken. */
  waitReason: DropReason = 'behind';
  /** Decoded frames never inferred (the sum of `reasons`). */
  dropped = 0;
  readonly reasons = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;

  /** A frame was decoded: counting starts at the first one seen. */
  seen(seq: number): void {
    if (this.doneSeq < 0) this.doneSeq = seq - 1;
  }

  /** Whether frames newer than the last one accounted for wait. */
  waiting(newestSeq: number): boolean {
    return newestSeq > this.doneSeq;
  }

  /** Frames waiting for their turn (not dropped, nor in a batch yet). */
  pending(newestSeq: number): number {
    return Math.max(0, newestSeq - this.doneSeq);
  }

  /** Frames (doneSeq, upTo) were not taken, for `reason` (upTo too when inclusive); doneSeq moves on. */
  drop(upTo: number, reason: DropReason, inclusive = false): void {
    const n = upTo - this.doneSeq - (inclusive ? 0 : 1);
    if (n > 0) {
      this.reasons[reason] += n;
      this.dropped += n;
    }
    this.doneSeq = Math.max(this.doneSeq, inclusive ? upTo : upTo - 1);
  }

  /** Frame `seq` was taken into a batch: the ones it skipped are dropped for why they waited. */
  take(seq: number): void {
    this.drop(seq, this.waitReason);
    this.doneSeq = Math.max(this.doneSeq, seq);
    this.waitReason = 'behind';
  }

  /** The newest frame is too old to make the budget: it and the older waiting ones are dropped. */
  stale(newestSeq: number): void {
    this.drop(newestSeq, this.waitReason);
    this.drop(newestSeq, 'stale', true);
    this.waitReason = 'behind';
  }

  /** The detector failed: `taken` frames of its batch and every waiting one are dropped. */
  failed(newestSeq: number, taken: number): void {
    this.reasons.error += taken;
    this.dropped += taken;
    this.drop(newestSeq, 'error', true);
  }

  /** Drops by the budget policy so far (a recovery reports how many). */
  policyDrops(): number {
    return this.reasons.stale + this.reasons.every_nth;
  }
}
