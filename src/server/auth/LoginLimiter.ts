/** Failures allowed within a sliding window. */
export interface WindowLimit {
  max: number;
  windowMs: number;
}

// Keys tracked per window at most: a flood of made-up user names cannot grow memory without
// bound, and pushing a real user's count out takes as many password checks (scrypt) first.
const MAX_KEYS = 100_000;

/** Recent failure times per key, newest last, at most `max` of them. */
class FailureWindow {
  private readonly byKey = new Map<string, number[]>();

  constructor(
    private readonly limit: WindowLimit,
    private readonly now: () => number,
    private readonly maxKeys: number,
  ) {}

  /** Milliseconds until the key may fail again; 0 when it may now. */
  waitMs(key: string): number {
    const times = this.live(key);
    if (times.length < this.limit.max) return 0;
    return times[times.length - this.limit.max]! + this.limit.windowMs - this.now();
  }

  add(key: string): void {
    const times = this.live(key);
    times.push(this.now());
    if (times.length > this.limit.max) times.splice(0, times.length - this.limit.max);
    // Re-inserting keeps the map in order of last failure: eviction drops the quietest key.
    this.byKey.delete(key);
    this.byKey.set(key, times);
    if (this.byKey.size > this.maxKeys) this.evict();
  }

  /** Takes back the newest failure (the attempt turned out to succeed). */
  undo(key: string): void {
    const times = this.byKey.get(key);
    times?.pop();
    if (times?.length === 0) this.byKey.delete(key);
  }

  clear(key: string): void {
    this.byKey.delete(key);
  }

  private live(key: string): number[] {
    const times = this.byKey.get(key) ?? [];
    const cutoff = this.now() - this.limit.windowMs;
    while (times.length > 0 && times[0]! <= cutoff) times.shift();
    return times;
  }

  /** Drops keys from the front (oldest last failure first): the expired ones, then as many as it must. */
  private evict(): void {
    const cutoff = this.now() - this.limit.windowMs;
    for (const [key, times] of this.byKey) {
      if (this.byKey.size <= this.maxKeys && times.at(-1)! > cutoff) break;
      this.byKey.delete(key);
    }
  }
}

/**
 * Login failures counted per (user, client address) and, more slowly, per user from any
 * address: one address's failures do not lock the user out from another, and guessing one
 * user's password from many addresses is limited too. Successful logins are not counted.
 */
export class LoginLimiter {
  private readonly pairs: FailureWindow;
  private readonly users: FailureWindow;

  constructor(limits: { perUserAndAddress: WindowLimit; perUser: WindowLimit }, now: () => number = Date.now, maxKeys = MAX_KEYS) {
    this.pairs = new FailureWindow(limits.perUserAndAddress, now, maxKeys);
    this.users = new FailureWindow(limits.perUser, now, maxKeys);
  }

  /**
   * Starts an attempt: null when it may go on (it counts as a failure until `succeeded`, so
   * parallel attempts cannot slip past the count), else the seconds to wait.
   */
  begin(user: string, address: string): number | null {
    const pair = JSON.stringify([user, address]);
    const waitMs = Math.max(this.pairs.waitMs(pair), this.users.waitMs(user));
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
    this.pairs.add(pair);
    this.users.add(user);
    return null;
  }

  /** The attempt begun last for this user and address was right: its count is taken back. */
  succeeded(user: string, address: string): void {
    this.pairs.clear(JSON.stringify([user, address]));
    this.users.undo(user);
  }
}
