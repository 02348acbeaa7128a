// The one redaction every path that prints goes through: the logger (every JSON line), STATUS=,
// config and API errors (describeIssue, ConfigError), CLI errors. It runs on anonymous input (a
// WebSocket Origin, a query value), so every pattern here is linear: bounded or disjoint
// quantifiers only, no `[x]*` run followed by something that can fail and retry at each position.

/**
 * The one list of secret names, for a field (config, JSON log line, API body), a free-text
 * `name: value` / `name=value`, and a URL query parameter. A long word counts anywhere in a name
 * (admin_password, client_secret, x-api-key); a short one only as a whole word of it (pwd,
 * stream_key, ?auth=), so keyframe or passage stay shown.
 */
const SECRET_WORDS = ['password', 'passwd', 'passphrase', 'secret', 'token', 'credential', 'authorization', 'cookie', 'apikey', 'api_key', 'api-key', 'private_key', 'private-key', 'signature'];
const SECRET_SHORT_WORDS = ['pwd', 'pw', 'pass', 'auth', 'key', 'sig', 'salt', 'hash'];

/** One secret word where it counts, as regex sources (case-insensitive). */
const LONG_WORD = `(?:${SECRET_WORDS.join('|')})`;
const SHORT_WORD = `(?<![a-z0-9])(?:${SECRET_SHORT_WORDS.join('|')})(?![a-z0-9])`;
const SECRET_WORD = `(?:${LONG_WORD}|${SHORT_WORD})`;
const SECRET_NAME = new RegExp(SECRET_WORD, 'i');

