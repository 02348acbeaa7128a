import { expect } from 'vitest';

/** Passwords a careful attacker (or an unlucky admin) would pick to get past a redactor. */
export const SECRETS = [
  'Hunter2 Secret',
  'Zz99@Qq77',
  'p@ss@w0rd:tw0',
  'co:lo:ns',
  'sla/shes/h3r3',
  'pct%40eNc%3A0ded%2Fxx',
  'pässwörd€密码',
  'mixed Ab@C:De/Fg%40Hi',
  'qu0\'te"dq',
];

/** The pieces of a secret that must not show: the whole, its percent-decoded form, and every run of 3+ characters between separators. */
export function fragments(secret: string): string[] {
  let decoded = secret;
  try {
    decoded = decodeURIComponent(secret);
  } catch {
    // not percent-encoded
  }
  const pieces = [secret, decoded, encodeURIComponent(secret), ...`${secret} ${decoded}`.split(/[\s@:/%'"]+/)];
  return [...new Set(pieces.filter((p) => p.length >= 3))];
}

/** Fails naming the first fragment of `secret` that `text` shows. */
export function expectNoSecret(text: string, secret: string): void {
  const shown = fragments(secret).filter((f) => text.includes(f));
  expect(shown, `secret fragments in: ${text}`).toEqual([]);
}
