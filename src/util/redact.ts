const CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/i;

/** rtsp://user:secret@host/path → rtsp://user:***@host/path (credentials never reach logs or APIs). */
export function redactUrl(url: string): string {
  return url.replace(CREDENTIALS, (_m, scheme: string, cred: string) => `${scheme}${cred.split(':')[0] ?? ''}:***@`);
}

/** Replaces a URL's `user:password@` wherever it appears in a message (libav errors may echo it). */
export function redactText(text: string, url: string): string {
  const cred = CREDENTIALS.exec(url)?.[2];
  if (!cred || !cred.includes(':')) return text;
  return text.split(`${cred}@`).join(`${cred.split(':')[0] ?? ''}:***@`);
}

/**
 * Masks every URL's password and every `…password: value` in free text (a config error quoting
 * its source line, before it goes anywhere others can read it).
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]*):([^/@\s]*)@/gi, (_m, scheme: string, user: string) => `${scheme}${user}:***@`)
    .replace(/(password["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,}]+)/gi, '$1***');
}