/** Whether a field of this name holds a secret (its value is never shown). */
export function isSecretKey(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Schemes whose URL FFmpeg or a client also takes without `//` (`rtsp:user:pw@host`). */
const NETWORK_SCHEMES = 'rtsps?|rtmps?|https?|mqtts?|wss?|srt|udp|tcp';
/** A URL's head: a scheme of at most 32 characters, then `://` or, for a network scheme, `:`. */
const URL_HEAD = new RegExp(String.raw`^([a-z][a-z0-9+.-]{0,31}):(//)?`, 'i');
const NETWORK_SCHEME = new RegExp(`^(?:${NETWORK_SCHEMES})$`, 'i');
/**
 * Where a URL may start in free text: each `://` (its scheme is then looked for just before it),
 * and a network scheme's slashless form, a whole word with no space after the colon (`tcp: reset` is prose).
 */
const URL_MARK = new RegExp(String.raw`://|(?<![a-z0-9+.-])(?:${NETWORK_SCHEMES}):(?=[^\s/])`, 'gi');
const SCHEME_CHAR = /[a-z0-9+.-]/i;
const LETTER = /[a-z]/i;
/** A user name shown as it is; anything else (percent-escapes, non-ASCII, no ':' at all) may be part of the secret. */
const PLAIN_USER = /^[A-Za-z0-9._~-]{1,64}$/;
/** One query parameter: from `?`, `&` or `;` (the name excludes every separator, so each run is scanned once). */
const QUERY_PARAM = /([?&;])([^?&;#=]*)=([^&;#]*)/g;

function maskUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  const user = colon >= 0 ? userinfo.slice(0, colon) : '';
  return PLAIN_USER.test(user) ? `${user}:***` : '***';
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `?ch=1&password=x#f` → `?ch=1&password=***#f`: a secret-named parameter's value is masked. */
function maskQuery(hostAndPath: string): string {
  const q = hostAndPath.indexOf('?');
  if (q < 0) return hostAndPath;
  const hash = hostAndPath.indexOf('#', q);
  const end = hash < 0 ? hostAndPath.length : hash;
  const query = hostAndPath.slice(q, end).replace(QUERY_PARAM, (m, sep: string, name: string, value: string) => (value !== '' && isSecretKey(decoded(name)) ? `${sep}${name}=***` : m));
  return `${hostAndPath.slice(0, q)}${query}${hostAndPath.slice(end)}`;
}

/**
 * rtsp://user:secret@host/path?pwd=x → rtsp://user:***@host/path?pwd=***. The userinfo ends at
 * the LAST `@` (FFmpeg and browsers split there), so a password holding `@`, `:`, `/` or spaces
 * is masked whole; a path holding `@` is masked with it (better too much than a leaked password).
 * `file:` URLs name a path, never a user: they stay as they are (stack traces through @scope/ packages).
 */
export function redactUrl(url: string): string {
  const head = URL_HEAD.exec(url);
  if (!head) return url;
  const scheme = head[1]!;
  if (/^file$/i.test(scheme) || (head[2] === undefined && !NETWORK_SCHEME.test(scheme))) return url;
  const rest = url.slice(head[0].length);
  const at = rest.lastIndexOf('@');
  if (at < 0) return `${head[0]}${maskQuery(rest)}`;
  return `${head[0]}${maskUserinfo(rest.slice(0, at))}${maskQuery(rest.slice(at))}`;
}

/** Masks every URL in one line: from its start to the last `@` before the next URL (a file: one included) or the line's end. */
function redactUrlsInLine(line: string): string {
  const starts: number[] = [];
  for (const m of line.matchAll(URL_MARK)) {
    if (m[0] !== '://') {
      starts.push(m.index);
      continue;
    }
    // The scheme: the last 32 scheme characters before `://`, from a letter (one glued to a long word is still found).
    let s = m.index;
    while (s > m.index - 32 && s > (starts.at(-1) ?? -1) + 1 && SCHEME_CHAR.test(line[s - 1]!)) s--;
    while (s < m.index && !LETTER.test(line[s]!)) s++;
    if (s < m.index && s > (starts.at(-1) ?? -1)) starts.push(s);
  }
  if (starts.length === 0) return line;
  let out = line.slice(0, starts[0]);
  for (let i = 0; i < starts.length; i++) out += redactUrl(line.slice(starts[i], starts[i + 1] ?? line.length));
  return out;
}

/**
 * `password: …`, `"token":"…"`, `pwd=…`, `Authorization: Basic …`: the key is matched from its
 * secret word on (no unbounded run before it to retry), with at most 64 name characters after.
 * A short word counts before `=` or as a quoted key: in prose, `pass: 3/20` or `key: …` is a plain word.
 */
const SECRET_KEY_VALUE = new RegExp(
  String.raw`(${LONG_WORD}[\w.-]{0,64}["']?|${SHORT_WORD}[\w.-]{0,64}(?:["']|(?=\s*=)))(\s*[:=]\s*)("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^\n]*)`,
  'gi',
);

const SOURCE_FILE = /\.(?:[cm]?[jt]sx?|node|cc|cpp|h)$/i;

/**
 * Masks every URL's userinfo and secret query parameters, and the value of every `password: …`,
 * `"token":"…"`, `api_key=…`, `Cookie: …` in free text (a config error, a libav message, a log
 * line). An unquoted value is masked to the end of its line (`key=value` to the next `&` or `;`):
 * a password may hold spaces.
 */
export function redactSecrets(text: string): string {
  return text
    .split('\n')
    .map(redactUrlsInLine)
    .join('\n')
    .replace(SECRET_KEY_VALUE, (m, key: string, sep: string, value: string) => {
      // A stack frame's `auth.js:10:5` (a file named like a secret) is a position, not a value.
      if (value === '' || (sep === ':' && SOURCE_FILE.test(key) && /^\d+:\d+\)?$/.test(value))) return m;
      if (value.startsWith('"') || value.startsWith("'")) return `${key}${sep}***`;
      if (sep === '=') {
        const end = value.search(/[&;]/);
        return `${key}${sep}***${end >= 0 ? value.slice(end) : ''}`;
      }
      return `${key}${sep}***`;
    });
}

/**
 * redactSecrets, and also the known URL's password (raw and percent-decoded) wherever it shows
 * alone, as a libav message about that URL may print it.
 */
export function redactText(text: string, url: string): string {
  const masked = redactUrl(url);
  if (masked === url) return redactSecrets(text);
  // The known URL and password first: in free text a password holding '@' cannot be told from the host.
  let out = text.split(url).join(masked);
  const head = URL_HEAD.exec(url)![0];
  const at = url.lastIndexOf('@');
  const secrets: string[] = [];
  if (at >= head.length) {
    const userinfo = url.slice(head.length, at);
    const colon = userinfo.indexOf(':');
    secrets.push(userinfo, colon >= 0 && PLAIN_USER.test(userinfo.slice(0, colon)) ? userinfo.slice(colon + 1) : userinfo);
  }
  const q = url.indexOf('?', Math.max(at, 0));
  if (q >= 0) for (const m of url.slice(q).split('#')[0]!.matchAll(QUERY_PARAM)) if (isSecretKey(decoded(m[2]!))) secrets.push(m[3]!);
  const shown = [...new Set(secrets.flatMap((s) => [s, decoded(s)]))].filter((s) => s.length >= 3 && s !== '***');
  for (const s of shown.sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
  return redactSecrets(out);
}

/** A line that cannot hold a secret: no userinfo (`@`) and no secret word. */
const MAY_HOLD_SECRET = new RegExp(`@|${SECRET_WORD}`, 'i');
/** One JSON string literal, from its opening quote (sticky: the scanner says where). */
const JSON_STRING = /"(?:[^"\\]|\\.)*"/y;
const JSON_SPACE = /[ \t\r\n]*/y;

function redactJsonString(literal: string): string {
  const s = JSON.parse(literal) as string;
  const r = redactSecrets(s);
  return r === s ? literal : JSON.stringify(r);
}

/** The end of the string literal at `i` (a `"`), or -1 when it does not close. */
function stringEnd(line: string, i: number): number {
  JSON_STRING.lastIndex = i;
  return JSON_STRING.test(line) ? JSON_STRING.lastIndex : -1;
}

function skipSpace(line: string, i: number): number {
  JSON_SPACE.lastIndex = i;
  JSON_SPACE.test(line);
  return JSON_SPACE.lastIndex;
}

/** The end of the JSON value at `i`: a string, a whole list or object (strings in it skipped), or a scalar. */
function valueEnd(line: string, i: number): number {
  if (line[i] === '"') return stringEnd(line, i);
  if (line[i] !== '{' && line[i] !== '[') {
    let j = i;
    while (j < line.length && !',}] \t\r\n'.includes(line[j]!)) j++;
    return j;
  }
  let depth = 0;
  for (let j = i; j < line.length; j++) {
    const c = line[j];
    if (c === '"') {
      const e = stringEnd(line, j);
      if (e < 0) return -1;
      j = e - 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (--depth === 0) return j + 1;
    }
  }
  return -1;
}

/**
 * One serialized JSON log line with its secrets out: the value of every secret-named member,
 * whatever its type (a string, a number, a list of cookies, an object), is `"***"`, and every
 * other string (message, err.message, stack, bindings) goes through redactSecrets. One pass
 * over the line; a line that is not whole JSON from some point on is redacted as free text there.
 */
export function redactJsonLine(line: string): string {
  if (!MAY_HOLD_SECRET.test(line)) return line;  // most lines: one scan, nothing to parse
  let out = '';
  let i = 0;
  for (;;) {
    const q = line.indexOf('"', i);
    if (q < 0) return out + line.slice(i);
    out += line.slice(i, q);
    const end = stringEnd(line, q);
    if (end < 0) return out + redactSecrets(line.slice(q));
    const literal = line.slice(q, end);
    const colon = skipSpace(line, end);
    if (line[colon] === ':' && isSecretKey(JSON.parse(literal) as string)) {
      const start = skipSpace(line, colon + 1);
      const after = valueEnd(line, start);
      if (after < 0) return `${out}${line.slice(q, start)}"***"`;
      out += `${line.slice(q, start)}"***"`;
      i = after;
    } else {
      out += redactJsonString(literal);
      i = end;
    }
  }
}
