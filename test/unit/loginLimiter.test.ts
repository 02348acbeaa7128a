import { describe, expect, it } from 'vitest';

import { addressKey, LoginLimiter } from '../../src/server/auth/LoginLimiter.js';

/** A limiter on a clock the test moves. */
function limiter(perPair = 3, perUser = 5, maxKeys?: number) {
  const clock = { now: 1_000_000 };
  const limits = { perUserAndAddress: { max: perPair, windowMs: 60_000 }, perUser: { max: perUser, windowMs: 3_600_000 }, knownForMs: 12 * 3_600_000 };
  const l = new LoginLimiter(limits, () => clock.now, maxKeys);
  return { l, clock };
}

describe('LoginLimiter', () => {
  it('limits failures per user and address; the wait ends when the oldest failure leaves the window', () => {
    const { l, clock } = limiter();
    for (let i = 0; i < 3; i++) {
      expect(l.begin('admin', 'a')).toBeNull();
      clock.now += 10_000;
    }
    expect(l.begin('admin', 'a')).toBe(30);  // the first failure was 30 s ago: 30 s to go
    expect(l.begin('admin', 'b')).toBeNull();  // another address
    expect(l.begin('guard', 'a')).toBeNull();  // another user
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
    expect(l.begin('admin', '10.0.9.9')).toBeGreaterThan(0);  // unknown addresses: blocked
    expect(l.begin('admin', '127.0.0.1')).toBeNull();  // the admin's own: goes on
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
    expect(l.begin('admin', '2001:db8::ffff:4')).toBeGreaterThan(0);  // the same /64
    expect(l.begin('admin', '2001:db8:0:1::1')).toBeNull();  // another /64
    expect(l.begin('admin', '2001:db8:0:1::2')).toBeNull();
    l.succeeded('admin', '2001:db8:0:1::2');
    expect(l.begin('admin', '2001:db8:0:1::99')).toBeNull();  // cleared for the whole /64
  });
});
