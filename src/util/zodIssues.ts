import type { z } from 'zod';

import { isSecretKey, redactSecrets, redactUrl } from './redact.js';

/** One error format everywhere: "Expected … for … but received …", from zod issues. */
/** `cameras[1].backoff.max_ms` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(top level)';
}

/** How much of a received string an error shows: a 16 kB query value gets a short answer, not itself back. */
const SHOWN_CHARS = 80;

/** At most SHOWN_CHARS characters of `s` (a surrogate pair kept whole), then '…'. */
function truncated(s: string): string {
  if (s.length <= SHOWN_CHARS) return s;
  const end = /[\ud800-\udbff]/.test(s[SHOWN_CHARS - 1]!) ? SHOWN_CHARS - 1 : SHOWN_CHARS;
  return `${s.slice(0, end)}…`;
}

/**
 * A received string as shown: a URL's credentials masked, control characters escaped so the
 * error stays one line, then cut short. Masked whole before the cut: a cut before the `@` would
 * leave a password without the `@` that marks it.
 */
function shownString(v: string): string {
  return truncated(
    // eslint-disable-next-line no-control-regex -- control characters are what this escapes
    redactSecrets(redactUrl(v)).replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1)),
  );
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `'${shownString(v)}'`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** What was received in a secret field: its kind, never its value (nor its length). */
function describeSecret(v: unknown): string {
  if (v === undefined || v === null) return describeValue(v);
  if (typeof v === 'string') return 'a string (not shown: a secret)';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
    return `a ${typeof v} (not shown: a secret)`;
  return describeValue(v);
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`;
    case 'too_small':
      return `a ${issue.origin === 'array' ? 'list with at least' : 'value of at least'} ${String(issue.minimum)}${issue.origin === 'string' ? ' characters' : ''}`;
    case 'too_big':
      return `a ${issue.origin === 'array' ? 'list with at most' : 'value of at most'} ${String(issue.maximum)}${issue.origin === 'string' ? ' characters' : ''}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => `'${String(v)}'`).join(', ')}`;
    case 'invalid_format':
      return issue.message.startsWith('Invalid') ? `a value in ${issue.format} format` : issue.message;
    default:
      return issue.message;
  }
}

/**
 * The sentence for one issue (parse with `reportInput: true` so the value is known). A field
 * named like a secret (password, token, secret, key) never echoes its value, any echoed URL has
 * its credentials masked, a long value is cut short, and the whole sentence goes through
 * redactSecrets: config errors, API 400 answers and STATUS= all print it.
 */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return redactSecrets(
      `Unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${shownString(k)}'`).join(', ')} in ${path}`,
    );
  }
  // The field the value sits in (list indices skipped): a section named like a secret (`auth`) holds plain settings too.
  const field = issue.path.filter((p) => typeof p === 'string').at(-1);
  const secret = typeof field === 'string' && isSecretKey(field);
  return redactSecrets(
    `Expected ${expectation(issue)} for ${path} but received ${secret ? describeSecret(issue.input) : describeValue(issue.input)}`,
  );
}
