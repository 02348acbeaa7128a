import { readFileSync } from 'node:fs';

import { parseDocument, type YAMLError } from 'yaml';

import { redactSecrets } from '../util/redact.js';
import { describeIssue } from '../util/zodIssues.js';
import { configSchema, type VigilConfig } from './schema.js';

/** A config that cannot be used; `problems` name each bad field and value (secrets masked: the CLI, logs and STATUS= print them). */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];
  constructor(
    readonly source: string,
    problems: string[],
  ) {
    const shown = problems.map(redactSecrets);
    super(`Invalid config ${source}:\n  - ${shown.join('\n  - ')}`);
    this.problems = shown;
  }
}

/** What each YAML error code means, in words: yaml's own messages may quote the source (a password), so none of them is shown. */
const YAML_KINDS: Record<string, string> = {
  ALIAS_PROPS: 'an alias with an anchor or tag',
  BAD_ALIAS: 'an alias that is not valid',
  BAD_COLLECTION_TYPE: 'a tag that does not fit its collection',
  BAD_DIRECTIVE: 'a directive that is not valid',
  BAD_DQ_ESCAPE: 'an escape sequence a double-quoted value cannot hold (single-quote the value)',
  BAD_INDENT: 'indentation that does not line up',
  BAD_PROP_ORDER: 'anchors and tags in the wrong order',
  BAD_SCALAR_START: 'a plain value starting with a reserved character (quote the value)',
  BLOCK_AS_IMPLICIT_KEY: "a mapping where a value was expected (a value holding ': ' needs quotes)",
  BLOCK_IN_FLOW: 'a block inside a flow collection',
  DUPLICATE_KEY: 'a key given twice',
  IMPOSSIBLE: 'a document the parser cannot read',
  KEY_OVER_1024_CHARS: 'a key longer than 1024 characters',
  MISSING_CHAR: "a missing character (an unclosed quote or bracket, or a ':' or ',')",
  MULTILINE_IMPLICIT_KEY: "a key spanning lines (an unclosed quote, or a missing ':')",
  MULTIPLE_ANCHORS: 'several anchors on one node',
  MULTIPLE_DOCS: 'more than one document',
  MULTIPLE_TAGS: 'several tags on one node',
  NON_STRING_KEY: 'a key that is not a string',
  TAB_AS_INDENT: 'a tab used as indentation (use spaces)',
  TAG_RESOLVE_FAILED: 'a tag that is not known',
  UNEXPECTED_TOKEN: "an unexpected character (a value holding ': ' or ' #' needs quotes)",
};

/** Where and what, never the source line: the line may hold a password. */
function describeYamlError(e: YAMLError): string {
  const at = e.linePos?.[0];
  const where = at ? `line ${at.line}, column ${at.col}` : 'an unknown place';
  return `YAML syntax error at ${where}: ${YAML_KINDS[e.code] ?? 'a syntax error'} (${e.code})`;
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
  if (doc.errors.length > 0) throw new ConfigError(file, doc.errors.map(describeYamlError));
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (err) {
    throw new ConfigError(file, [`YAML: ${(err as Error).message}`]);
  }
  return validateConfig(raw, file);
}
