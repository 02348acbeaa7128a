import type { z } from 'zod';

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

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
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

/** The sentence for one issue (parse with `reportInput: true` so the value is known). */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return `Unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')} in ${path}`;
  }
  return `Expected ${expectation(issue)} for ${path} but received ${describeValue(issue.input)}`;
}
