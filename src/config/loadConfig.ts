import { readFileSync } from 'node:fs';

import { parseDocument } from 'yaml';
import type { z } from 'zod';

import { configSchema, type VigilConfig } from './schema.js';

/** A config that cannot be used; `problems` name each bad field and value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid config ${source}:\n  - ${problems.join('\n  - ')}`);
  }
}

/** `cameras[1].backoff.max_ms` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(top level)';
}

function describeValue(v: unknown): string {
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

/** Validates parsed YAML/JSON; throws ConfigError naming every bad field and value. */
export function validateConfig(raw: unknown, source = 'config'): VigilConfig {
  const result = configSchema.safeParse(raw ?? {}, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      return `Unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')} in ${path}`;
    }
    return `Expected ${expectation(issue)} for ${path} but received ${describeValue(issue.input)}`;
  });
  throw new ConfigError(source, problems);
}

/** Reads and validates a YAML config file. */
export function loadConfigFile(file: string): VigilConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`Cannot read the file: ${(err as Error).message}`]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `YAML syntax: ${e.message}`));
  }
  return validateConfig(doc.toJS(), file);
}
