import { describe, expect, it } from 'vitest';
import { z } from 'zod';

import { validateConfig } from '../../src/config/loadConfig.js';
import { redactSecrets, redactText, redactUrl } from '../../src/util/redact.js';
import { describeIssue } from '../../src/util/zodIssues.js';
import { expectNoSecret, SECRETS } from '../helpers/secrets.js';

describe('redactUrl (a URL known to be one: camera, MQTT broker)', () => {
  for (const scheme of ['rtsp', 'rtsps', 'mqtt', 'mqtts', 'http', 'https']) {
    it(`masks the whole password of ${scheme}:// URLs, however it is spelled, and keeps host, port and path`, () => {
      for (const secret of SECRETS) {
        const url = `${scheme}://camuser:${secret}@127.0.0.1:8554/live/ch1?x=1`;
        const out = redactUrl(url);
        expectNoSecret(out, secret);
        expect(out).toBe(`${scheme}://camuser:***@127.0.0.1:8554/live/ch1?x=1`);
      }
    });
  }

  it('masks everything up to the last @ (FFmpeg splits userinfo there), and the user too when it is not a plain name', () => {
    expect(redactUrl('rtsp://camuser:Zz99@127.0.0.1/x')).toBe('rtsp://camuser:***@127.0.0.1/x');
    expect(redactUrl('rtsp://camuser:a@b@c@127.0.0.1/x')).toBe('rtsp://camuser:***@127.0.0.1/x');
    expect(redactUrl('rtsp://onlyasecret@127.0.0.1/x')).toBe('rtsp://***@127.0.0.1/x');
    expect(redactUrl('rtsp://us%40er:pw@127.0.0.1/x')).toBe('rtsp://***@127.0.0.1/x');
    expect(redactUrl('rtsp://usér:pw@127.0.0.1/x')).toBe('rtsp://***@127.0.0.1/x');
    expect(redactUrl('rtsp://admin:s3cret@10.0.0.9:554/h264')).toBe('rtsp://admin:***@10.0.0.9:554/h264');
  });

  it('leaves URLs without credentials and file paths alone', () => {
    for (const u of ['rtsp://10.0.0.5/stream', 'rtsp://[::1]:8554/a', '/srv/clips/door.mp4', 'file:/srv/a.mp4', 'mqtt://broker:1883']) expect(redactUrl(u)).toBe(u);
  });
});

describe('redactSecrets (free text: log lines, STATUS=, CLI and API errors)', () => {
  it('masks every URL password in a message, with the URL quoted or not, and keeps the rest', () => {
    for (const scheme of ['rtsp', 'rtsps', 'mqtt', 'http']) {
      for (const secret of SECRETS) {
        const url = `${scheme}://camuser:${secret}@127.0.0.1:8554/live`;
        for (const text of [`cannot open ${url}: Connection refused`, `received '${url}' (cameras[0].url)`, `a: ${url}\nb: ${url}/2 then rtsp://10.0.0.5/plain`]) {
          const out = redactSecrets(text);
          expectNoSecret(out, secret);
          expect(out).toContain('camuser:***@127.0.0.1:8554/live');
        }
        expect(redactSecrets(`cannot open ${url}: Connection refused`)).toMatch(/: Connection refused$/);
      }
    }
  });

  it('masks the value of every secret-looking key (YAML, JSON, key=value), quoted or not, to the end of its line', () => {
    for (const secret of SECRETS) {
      const text = [
        `line 4: "  admin_password: ${secret}"`,
        `  password: ${secret}`,
        `{"password":${JSON.stringify(secret)},"user":"bob"}`,
        `mqtt password: '${secret.replace(/'/g, "''")}'`,
        `token=${encodeURIComponent(secret)}&user=bob`,
        `api_key: ${secret}`,
        `client_secret = ${secret}`,
      ].join('\n');
      const out = redactSecrets(text);
      expectNoSecret(out, secret);
      expect(out).toContain('admin_password: ***');
      expect(out).toContain('"user":"bob"');
      expect(out).toContain('&user=bob');
    }
  });

  it('keeps text without secrets as it is', () => {
    const plain = 'Expected a value of at least 8 characters for auth.admin_password; rtsp://10.0.0.5/stream and rtsp://user@host/x';
    expect(redactSecrets(plain)).toBe(plain.replace('rtsp://user@host', 'rtsp://***@host'));
    expect(redactSecrets('3/4 cameras streaming; detector cpu int8')).toBe('3/4 cameras streaming; detector cpu int8');
  });
});

