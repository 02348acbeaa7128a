import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

import { z } from 'zod';

import { describeIssue } from '../../util/zodIssues.js';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number) => Promise<Buffer>;
const KEY_LEN = 32;

export type Role = 'admin' | 'viewer';

/** A user as the rest of the daemon sees it (no secrets). `cameras` null = every camera. */
export interface User {
  name: string;
  role: Role;
  cameras: string[] | null;
}

const userName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a user name of 1-64 letters, digits, _ . -');
const storedUser = z.strictObject({
  name: userName,
  role: z.enum(['admin', 'viewer']),
  cameras: z.array(z.string()).nullable(),
  salt: z.string(),
  hash: z.string(),
});
const fileSchema = z.strictObject({ version: z.literal(1), users: z.array(storedUser) });
type StoredUser = z.output<typeof storedUser>;

export const newUserSchema = z.strictObject({
  name: userName,
  password: z.string().min(8).max(256),
  role: z.enum(['admin', 'viewer']),
  cameras: z.array(z.string().min(1)).nullable().default(null),
});
export type NewUser = z.input<typeof newUserSchema>;

export function canSee(user: User, camera: string): boolean {
  return user.role === 'admin' || user.cameras === null || user.cameras.includes(camera);
}

/** A user added or replaced: the record now, the one before (null: a new user), and whether the password is another. */
export interface UserChange {
  user: User;
  previous: User | null;
  passwordChanged: boolean;
}

export interface UserStoreEvents {
  changed: [change: UserChange];
  removed: [name: string];
}

async function hashPassword(password: string, salt = randomBytes(16)): Promise<{ salt: string; hash: string }> {
  const key = await scrypt(password, salt, KEY_LEN);
  return { salt: salt.toString('base64'), hash: key.toString('base64') };
}

function publicOf({ name, role, cameras }: StoredUser): User {
  return { name, role, cameras: cameras && [...cameras] };
}

async function matches(ref: { salt: string; hash: string }, password: string): Promise<boolean> {
  const key = await scrypt(password, Buffer.from(ref.salt, 'base64'), KEY_LEN);
  return timingSafeEqual(key, Buffer.from(ref.hash, 'base64'));
}

/**
 * Users and their scrypt password hashes in one JSON file (mode 0600), rewritten atomically
 * (temp file + rename) on every change, so a crash never leaves half a file. Every change is
 * announced once written (`changed`, `removed`): sessions and live sockets follow it.
 */
export class UserStore extends EventEmitter<UserStoreEvents> {
  private users: StoredUser[] = [];
  // A hash to check unknown names against, so a wrong name costs as long as a wrong password.
  private decoy: { salt: string; hash: string } | null = null;

  private constructor(readonly file: string) {
    super();
  }

  /**
   * Opens the store, creating it with an admin on first run. `adminPassword` (config) sets the
   * admin's password; otherwise a first run generates one and returns it (to print once).
   */
  static async open(
    file: string,
    adminPassword?: string,
  ): Promise<{ store: UserStore; generatedPassword: string | null }> {
    const store = new UserStore(file);
    let generated: string | null = null;
    if (existsSync(file)) {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new Error(`Cannot read the users file ${file}: ${(err as Error).message}`);
      }
      const parsed = fileSchema.safeParse(raw, { reportInput: true });
      if (!parsed.success) throw new Error(`Invalid users file ${file}: ${describeIssue(parsed.error.issues[0]!)}`);
      store.users = parsed.data.users;
    }
    const admin = store.users.find((u) => u.name === 'admin');
    if (!admin || adminPassword) {
      const password = adminPassword ?? randomBytes(12).toString('base64url');
      if (!adminPassword) generated = password;
      const entry: StoredUser = { name: 'admin', role: 'admin', cameras: null, ...(await hashPassword(password)) };
      store.users = [entry, ...store.users.filter((u) => u.name !== 'admin')];
      store.save();
    }
    store.decoy = await hashPassword(randomBytes(12).toString('base64'));
    return { store, generatedPassword: generated };
  }

  list(): User[] {
    return this.users.map(publicOf);
  }

  get(name: string): User | null {
    const u = this.users.find((x) => x.name === name);
    return u ? publicOf(u) : null;
  }

  /** The user when name and password match; null otherwise (same cost either way). */
  async verify(name: string, password: string): Promise<User | null> {
    const u = this.users.find((x) => x.name === name);
    const ok = await matches(u ?? this.decoy!, password);
    // Checked against the record as stored now: a password change or a delete (and re-create)
    // written while scrypt ran must not let the old password in. A change of cameras alone
    // keeps the hash, and the login gets the rights as they are now.
    const now = this.users.find((x) => x.name === name);
    return ok && u && now && now.salt === u.salt && now.hash === u.hash ? publicOf(now) : null;
  }

  /** Adds or replaces a user; throws an "Expected …" error on bad input. */
  async put(input: unknown): Promise<User> {
    const parsed = newUserSchema.safeParse(input, { reportInput: true });
    if (!parsed.success) throw new Error(describeIssue(parsed.error.issues[0]!));
    const { name, password, role, cameras } = parsed.data;
    if (name === 'admin' && role !== 'admin')
      throw new Error("Expected role 'admin' for the user 'admin' but received 'viewer'");
    // The same password keeps its hash, so a change of cameras alone keeps the user's sessions.
    const before = this.users.find((u) => u.name === name);
    let secret =
      before && (await matches(before, password))
        ? { salt: before.salt, hash: before.hash }
        : await hashPassword(password);
    // Another change written while scrypt ran: the kept hash may be one that change replaced, so
    // hash afresh (announced as a new password: the user's sessions end, as for any change of it).
    if (before && secret.hash === before.hash && !this.users.includes(before)) secret = await hashPassword(password);
    const entry: StoredUser = { name, role, cameras: role === 'admin' ? null : cameras, ...secret };
    const prev = this.users.find((u) => u.name === name); // as it is now, after the awaits
    const next = [...this.users.filter((u) => u.name !== name), entry];
    this.write(next);
    this.users = next;
    const user = { name, role, cameras: entry.cameras };
    this.emit('changed', {
      user,
      previous: prev ? publicOf(prev) : null,
      passwordChanged: !prev || prev.hash !== entry.hash,
    });
    return user;
  }

  /** Removes a user; false when there was none. The admin cannot be removed. */
  remove(name: string): boolean {
    if (name === 'admin') throw new Error("The user 'admin' cannot be removed");
    const next = this.users.filter((u) => u.name !== name);
    if (next.length === this.users.length) return false;
    this.write(next);
    this.users = next;
    this.emit('removed', name);
    return true;
  }

  private save(): void {
    this.write(this.users);
  }

  private write(users: StoredUser[]): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ version: 1, users }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}
