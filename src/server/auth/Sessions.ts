import { randomBytes } from 'node:crypto';

import { parseCookie, stringifySetCookie } from 'cookie';

import type { User } from './UserStore.js';

export const SESSION_COOKIE = 'vigil_session';

/** Login sessions in memory: a restart logs everyone out. Tokens are 256-bit random. */
export class Sessions {
  private readonly byToken = new Map<string, { user: string; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly lookup: (name: string) => User | null,
  ) {}

  create(user: User): { token: string; expires: number } {
    this.sweep();
    const token = randomBytes(32).toString('base64url');
    const expires = Date.now() + this.ttlMs;
    this.byToken.set(token, { user: user.name, expires });
    return { token, expires };
  }

  /** The token's user as stored now (a removed user's sessions stop working), or null. */
  resolve(token: string | undefined): User | null {
    if (!token) return null;
    const s = this.byToken.get(token);
    if (!s) return null;
    if (s.expires <= Date.now()) {
      this.byToken.delete(token);
      return null;
    }
    return this.lookup(s.user);
  }

  revoke(token: string): void {
    this.byToken.delete(token);
  }

  /** Ends every session of a user (removed, or password changed). */
  revokeUser(name: string): void {
    for (const [t, s] of this.byToken) if (s.user === name) this.byToken.delete(t);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [t, s] of this.byToken) if (s.expires <= now) this.byToken.delete(t);
  }
}

/** The token of a request: `Authorization: Bearer …`, else the session cookie. */
export function tokenOf(headers: { authorization?: string | undefined; cookie?: string | undefined }): string | undefined {
  const auth = headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim() || undefined;
  return headers.cookie ? parseCookie(headers.cookie)[SESSION_COOKIE] || undefined : undefined;
}

/** Set-Cookie for a login (expires = 0: clears it). HttpOnly, SameSite=Strict: no script reads it, no other site sends it. */
export function sessionCookie(token: string, expires: number): string {
  return stringifySetCookie({ name: SESSION_COOKIE, value: token, httpOnly: true, sameSite: 'strict', path: '/', expires: new Date(expires) });
}
