import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError, validateConfig } from '../../src/config/loadConfig.js';
import { authSchema } from '../../src/server/auth/authConfig.js';
import { addressKey, KnownPairsFile, LoginLimiter, loginLimits } from '../../src/server/auth/LoginLimiter.js';
import { tempDir } from '../helpers/tempDir.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A limiter on a clock the test moves. */
function limiter(perPair = 3, perUser = 5, maxKeys?: number) {
  const clock = { now: 1_000_000 };
  const limits = {
    perUserAndAddress: { max: perPair, windowMs: 60_000 },
    perUser: { max: perUser, windowMs: HOUR },
    knownForMs: 12 * HOUR,
  };
  const l = new LoginLimiter(limits, () => clock.now, { maxKeys });
  return { l, clock };
}

/** Spends the user's per-user limit from addresses nobody logged in from. */
function exhaust(l: LoginLimiter, user: string, max: number, prefix = '10.200'): void {
  for (let i = 0; i < max; i++) expect(l.begin(user, `${prefix}.${i >> 8}.${i & 255}`)).toBeNull();
  expect(l.begin(user, `${prefix}.255.255`)).toBeGreaterThan(0);
}

describe('LoginLimiter', () => {
  it('limits failures per user and address; the wait ends when the oldest failure leaves the window', () => {
    const { l, clock } = limiter();
    for (let i = 0; i < 3; i++) {
      expect(l.begin('admin', 'a')).toBeNull();
      clock.now += 10_000;
    }
    expect(l.begin('admin', 'a')).toBe(30); // the first failure was 30 s ago: 30 s to go
    expect(l.begin('admin', 'b')).toBeNull(); // another address
    expect(l.begin('guard', 'a')).toBeNull(); // another user
    clock.now += 30_000;
    expect(l.begin('admin', 'a')).toBeNull();
  });

  it('limits failures per user from all addresses over the slower window', () => {
    const { l, clock } = limiter(3, 5);
    for (let i = 0; i < 5; i++) expect(l.begin('admin', `10.0.0.${i}`)).toBeNull();
    expect(l.begin('admin', '10.0.9.9')).toBe(3600);
    clock.now += 3_599_000;
    expect(l.begin('admin', '10.0.9.9')).toBe(1);
    clock.now += 1_000;
    expect(l.begin('admin', '10.0.9.9')).toBeNull();
  });

  it('a success takes its attempt back and clears the address; successes never add up', () => {
    const { l } = limiter(3, 5);
    expect(l.begin('admin', 'a')).toBeNull();
    expect(l.begin('admin', 'a')).toBeNull();
    for (let i = 0; i < 50; i++) {
      expect(l.begin('admin', 'a')).toBeNull();
      l.succeeded('admin', 'a');
    }
    // The two failures before are cleared for this address, and still count for the user.
    for (let i = 0; i < 3; i++) expect(l.begin('admin', 'b')).toBeNull();
    expect(l.begin('admin', 'c')).toBeGreaterThan(0);
  });

  it('keeps a bounded number of keys: a flood of made-up names evicts the quietest first', () => {
    const { l, clock } = limiter(1, 1, 1000);
    expect(l.begin('admin', 'a')).toBeNull();
    for (let i = 0; i < 1500; i++) {
      clock.now += 1;
      l.begin(`made-up-${i}`, 'x');
    }
    // The flood pushed the admin's entries out: memory stays bounded rather than the count exact.
    expect(l.begin('made-up-1499', 'x')).toBeGreaterThan(0);
    expect(l.begin('admin', 'a')).toBeNull();
  });

  it('failures from elsewhere do not lock a user out of an address they logged in from recently', () => {
    const { l, clock } = limiter(3, 5);
    expect(l.begin('admin', '127.0.0.1')).toBeNull();
    l.succeeded('admin', '127.0.0.1');
    // An attacker spends the per-user limit from other addresses.
    for (let i = 0; i < 5; i++) expect(l.begin('admin', `10.0.0.${i}`)).toBeNull();
    expect(l.begin('admin', '10.0.9.9')).toBeGreaterThan(0); // unknown addresses: blocked
    expect(l.begin('admin', '127.0.0.1')).toBeNull(); // the admin's own: goes on
    l.succeeded('admin', '127.0.0.1');
    // The known pair keeps its own limit.
    for (let i = 0; i < 3; i++) expect(l.begin('admin', '127.0.0.1')).toBeNull();
    expect(l.begin('admin', '127.0.0.1')).toBe(60);
    // Known only for the session lifetime.
    clock.now += 12 * 3_600_000 - 30 * 60_000;
    for (let i = 0; i < 5; i++) expect(l.begin('admin', `10.0.1.${i}`)).toBeNull();
    expect(l.begin('admin', '127.0.0.1')).toBeNull();
    clock.now += 30 * 60_000;
    expect(l.begin('admin', '127.0.0.1')).toBeGreaterThan(0);
  });

  it('counts IPv6 addresses by /64 and an IPv4-mapped address as its IPv4', () => {
    expect(addressKey('10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:0DB8:0000:0000:ffff:1:2:3')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8:1:2:3:4:1.2.3.4')).toBe('2001:db8:1:2::/64');
    expect(addressKey('1::2:3:4:1.2.3.4')).toBe('1:0:0:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    const { l } = limiter(3, 100);
    for (let i = 1; i <= 3; i++) expect(l.begin('admin', `2001:db8::${i}`)).toBeNull();
    expect(l.begin('admin', '2001:db8::ffff:4')).toBeGreaterThan(0); // the same /64
    expect(l.begin('admin', '2001:db8:0:1::1')).toBeNull(); // another /64
    expect(l.begin('admin', '2001:db8:0:1::2')).toBeNull();
    l.succeeded('admin', '2001:db8:0:1::2');
    expect(l.begin('admin', '2001:db8:0:1::99')).toBeNull(); // cleared for the whole /64
  });

  it('the config keeps a pair known for known_address_days, well past session_hours, and forgets it after', () => {
    const auth = authSchema.parse({});
    expect(auth.known_address_days).toBe(30);
    const clock = { now: 1_000_000 };
    const l = new LoginLimiter(loginLimits(auth), () => clock.now);
    expect(l.begin('admin', '10.0.0.2')).toBeNull();
    l.succeeded('admin', '10.0.0.2');
    // The session has ended (session_hours) and the admin must log in again while an attacker
    // keeps the per-user limit spent.
    clock.now += auth.session_hours * HOUR + 60_000;
    exhaust(l, 'admin', auth.login_per_user_per_hour);
    expect(l.begin('admin', '10.0.0.2')).toBeNull();
    l.succeeded('admin', '10.0.0.2');
    // Each login renews the pair; known_address_days after the last one it is forgotten.
    clock.now += 30 * DAY - 60_000;
    exhaust(l, 'admin', auth.login_per_user_per_hour, '10.201');
    expect(l.begin('admin', '10.0.0.2')).toBeNull();
    clock.now += 2 * 60_000 + HOUR;
    exhaust(l, 'admin', auth.login_per_user_per_hour, '10.202');
    expect(l.begin('admin', '10.0.0.2')).toBeGreaterThan(0);
  });

  it('known_address_days is a whole number of days from 1 to 3650, and a bad one is named', () => {
    const cameras = [{ id: 'door', url: 'rtsp://10.0.0.2/s1' }];
    expect(validateConfig({ auth: { known_address_days: 1 }, cameras }).auth.known_address_days).toBe(1);
    for (const [bad, says] of [
      [0, /^Expected a value of at least 1 for auth\.known_address_days but received/],
      [1.5, /^Expected an integer for auth\.known_address_days but received/],
      [5000, /^Expected a value of at most 3650 for auth\.known_address_days but received/],
      ['30', /^Expected a number for auth\.known_address_days but received/],
    ] as const) {
      let problems: string[] = [];
      try {
        validateConfig({ auth: { known_address_days: bad }, cameras });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        problems = (err as ConfigError).problems;
      }
      expect(problems, String(bad)).toEqual([expect.stringMatching(says)]);
    }
  });

  it("one user's many logins never evict another user's known pair; a user keeps its newest pairs", () => {
    const clock = { now: 1_000_000 };
    const l = new LoginLimiter(loginLimits(authSchema.parse({ login_per_user_per_hour: 5 })), () => clock.now);
    expect(l.begin('admin', '10.0.0.2')).toBeNull();
    l.succeeded('admin', '10.0.0.2');
    // A viewer with many /64s logs in from each (successes are not limited).
    for (let i = 0; i < 100_001; i++) {
      clock.now += 1;
      const at = `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`;
      expect(l.begin('guard', at)).toBeNull();
      l.succeeded('guard', at);
    }
    exhaust(l, 'admin', 5);
    expect(l.begin('admin', '10.0.0.2')).toBeNull();
    // The viewer keeps its 16 newest pairs, not the older ones.
    exhaust(l, 'guard', 5);
    expect(l.begin('guard', '2001:db8:1:86a0::1')).toBeNull(); // the newest (100000)
    expect(l.begin('guard', '2001:db8:1:8691::1')).toBeNull(); // the 16th newest (99985)
    expect(l.begin('guard', '2001:db8:1:8690::1')).toBeGreaterThan(0); // the 17th newest
  });

  it('a global cap on known pairs is the last resort: the oldest success goes first', () => {
    const clock = { now: 1_000_000 };
    const l = new LoginLimiter(loginLimits(authSchema.parse({ login_per_user_per_hour: 1 })), () => clock.now, {
      maxKnown: 10,
    });
    for (let i = 0; i < 11; i++) {
      clock.now += 1;
      expect(l.begin(`user${i}`, '10.0.0.1')).toBeNull();
      l.succeeded(`user${i}`, '10.0.0.1');
    }
    exhaust(l, 'user0', 1);
    exhaust(l, 'user1', 1);
    expect(l.begin('user0', '10.0.0.1')).toBeGreaterThan(0);
    expect(l.begin('user1', '10.0.0.1')).toBeNull();
  });

  it('the box itself (loopback) is never locked out by the per-user limit, only by its own per-pair limit', () => {
    const { l } = limiter(3, 5);
    exhaust(l, 'admin', 5);
    expect(l.begin('admin', '10.0.9.9', { local: false })).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) expect(l.begin('admin', '127.0.0.1', { local: true })).toBeNull();
    expect(l.begin('admin', '127.0.0.1', { local: true })).toBe(60);
  });

  it('known pairs are kept in a private file: loaded at start, a corrupt or missing file starts empty with a warning', () => {
    const dir = tempDir('vigil-known-');
    const file = join(dir, 'known-logins.json');
    const warnings: string[] = [];
    const clock = { now: 10 * DAY };
    const limits = loginLimits(authSchema.parse({ login_per_user_per_hour: 3 }));
    const open = () =>
      new LoginLimiter(limits, () => clock.now, { store: new KnownPairsFile(file, (m) => warnings.push(m)) });
    let l = open();
    expect(warnings).toEqual([]); // no file yet: nothing to warn about
    expect(l.begin('admin', '2001:db8:1:2::10')).toBeNull();
    l.succeeded('admin', '2001:db8:1:2::10');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Only the user, the address key and the time.
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      version: 1,
      pairs: [{ user: 'admin', address: '2001:db8:1:2::/64', at: 10 * DAY }],
    });
    l = open();
    exhaust(l, 'admin', 3);
    expect(l.begin('admin', '2001:db8:1:2::ffff')).toBeNull();
    // Corrupt, or not what it should be: start empty and say so, never throw.
    for (const bad of [
      '{"version":1,"pairs":[{"user":',
      '{"version":1,"pairs":[{"user":"admin","address":7,"at":"x"}]}',
      '[]',
    ]) {
      writeFileSync(file, bad);
      warnings.length = 0;
      l = open();
      expect(warnings).toEqual([
        expect.stringMatching(/^Ignoring the known login addresses file .*known-logins\.json: /),
      ]);
      exhaust(l, 'admin', 3);
      expect(l.begin('admin', '2001:db8:1:2::ffff')).toBeGreaterThan(0);
    }
    // An unwritable place (here a directory where the file should be) costs the memory across
    // restarts, never the login.
    const blocked = join(dir, 'blocked');
    mkdirSync(blocked);
    warnings.length = 0;
    l = new LoginLimiter(limits, () => clock.now, { store: new KnownPairsFile(blocked, (m) => warnings.push(m)) });
    expect(l.begin('admin', '10.0.0.1')).toBeNull();
    expect(() => l.succeeded('admin', '10.0.0.1')).not.toThrow();
    expect(warnings.at(-1)).toMatch(/^Could not save the known login addresses to .*blocked: /);
    expect(readdirSync(dir).sort()).toEqual(['blocked', 'known-logins.json']); // no temp file left
  });
});
