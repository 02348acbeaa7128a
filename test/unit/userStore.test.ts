import { scrypt } from 'node:crypto';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { UserStore, type UserChange } from '../../src/server/auth/UserStore.js';
import { tempDir } from '../helpers/tempDir.js';

// A real users file: a login or a change that is in flight while the user is changed or deleted
// must not act on the record it read before its password check (scrypt) finished.

async function store() {
  return (await UserStore.open(join(tempDir('vigil-users-'), 'users.json'), 'admin-password')).store;
}

/** One scrypt of the store's cost: lets the store's own first scrypt of a call finish before the next step. */
const oneScrypt = () =>
  new Promise<void>((resolve, reject) => scrypt('x', Buffer.alloc(16), 32, (err) => (err ? reject(err) : resolve())));

describe('UserStore under concurrent changes', () => {
  it('a login in flight while its user is deleted and created again under the same name fails', async () => {
    const users = await store();
    for (let round = 0; round < 3; round++) {
      await users.put({ name: 'cam', password: 'old-password', role: 'viewer', cameras: ['a'] });
      const login = users.verify('cam', 'old-password'); // reads the old record, then awaits scrypt
      expect(users.remove('cam')).toBe(true);
      const again = users.put({ name: 'cam', password: 'new-password', role: 'viewer', cameras: ['a'] });
      const [who] = await Promise.all([login, again]);
      expect(who, `round ${round}: the old password logged in to the re-created user`).toBeNull();
      expect(await users.verify('cam', 'new-password')).toEqual({ name: 'cam', role: 'viewer', cameras: ['a'] });
      expect(await users.verify('cam', 'old-password')).toBeNull();
    }
  });

  it('a login in flight when its password changes succeeds only if it finished before the change was written', async () => {
    const users = await store();
    for (let round = 0; round < 6; round++) {
      await users.put({ name: 'pw', password: `old-password-${round}`, role: 'viewer', cameras: null });
      let order = 0;
      let written = -1;
      const onChanged = () => (written = order++);
      users.on('changed', onChanged);
      // The PUT first does one scrypt (is it the same password?), then hashes the new one: a login
      // begun in between reads the old record and is still checking it when the PUT writes.
      const change = users.put({ name: 'pw', password: `new-password-${round}`, role: 'viewer', cameras: null });
      await oneScrypt();
      let verified = -1;
      const login = users.verify('pw', `old-password-${round}`).then((u) => ((verified = order++), u));
      const [who] = await Promise.all([login, change]);
      users.off('changed', onChanged);
      // A login that finished after the new password was written must not succeed with the old one.
      expect(
        who !== null && written < verified,
        `round ${round}: the old password logged in after the change was written`,
      ).toBe(false);
    }
  });

  it('concurrent PUTs: the last one written decides the password, and a change of it is announced as one', async () => {
    const users = await store();
    for (let round = 0; round < 4; round++) {
      await users.put({ name: 'two', password: 'first-password', role: 'viewer', cameras: ['a'] });
      const changes: UserChange[] = [];
      const onChanged = (c: UserChange) => changes.push(c);
      users.on('changed', onChanged);
      const newPassword = users.put({ name: 'two', password: 'second-password', role: 'viewer', cameras: ['a'] });
      await oneScrypt();
      const camerasOnly = users.put({ name: 'two', password: 'first-password', role: 'viewer', cameras: ['b'] });
      await Promise.all([newPassword, camerasOnly]);
      users.off('changed', onChanged);
      expect(changes).toHaveLength(2);
      // Whatever the order, the stored password is the one the last write named, and each write
      // that changed the stored password said so (sessions of the old one end).
      const last = changes[1]!;
      const camerasLast = last.user.cameras?.[0] === 'b';
      expect(
        await users.verify('two', camerasLast ? 'first-password' : 'second-password'),
        `round ${round}`,
      ).not.toBeNull();
      expect(
        await users.verify('two', camerasLast ? 'second-password' : 'first-password'),
        `round ${round}`,
      ).toBeNull();
      expect(
        changes.map((c) => c.passwordChanged),
        `round ${round}`,
      ).toEqual(camerasLast ? [true, true] : [false, true]);
    }
  });
});
