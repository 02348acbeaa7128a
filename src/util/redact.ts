// The one redaction every path that prints goes through: the logger (every JSON line), STATUS=,
// config and API errors (describeIssue, ConfigError), CLI errors.

/** Names whose values are secrets wherever they appear: config fields, JSON log fields, API bodies. */
const SECRET_NAME = /pass(?:word|wd|phrase)|secret|token|api[_-]?key|private[_-]?key|credential|authorization|cookie|^(?:salt|hash)$/i;

/** Whether a field of this name holds a secret (its value is never shown). */
export function isSecretKey(name: string): boolean {
  return SECRET_NAME.test(name);
}

const SCHEME = /[a-z][a-z0-9+.-]*:\/\//gi;
/** A user name shown as it is; anything else (percent-escapes, non-ASCII, no ':' at all) may be part of the secret. */
const PLAIN_USER = /^[A-Za-z0-9._~-]{1,64}$/;

function maskUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  const user = colon >= 0 ? userinfo.slice(0, colon) : '';
  return PLAIN_USER.test(user) ? `${user}:***` : '***';
}

/**
 * rtsp://user:secret@host/path → rtsp://user:***@host/path. The userinfo ends at the LAST `@`
 * (FFmpeg and browsers split there), so a password holding `@`, `:`, `/` or spaces is masked
 * whole; a path holding `@` is masked with it (better too much than a leaked password).
 */
export function redactUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0];
  if (!scheme) return url;
  const rest = url.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  return at < 0 ? url : `${scheme}${maskUserinfo(rest.slice(0, at))}${rest.slice(at)}`;
}

/** Masks the userinfo of every URL in one line: from `scheme://` to the last `@` before the next URL or the line's end. */
function redactUrlsInLine(line: string): string {
  const starts = [...line.matchAll(SCHEME)].map((m) => m.index);
  if (starts.length === 0) return line;
  let out = line.slice(0, starts[0]);
  for (let i = 0; i < starts.length; i++) out += redactUrl(line.slice(starts[i], starts[i + 1] ?? line.length));
  return out;
}

const SECRET_KEY_VALUE = new RegExp(
  String.raw`([\w.-]*(?:pass(?:word|wd|phrase)|secret|token|api[_-]?key|private[_-]?key|credentials?)[\w-]*["']?)(\s*[:=]\s*)("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^\n]*)`,
  'gi',
);

/**
 * Masks every URL's userinfo and the value of every `password: …`, `"token":"…"`, `api_key=…`
 * in free text (a config error, a libav message, a log line). An unquoted value is masked to
 * the end of its line (`key=value` to the next `&` or `;`): a password may hold spaces.
 */
export function redactSecrets(text: string): string {
  return text
    .split('\n')
    .map(redactUrlsInLine)
    .join('\n')
    .replace(SECRET_KEY_VALUE, (m, key: string, sep: string, value: string) => {
      if (value === '') return m;
      if (value.startsWith('"') || value.startsWith("'")) return `${key}${sep}***`;
      if (sep === '=') {
        const end = value.search(/[&;]/);
        return `${key}${sep}***${end >= 0 ? value.slice(end) : ''}`;
      }
      return `${key}${sep}***`;
    });
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * redactSecrets, and also the known URL's password (raw and percent-decoded) wherever it shows
 * alone, as a libav message about that URL may print it.
 */
export function redactText(text: string, url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0];
  const at = scheme ? url.lastIndexOf('@') : -1;
  if (!scheme || at < scheme.length) return redactSecrets(text);
  // The known URL and password first: in free text a password holding '@' cannot be told from the host.
  let out = text.split(url).join(redactUrl(url));
  const userinfo = url.slice(scheme.length, at);
  const colon = userinfo.indexOf(':');
  const password = colon >= 0 && PLAIN_USER.test(userinfo.slice(0, colon)) ? userinfo.slice(colon + 1) : userinfo;
  const shown = [...new Set([userinfo, decoded(userinfo), password, decoded(password)])].filter((s) => s.length >= 3 && s !== '***');
  for (const s of shown.sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
  return redactSecrets(out);
}

const MAY_HOLD_SECRET = /:\/\/|pass(?:word|wd|phrase)|secret|token|api[_-]?key|private[_-]?key|credential|authorization|cookie|"(?:salt|hash)"/i;
const JSON_MEMBER = /("(?:[^"\\]|\\.)*")(\s*:\s*)(-?\d[\d.eE+-]*|true|false|"(?:[^"\\]|\\.)*")?|"(?:[^"\\]|\\.)*"/g;

function redactJsonString(literal: string): string {
  const s = JSON.parse(literal) as string;
  const r = redactSecrets(s);
  return r === s ? literal : JSON.stringify(r);
}

/**
 * One serialized JSON log line with its secrets out: the value of every secret-named member is
 * `"***"`, and every string (message, err.message, stack, bindings) goes through redactSecrets.
 */
export function redactJsonLine(line: string): string {
  if (!MAY_HOLD_SECRET.test(line)) return line;  // most lines: one scan, nothing to parse
  return line.replace(JSON_MEMBER, (m, key: string | undefined, colon: string | undefined, value: string | undefined) => {
    if (key === undefined) return redactJsonString(m);
    if (value === undefined) return m;
    if (isSecretKey(JSON.parse(key) as string)) return `${key}${colon}"***"`;
    return value.startsWith('"') ? `${key}${colon}${redactJsonString(value)}` : m;
  });
}
