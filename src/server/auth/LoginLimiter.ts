import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { dirname } from 'node:path';

import { z } from 'zod';

import type { AuthConfig } from './authConfig.js';

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
  const groups = address.includes('::')
    ? [...left, ...Array<string>(Math.max(0, 8 - left.length - width)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** One remembered success: the user, the address as addressKey counts it, and when. */
export interface KnownPair {
  user: string;
  address: string;
  at: number;
}

/** Where known pairs outlive the process (KnownPairsFile). */
export interface KnownPairsStore {
  load(): KnownPair[];
  save(pairs: KnownPair[]): void;
}

const knownFileSchema = z.strictObject({
  version: z.literal(1),
  pairs: z.array(
    z.strictObject({ user: z.string().min(1).max(64), address: z.string().min(1).max(64), at: z.number().finite() }),
  ),
});

/**
 * Known pairs in a small JSON file (data_dir/known-logins.json), written whole (temp file +
 * rename, mode 0600) like users.json. Not a secret, but where the admin logs in from stays private.
 * A missing, unreadable or corrupt file starts empty with a warning: it only costs the memory.
 */
export class KnownPairsFile implements KnownPairsStore {
  constructor(
    private readonly file: string,
    private readonly warn: (message: string) => void,
  ) {}

  load(): KnownPair[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.warn(`Ignoring the known login addresses file ${this.file}: ${(err as Error).message}`);
      return [];
    }
    try {
      const parsed = knownFileSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data.pairs;
      this.warn(
        `Ignoring the known login addresses file ${this.file}: not a { version: 1, pairs: [{ user, address, at }] } object; starting empty`,
      );
    } catch {
      this.warn(`Ignoring the known login addresses file ${this.file}: not valid JSON; starting empty`);
    }
    return [];
  }

  save(pairs: KnownPair[]): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, `${JSON.stringify({ version: 1, pairs })}\n`, { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.file);
    } catch (err) {
      rmSync(tmp, { force: true });
      this.warn(`Could not save the known login addresses to ${this.file}: ${(err as Error).message}`);
    }
  }
}

// Known pairs kept per user (its newest successes) and for all users together. The per-user cap
// is what protects one user's pairs from another's logins; the global one only bounds memory.
const KNOWN_PER_USER = 16;
const MAX_KNOWN = 10_000;

/** Pairs that logged in within `forMs`, oldest success first, bounded per user and in all. */
class KnownPairs {
  // user → address key → last success; both maps in order of last success.
  private readonly byUser = new Map<string, Map<string, number>>();
  private readonly order = new Map<string, [string, string]>();

  constructor(
    private readonly forMs: number,
    private readonly now: () => number,
    private readonly perUser: number,
    private readonly maxKeys: number,
    private readonly store: KnownPairsStore | null,
  ) {
    const cutoff = now() - forMs;
    for (const p of (store?.load() ?? []).sort((a, b) => a.at - b.at))
      if (p.at > cutoff) this.put(p.user, p.address, p.at);
  }

  has(user: string, address: string): boolean {
    const t = this.byUser.get(user)?.get(address);
    return t !== undefined && t + this.forMs > this.now();
  }

  add(user: string, address: string): void {
    this.put(user, address, this.now());
    this.store?.save(this.list());
  }

  private put(user: string, address: string, at: number): void {
    let mine = this.byUser.get(user);
    if (!mine) this.byUser.set(user, (mine = new Map()));
    // Re-inserting keeps both maps in order of last success.
    const key = JSON.stringify([user, address]);
    mine.delete(address);
    this.order.delete(key);
    mine.set(address, at);
    this.order.set(key, [user, address]);
    for (const a of mine.keys()) {
      if (mine.size <= this.perUser) break;
      this.remove(user, a);
    }
    for (const [u, a] of this.order.values()) {
      if (this.order.size <= this.maxKeys) break;
      this.remove(u, a);
    }
  }

