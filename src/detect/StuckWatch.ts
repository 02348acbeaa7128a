/** A batch on its way, since when (performance.now() ms). */
export interface InFlightBatch {
  readonly since: number;
}

/**
 * Whether inference makes progress, for the service manager's watchdog: batches running,
 * batches failing, frames waiting with no batch finishing.
 */
export class StuckWatch {
  /** Batches launched and not finished, with when each launched (performance.now()). */
  private readonly inFlight = new Set<InFlightBatch>();
  /** When frames started waiting with none finished since (null: nothing waiting since the last batch). */
  private waitingFrom: number | null = null;
  /** Batches have failed since this performance.now() with none detecting since (null: the last one did), and why. */
  private failing: { since: number; message: string } | null = null;

  /** A newer frame came at `nowMs`: waiting starts now unless it already had. */
  frameWaiting(nowMs: number): void {
    this.waitingFrom ??= nowMs;
  }

  /** A batch launched at `nowMs`; the token it finishes with. */
  launched(nowMs: number): InFlightBatch {
    const batch = { since: nowMs };
    this.inFlight.add(batch);
    return batch;
  }

  /** A batch finished (detected or failed): whatever waited before has had its turn. */
  finished(batch: InFlightBatch): void {
    this.inFlight.delete(batch);
    this.waitingFrom = null;
  }

  /** The detector failed: failing since the first failure in a row. */
  failed(message: string, nowMs: number): void {
    this.failing = { since: this.failing?.since ?? nowMs, message };
  }

  /** A frame was detected: not failing. */
  detected(): void {
    this.failing = null;
  }

  /**
   * null when inference makes progress, else why not. Stuck: a batch has run longer than
   * `stuckMs`, batches have failed that long, or frames of `waitingCameras` (those whose frames
   * wait on the detector, not on a policy) have waited that long with no batch launched.
   */
  stuck(stuckMs: number, now: number, waitingCameras: () => string[]): string | null {
    const oldest = Math.min(...[...this.inFlight].map((b) => b.since));
    if (now - oldest > stuckMs)
      return `inference has been running one batch for ${((now - oldest) / 1000).toFixed(1)} s`;
    // A batch fails over and over (a detector in a broken state): only a restart helps.
    const f = this.failing;
    if (f && now - f.since > stuckMs)
      return `inference has failed for ${((now - f.since) / 1000).toFixed(1)} s: ${f.message}`;
    const waiting = waitingCameras();
    if (waiting.length === 0) this.waitingFrom = null; // caught up, or held by a policy
    if (
      this.inFlight.size === 0 &&
      this.waitingFrom !== null &&
      waiting.length > 0 &&
      now - this.waitingFrom > stuckMs
    ) {
      return `frames of ${waiting.join(', ')} waiting ${((now - this.waitingFrom) / 1000).toFixed(1)} s, no inference launched`;
    }
    return null;
  }
}
