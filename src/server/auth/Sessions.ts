import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';

import { parseCookie, stringifySetCookie } from 'cookie';

import type { User, UserChange, UserStore } from './UserStore.js';

export const SESSION_COOKIE = 'vigil_session';

/** Why a session ended: a live socket of it closes with a code of its own (src/protocol/control.ts). */
export type SessionEndReason = 'logged_out' | 'user_deleted' | 'login_again' | 'expired';

export interface SessionEvents {
  /** A session ended: its token no longer works. */
  ended: [token: string, reason: SessionEndReason];
  /** A user's cameras changed and their sessions go on: the record as stored now. */
  userChanged: [user: User];
}

// setTimeout waits at most 2^31-1 ms; a later expiry is reached by re-arming on the way.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Login sessions in memory: a restart logs everyone out. Tokens are 256-bit random. A session
 * follows its user: removing the user, or changing their password or role, ends their sessions
 * at once; a change of their cameras only is announced (`userChanged`) to whoever holds them.
 * Every end of a session is announced (`ended`), expiry included, at the expiry time.
 */
export class Sessions extends EventEmitter<SessionEvents> {
  private readonly byToken = new Map<string, { user: string; expires: number }>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private closed = false;

  constructor(
    private readonly ttlMs: number,
    private readonly users: Pick<UserStore, 'get' | 'on' | 'off'>,
  ) {
    super();
    users.on('removed', this.onRemoved);
    users.on('changed', this.onChanged);
  }

  private readonly onRemoved = (name: string): void => this.revokeUser(name, 'user_deleted');

  private readonly onChanged = ({ user, previous, passwordChanged }: UserChange): void => {
    if (!previous) return;
    if (passwordChanged || previous.role !== user.role) this.revokeUser(user.name, 'login_again');
    else this.emit('userChanged', user);
  };

  create(user: User): { token: string; expires: number } {
    this.expire();
    const token = randomBytes(32).toString('base64url');
    const expires = Date.now() + this.ttlMs;
    this.byToken.set(token, { user: user.name, expires });
    this.arm();
    return { token, expires };
  }

  /** The token's user as stored now (a removed user's sessions stop working), or null. */
  resolve(token: string | undefined): User | null {
    if (!token) return null;
    const s = this.byToken.get(token);
    if (!s) return null;
    if (s.expires <= Date.now()) {
      this.end(token, 'expired');
      return null;
    }
    return this.users.get(s.user);
  }

  /** Ends one session (a logout). */
  revoke(token: string, reason: SessionEndReason = 'logged_out'): void {
    if (this.byToken.has(token)) this.end(token, reason);
  }

  /** Ends every session of a user. */
  revokeUser(name: string, reason: SessionEndReason): void {
    for (const [t, s] of this.byToken) if (s.user === name) this.end(t, reason);
  }

  /** Stops the expiry timer and the store's listeners; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.users.off('removed', this.onRemoved);
    this.users.off('changed', this.onChanged);
  }

  private end(token: string, reason: SessionEndReason): void {
    this.byToken.delete(token);
    this.emit('ended', token, reason);
  }

  /** Ends the sessions past their time, then waits for the next one's. */
  private expire(): void {
    const now = Date.now();
    for (const [t, s] of this.byToken) if (s.expires <= now) this.end(t, 'expired');
  }

  private arm(): void {
    if (this.closed) return;
    let next = Infinity;
    for (const s of this.byToken.values()) next = Math.min(next, s.expires);
    if (next === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = next;
    if (next === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.expire();
        this.arm();
      },
      Math.min(Math.max(0, next - Date.now()), MAX_TIMER_MS),
    );
    this.timer.unref();
  }
}

/** The token of a request: `Authorization: Bearer …`, else the session cookie. */
export function tokenOf(headers: {
  authorization?: string | undefined;
  cookie?: string | undefined;
}): string | undefined {
  const auth = headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim() || undefined;
  return headers.cookie ? parseCookie(headers.cookie)[SESSION_COOKIE] || undefined : undefined;
}

/** Set-Cookie for a login (expires = 0: clears it). HttpOnly, SameSite=Strict: no script reads it, no other site sends it. */
export function sessionCookie(token: string, expires: number): string {
  return stringifySetCookie({
    name: SESSION_COOKIE,
    value: token,
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    expires: new Date(expires),
  });
}