  private remove(user: string, address: string): void {
    const mine = this.byUser.get(user);
    mine?.delete(address);
    if (mine?.size === 0) this.byUser.delete(user);
    this.order.delete(JSON.stringify([user, address]));
  }

  /** The live pairs, oldest first. */
  private list(): KnownPair[] {
    const cutoff = this.now() - this.forMs;
    const out: KnownPair[] = [];
    for (const [user, address] of this.order.values()) {
      const at = this.byUser.get(user)!.get(address)!;
      if (at > cutoff) out.push({ user, address, at });
    }
    return out;
  }
}

/** The limits the auth section sets. */
export function loginLimits(auth: AuthConfig): {
  perUserAndAddress: WindowLimit;
  perUser: WindowLimit;
  knownForMs: number;
} {
  return {
    perUserAndAddress: { max: auth.login_per_minute, windowMs: 60_000 },
    perUser: { max: auth.login_per_user_per_hour, windowMs: 3_600_000 },
    // Longer than a session on purpose: a session's end is exactly when its user must log in again.
    knownForMs: auth.known_address_days * 24 * 3_600_000,
  };
}

/**
 * Login failures counted per (user, client address) and, more slowly, per user from any
 * address: one address's failures do not lock the user out from another, and guessing one
 * user's password from many addresses is limited too. Successful logins are not counted.
 * A (user, address) pair that logged in within `knownForMs` (auth.known_address_days), and the
 * box itself (`local`: loopback), are held only to their own per-pair limit, not the per-user
 * one: failures from elsewhere cannot lock the user out of the place they log in from. Known
 * pairs are kept per user (its newest 16) and survive restarts through `store`. IPv6 addresses
 * count by /64 (addressKey).
 */
export class LoginLimiter {
  private readonly pairs: FailureWindow;
  private readonly users: FailureWindow;
  private readonly known: KnownPairs;

  constructor(
    limits: { perUserAndAddress: WindowLimit; perUser: WindowLimit; knownForMs: number },
    now: () => number = Date.now,
    opts: { maxKeys?: number; knownPerUser?: number; maxKnown?: number; store?: KnownPairsStore } = {},
  ) {
    const maxKeys = opts.maxKeys ?? MAX_KEYS;
    this.pairs = new FailureWindow(limits.perUserAndAddress, now, maxKeys);
    this.users = new FailureWindow(limits.perUser, now, maxKeys);
    this.known = new KnownPairs(
      limits.knownForMs,
      now,
      opts.knownPerUser ?? KNOWN_PER_USER,
      opts.maxKnown ?? MAX_KNOWN,
      opts.store ?? null,
    );
  }

  /**
   * Starts an attempt: null when it may go on (it counts as a failure until `succeeded`, so
   * parallel attempts cannot slip past the count), else the seconds to wait. `local`: the
   * attempt comes from the box itself (loopback), the console user's way back in.
   */
  begin(user: string, address: string, opts: { local?: boolean } = {}): number | null {
    const pair = pairKey(user, address);
    const exempt = opts.local === true || this.known.has(user, addressKey(address));
    const userWaitMs = exempt ? 0 : this.users.waitMs(user);
    const waitMs = Math.max(this.pairs.waitMs(pair), userWaitMs);
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
    this.pairs.add(pair);
    this.users.add(user);
    return null;
  }

  /** The attempt begun last for this user and address was right: its count is taken back, and the pair is known. */
  succeeded(user: string, address: string): void {
    this.pairs.clear(pairKey(user, address));
    this.users.undo(user);
    this.known.add(user, addressKey(address));
  }
}

function pairKey(user: string, address: string): string {
  return JSON.stringify([user, addressKey(address)]);
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Whether an address is the box itself: 127.0.0.0/8, ::1, or an IPv4-mapped 127.x. */
export function isLoopback(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address;
  if (isIPv4(mapped)) return loopback.check(mapped, 'ipv4');
  return isIPv6(mapped) && loopback.check(mapped, 'ipv6');
}
