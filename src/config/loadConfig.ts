import { readFileSync } from 'node:fs';

import { parseDocument } from 'yaml';

import { describeIssue } from '../util/zodIssues.js';
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

/** Validates parsed YAML/JSON; throws ConfigError naming every bad field and value. */
export function validateConfig(raw: unknown, source = 'config'): VigilConfig {
  const result = configSchema.safeParse(raw ?? {}, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map(describeIssue);
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
