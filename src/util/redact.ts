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
const SECRET_WORDS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'credential',
  'authorization',
  'cookie',
  'apikey',
  'api_key',
  'api-key',
  'private_key',
  'private-key',
  'signature',
];
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
const FILE_URL = /^file:/i;
const NOT_URL_START = /[\s,;'"<>()[\]{}]/;
const URL_DELIMITER = /[\s'"(<[{,;=]/;
const LETTER = /[a-z]/i;
/** A user name shown as it is; anything else (percent-escapes, non-ASCII, no ':' at all) may be part of the secret. */
const PLAIN_USER = /^[A-Za-z0-9._~-]{1,64}$/;
/** One query or fragment parameter: from `?`, `&`, `;` or `#` (the name excludes every separator, so each run is scanned once). */
const QUERY_PARAM = /([?&;#])([^?&;#=]*)=([^&;#]*)/g;

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

/** `?ch=1&password=x#token=y` → `?ch=1&password=***#token=***`: a secret-named parameter's value is masked, fragment included. */
function maskQuery(query: string): string {
  return query.replace(QUERY_PARAM, (m, sep: string, name: string, value: string) =>
    value !== '' && isSecretKey(decoded(name)) ? `${sep}${name}=***` : m,
  );
}

/**
 * A URL after its head, cut where its userinfo ends: at the last `@` before the query (a query
 * may hold a mail address). Before any `/`, a `?` may still be part of the password: then the
 * last `@` anywhere ends it (over-masked rather than shown).
 */
function userinfoOf(rest: string): string | undefined {
  const qmark = rest.indexOf('?');
  const authorityEnd = qmark < 0 ? rest.length : qmark;
  let at = rest.lastIndexOf('@', authorityEnd - 1);
  if (at < 0 && qmark >= 0 && !rest.slice(0, qmark).includes('/')) at = rest.lastIndexOf('@');
  return at < 0 ? undefined : rest.slice(0, at);
}

/**
 * rtsp://user:secret@host/path?pwd=x → rtsp://user:***@host/path?pwd=***. The userinfo ends at
 * the LAST `@` before the query (FFmpeg splits there), so a password holding `@`, `:`, `/` or spaces
 * is masked whole; a path holding `@` is masked with it (better too much than a leaked password).
 * The query is masked first and whole, so no `@` in it can hide a secret-named parameter.
 * `file:` URLs name a path, never a user: they stay as they are (stack traces through @scope/ packages).
 */
export function redactUrl(url: string): string {
  const head = URL_HEAD.exec(url);
  if (!head) return url;
  const scheme = head[1]!;
  if (/^file$/i.test(scheme) || (head[2] === undefined && !NETWORK_SCHEME.test(scheme))) return url;
  const rest = url.slice(head[0].length);
  const userinfo = userinfoOf(rest);
  const cut = userinfo?.length ?? 0;
  const tail = rest.slice(cut); // from the '@', or the host
  const q = rest.search(/[?#]/);
  // A query that began inside the masked userinfo goes on in the tail: all of the tail is masked as query.
  const shown = q < 0 ? tail : q < cut ? maskQuery(tail) : `${tail.slice(0, q - cut)}${maskQuery(tail.slice(q - cut))}`;
  return `${head[0]}${userinfo === undefined ? '' : maskUserinfo(userinfo)}${shown}`;
}

/**
 * Masks every URL in one line: from its start to the last `@` before the next URL (a file: one
 * included) or the line's end. A URL with no `@` before the next one is joined to it: the next
 * may start inside its password (`rtsp://u:Hunter2 udp:x@h`, `u:Hunter2://x@h`), so both are
 * masked as one; a known scheme's `://` after a space or quote starts a URL of its own.
 */
function redactUrlsInLine(line: string): string {
  const starts: number[] = [];
  const afterMark: number[] = []; // where each URL's text after `scheme:` or `scheme://` begins
  const ownUrl: boolean[] = []; // a known scheme's `://` after a space or quote: a URL of its own, not inside a password
  for (const m of line.matchAll(URL_MARK)) {
    if (m[0] !== '://') {
      starts.push(m.index);
      afterMark.push(m.index + m[0].length);
      ownUrl.push(false);
      continue;
    }
    // The scheme: the last 32 scheme characters before `://`, from a letter (one glued to a long word is still found).
    let s = m.index;
    while (s > m.index - 32 && s > (starts.at(-1) ?? -1) + 1 && SCHEME_CHAR.test(line[s - 1]!)) s--;
    while (s < m.index && !LETTER.test(line[s]!)) s++;
    if (s < m.index && s > (starts.at(-1) ?? -1)) {
      starts.push(s);
      afterMark.push(m.index + 3);
      ownUrl.push(NETWORK_SCHEME.test(line.slice(s, m.index)) && (s === 0 || URL_DELIMITER.test(line[s - 1]!)));
    }
  }
  if (starts.length === 0) return line;
  let out = line.slice(0, starts[0]);
  let from = starts[0]!;
  let nextAt = line.indexOf('@', from); // moves forward only: one scan of the line
  for (let i = 0; i < starts.length; i++) {
    const end = starts[i + 1] ?? line.length;
    if (nextAt >= 0 && nextAt < starts[i]!) nextAt = line.indexOf('@', starts[i]);
    // Not joined: a file: URL (a path, never a password: stack traces stay whole), a bare scheme in
    // prose (`an rtsp://, rtsps:// URL`), or a next URL standing on its own (`… then rtsp://h/x`).
    const bare = (j: number) => NOT_URL_START.test(line[afterMark[j]!] ?? ' ');
    const joined =
      end < line.length &&
      (nextAt < 0 || nextAt >= end) &&
      !(from === starts[i] && bare(i)) &&
      !bare(i + 1) &&
      !ownUrl[i + 1] &&
      !FILE_URL.test(line.slice(from, from + 5)) &&
      !FILE_URL.test(line.slice(end, end + 5));
    if (joined) continue;
    out += redactUrl(line.slice(from, end));
    from = end;
  }
  return out;
}

/**
 * `password: …`, `"token":"…"`, `pwd=…`, `Authorization: Basic …`: the key is matched from its
 * secret word on (no unbounded run before it to retry), with at most 64 name characters after.
 * A short word counts before `=` or as a quoted key: in prose, `pass: 3/20` or `key: …` is a plain word.
 */
const QUOTED_VALUE = String.raw`"(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'`;
/** `name: value` runs to the line's end; `name=value` to the next `&`, `;` or `#`, where the scan goes on (`token=a&password=b`). */
const SECRET_KEY_VALUE = new RegExp(
  String.raw`(${LONG_WORD}[\w.-]{0,64}["']?|${SHORT_WORD}[\w.-]{0,64}(?:["']|(?=\s*=)))(?:(\s*:\s*)(${QUOTED_VALUE}|[^\n]*)|(\s*=\s*)(${QUOTED_VALUE}|[^&;#\n]*))`,
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
    .replace(
      SECRET_KEY_VALUE,
      (
        m,
        key: string,
        colon: string | undefined,
        colonValue: string | undefined,
        equals: string | undefined,
        equalsValue: string | undefined,
      ) => {
        const sep = colon ?? equals ?? '';
        const value = colonValue ?? equalsValue ?? '';
        // A stack frame's `auth.js:10:5` (a file named like a secret) is a position, not a value.
        if (value === '' || (colon !== undefined && SOURCE_FILE.test(key) && /^\d+:\d+\)?$/.test(value))) return m;
        return `${key}${sep}***`;
      },
    );
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
  const userinfo = userinfoOf(url.slice(head.length));
  const secrets: string[] = [];
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    secrets.push(
      userinfo,
      colon >= 0 && PLAIN_USER.test(userinfo.slice(0, colon)) ? userinfo.slice(colon + 1) : userinfo,
    );
  }
  const q = url.search(/[?#]/);
  if (q >= 0) for (const m of url.slice(q).matchAll(QUERY_PARAM)) if (isSecretKey(decoded(m[2]!))) secrets.push(m[3]!);
  const shown = [...new Set(secrets.flatMap((s) => [s, decoded(s)]))].filter((s) => s.length >= 3 && s !== '***');
  for (const s of shown.sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
  return redactSecrets(out);
}

/** A line that cannot hold a secret: no userinfo (`@`), no URL, no percent-escape (`p%61ssword=`) and no secret word. */
const MAY_HOLD_SECRET = new RegExp(`@|%|://|${SECRET_WORD}`, 'i');
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
  if (!MAY_HOLD_SECRET.test(line)) return line; // most lines: one scan, nothing to parse
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
