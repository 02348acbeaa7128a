import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Sessions, type SessionEndReason } from '../../src/server/auth/Sessions.js';
import { UserStore, type User } from '../../src/server/auth/UserStore.js';
import { tempDir } from '../helpers/tempDir.js';

// Sessions and a real users file: which change of a user ends their sessions, and when expiry comes.

const dir = tempDir('vigil-sessions-');
let users: UserStore;

beforeAll(async () => {
  ({ store: users } = await UserStore.open(join(dir, 'users.json'), 'admin-password'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function watch(sessions: Sessions) {
  const ended: Array<[string, SessionEndReason]> = [];
  const changed: User[] = [];
  sessions.on('ended', (token, reason) => ended.push([token, reason]));
  sessions.on('userChanged', (user) => changed.push(user));
  return { ended, changed };
}

describe('Sessions', () => {
  it('a change of cameras alone keeps the sessions and is announced; a new password or role ends them', async () => {
    const sessions = new Sessions(3_600_000, users);
    const { ended, changed } = watch(sessions);
    const cam = await users.put({ name: 'cam', password: 'cam-password', role: 'viewer', cameras: ['a', 'b'] });
    const { token } = sessions.create(cam);
    await users.put({ name: 'cam', password: 'cam-password', role: 'viewer', cameras: ['b'] });
    expect(ended).toEqual([]);
    expect(changed).toEqual([{ name: 'cam', role: 'viewer', cameras: ['b'] }]);
    expect(sessions.resolve(token)).toEqual({ name: 'cam', role: 'viewer', cameras: ['b'] });
    expect(await users.verify('cam', 'cam-password')).not.toBeNull(); // the kept hash still verifies

    await users.put({ name: 'cam', password: 'new-password', role: 'viewer', cameras: ['b'] });
    expect(ended).toEqual([[token, 'login_again']]);
    expect(sessions.resolve(token)).toBeNull();

    const again = sessions.create(cam).token;
    await users.put({ name: 'cam', password: 'new-password', role: 'admin' });
    expect(ended.at(-1)).toEqual([again, 'login_again']);

    const last = sessions.create(cam).token;
    users.remove('cam');
    expect(ended.at(-1)).toEqual([last, 'user_deleted']);
    const out = sessions.create(users.get('admin')!).token;
    sessions.revoke(out);
    expect(ended.at(-1)).toEqual([out, 'logged_out']);
    sessions.close();
  });

  it('announces expiry at the expiry time, and a login longer than a timer can wait does not expire at once', async () => {
    const brief = new Sessions(150, users);
    const b = watch(brief);
    const t = brief.create(users.get('admin')!).token;
    await new Promise((r) => setTimeout(r, 400));
    expect(b.ended).toEqual([[t, 'expired']]);
    brief.close();

    // auth.session_hours at its maximum (a year): past setTimeout's 2^31-1 ms, which Node would
    // turn into 1 ms (a timer spinning every millisecond).
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const year = new Sessions(24 * 365 * 3_600_000, users);
    const y = watch(year);
    const token = year.create(users.get('admin')!).token;
    await new Promise((r) => setTimeout(r, 100));
    process.off('warning', onWarning);
    expect(warnings).toEqual([]);
    expect(y.ended).toEqual([]);
    expect(year.resolve(token)?.name).toBe('admin');
    year.close();
  });
});
