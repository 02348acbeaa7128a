import { isIPv4, isIPv6 } from 'node:net';

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
 * The address a login is counted under: IPv4 as is (an IPv4-mapped IPv6 address as its IPv4),
 * IPv6 by its /64, the block one host or one customer line is usually given.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address) || !isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  // An embedded IPv4 tail (…:1.2.3.4) stands for two groups.
  const width = right.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - width)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Pairs that logged in recently, oldest success first; bounded like the failure windows. */
class KnownPairs {
  private readonly at = new Map<string, number>();

  constructor(
    private readonly forMs: number,
    private readonly now: () => number,
    private readonly maxKeys: number,
  ) {}

  has(key: string): boolean {
    const t = this.at.get(key);
    if (t === undefined) return false;
    if (t + this.forMs > this.now()) return true;
    this.at.delete(key);
    return false;
  }

  add(key: string): void {
    this.at.delete(key);
    this.at.set(key, this.now());
    for (const k of this.at.keys()) {
      if (this.at.size <= this.maxKeys) break;
      this.at.delete(k);
    }
  }
}

/**
 * Login failures counted per (user, client address) and, more slowly, per user from any
 * address: one address's failures do not lock the user out from another, and guessing one
 * user's password from many addresses is limited too. Successful logins are not counted.
 * A (user, address) pair that logged in within `knownForMs` (the session lifetime) is held only
 * to its own limit, not the per-user one: failures from elsewhere cannot lock the user out of
 * the place they log in from. IPv6 addresses count by /64 (addressKey).
 */
export class LoginLimiter {
  private readonly pairs: FailureWindow;
  private readonly users: FailureWindow;
  private readonly known: KnownPairs;

  constructor(
    limits: { perUserAndAddress: WindowLimit; perUser: WindowLimit; knownForMs: number },
    now: () => number = Date.now,
    maxKeys = MAX_KEYS,
  ) {
    this.pairs = new FailureWindow(limits.perUserAndAddress, now, maxKeys);
    this.users = new FailureWindow(limits.perUser, now, maxKeys);
    this.known = new KnownPairs(limits.knownForMs, now, maxKeys);
  }

  /**
   * Starts an attempt: null when it may go on (it counts as a failure until `succeeded`, so
   * parallel attempts cannot slip past the count), else the seconds to wait.
   */
  begin(user: string, address: string): number | null {
    const pair = pairKey(user, address);
    const userWaitMs = this.known.has(pair) ? 0 : this.users.waitMs(user);
    const waitMs = Math.max(this.pairs.waitMs(pair), userWaitMs);
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
    this.pairs.add(pair);
    this.users.add(user);
    return null;
  }

  /** The attempt begun last for this user and address was right: its count is taken back, and the pair is known. */
  succeeded(user: string, address: string): void {
    const pair = pairKey(user, address);
    this.pairs.clear(pair);
    this.users.undo(user);
    this.known.add(pair);
  }
}

function pairKey(user: string, address: string): string {
  return JSON.stringify([user, addressKey(address)]);
}