describe('redactText (libav messages about one known URL)', () => {
  it('masks the URL wherever it shows, and its password alone, raw or percent-decoded', () => {
    for (const secret of SECRETS) {
      const url = `rtsp://camuser:${secret}@127.0.0.1/x`;
      let decoded = secret;
      try {
        decoded = decodeURIComponent(secret);
      } catch {
        // as is
      }
      const out = redactText(`cannot open ${url}: 401 Unauthorized (tried password ${decoded})`, url);
      expectNoSecret(out, secret);
      expect(out).toContain('cannot open rtsp://camuser:***@127.0.0.1/x: 401 Unauthorized');
    }
  });
});

describe('describeIssue never echoes a secret (config errors, API 400 answers)', () => {
  const messageOf = (raw: unknown): string => {
    try {
      validateConfig(raw, 'test.yaml');
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected the config to be refused');
  };

  it('a too-short, too-long or mistyped admin_password or mqtt password: names the field and what was expected, not the value', () => {
    const short = messageOf({ auth: { admin_password: 'Sh0rtPw' } });
    expect(short).toMatch(/Expected a value of at least 8 characters for auth\.admin_password/);
    expect(short).not.toContain('Sh0rtPw');
    const long = messageOf({ auth: { admin_password: `Very Long@Secret:${'x'.repeat(300)}` } });
    expect(long).toMatch(/at most 256 characters for auth\.admin_password/);
    expectNoSecret(long, 'Very Long@Secret');
    const numeric = messageOf({ auth: { admin_password: 73914682 } });
    expect(numeric).toMatch(/Expected a string for auth\.admin_password but received a number/);
    expect(numeric).not.toContain('73914682');
    const mqtt = messageOf({ mqtt: { url: 'mqtt://broker:1883', password: ['Hunter2 Secret'] } });
    expect(mqtt).toMatch(/for mqtt\.password/);
    expectNoSecret(mqtt, 'Hunter2 Secret');
  });

  it('a camera, MQTT or origin URL with credentials: the URL shows with its password masked', () => {
    for (const secret of SECRETS) {
      const cam = messageOf({ cameras: [{ id: 'door', url: `rtsp://admin:${secret} x@127.0.0.1/h264` }] });
      expect(cam).toMatch(/for cameras\[0\]\.url but received 'rtsp:\/\/admin:\*\*\*@127\.0\.0\.1\/h264'/);
      expectNoSecret(cam, secret);
      const mqtt = messageOf({ mqtt: { url: `mqtt://bob:${secret} x@broker:1883` } });
      expect(mqtt).toMatch(/for mqtt\.url/);
      expectNoSecret(mqtt, secret);
      const origin = messageOf({ auth: { allowed_origins: [`http://bob:${secret} x@[proxy`] } });
      expect(origin).toMatch(/for auth\.allowed_origins\[0\]/);
      expectNoSecret(origin, secret);
    }
  });

  it('any schema: password, token, secret and key fields are never echoed', () => {
    const schema = z.strictObject({ password: z.string().min(8), token: z.string().regex(/^[a-f0-9]+$/), nested: z.object({ client_secret: z.literal('x'), api_key: z.enum(['a', 'b']) }) });
    const r = schema.safeParse({ password: 'Sh0rt', token: 'Zz99@Qq77', nested: { client_secret: 'co:lo:ns', api_key: 'sla/shes/h3r3' } }, { reportInput: true });
    expect(r.success).toBe(false);
    const text = r.error!.issues.map(describeIssue).join('\n');
    expect(text).toMatch(/for password/);
    expect(text).toMatch(/for nested\.api_key/);
    for (const s of ['Sh0rt', 'Zz99@Qq77', 'co:lo:ns', 'sla/shes/h3r3']) expectNoSecret(text, s);
  });
});
