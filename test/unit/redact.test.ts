import { describe, expect, it } from 'vitest';
import { z } from 'zod';

import { validateConfig } from '../../src/config/loadConfig.js';
import { redactJsonLine, redactSecrets, redactText, redactUrl } from '../../src/util/redact.js';
import { describeIssue, describeValue } from '../../src/util/zodIssues.js';
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
    for (const u of [
      'rtsp://10.0.0.5/stream',
      'rtsp://[::1]:8554/a',
      '/srv/clips/door.mp4',
      'file:/srv/a.mp4',
      'mqtt://broker:1883',
    ])
      expect(redactUrl(u)).toBe(u);
  });
});

describe('redactSecrets (free text: log lines, STATUS=, CLI and API errors)', () => {
  it('masks every URL password in a message, with the URL quoted or not, and keeps the rest', () => {
    for (const scheme of ['rtsp', 'rtsps', 'mqtt', 'http']) {
      for (const secret of SECRETS) {
        const url = `${scheme}://camuser:${secret}@127.0.0.1:8554/live`;
        for (const text of [
          `cannot open ${url}: Connection refused`,
          `received '${url}' (cameras[0].url)`,
          `a: ${url}\nb: ${url}/2 then rtsp://10.0.0.5/plain`,
        ]) {
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
    const plain =
      'Expected a value of at least 8 characters for auth.admin_password; rtsp://10.0.0.5/stream and rtsp://user@host/x';
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
    const schema = z.strictObject({
      password: z.string().min(8),
      token: z.string().regex(/^[a-f0-9]+$/),
      nested: z.object({ client_secret: z.literal('x'), api_key: z.enum(['a', 'b']) }),
    });
    const r = schema.safeParse(
      { password: 'Sh0rt', token: 'Zz99@Qq77', nested: { client_secret: 'co:lo:ns', api_key: 'sla/shes/h3r3' } },
      { reportInput: true },
    );
    expect(r.success).toBe(false);
    const text = r.error!.issues.map(describeIssue).join('\n');
    expect(text).toMatch(/for password/);
    expect(text).toMatch(/for nested\.api_key/);
    for (const s of ['Sh0rt', 'Zz99@Qq77', 'co:lo:ns', 'sla/shes/h3r3']) expectNoSecret(text, s);
  });
});

describe('every redaction is linear in its input (it runs on anonymous input: headers, query values, libav text)', () => {
  const MB = 1_000_000;
  const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length));
  const shapes: Record<string, string> = {
    "'a'": fill('a'),
    "'a:'": fill('a:'),
    "'a@'": fill('a@'),
    "'password'": fill('password'),
    "'://'": fill('://'),
    "'rtsp://'+'a'": `rtsp://${fill('a')}`,
    "'%41'": fill('%41'),
    "'password='": fill('password='),
    "'a://a@'": fill('a://a@'),
    "'\"'": fill('"'),
    "'?'": fill('?'),
    "'&a'": fill('&a'),
    "'password=\"'": fill('password="'),
    "'token=a&'": fill('token=a&'),
    "'a?b@'": fill('a?b@'),
    "'rtsp://a '": fill('rtsp://a '),
    "'udp:a '": fill('udp:a '),
    "'?p%61ssword=#'": fill('?p%61ssword=#'),
  };
  // A guard against quadratic behaviour, not a speed test: the old code took minutes on these
  // inputs; a linear pass takes a fraction of the bound even on a box loaded by parallel builds.
  const BOUND_MS = 10_000;
  const timed = <T>(what: string, f: () => T): T => {
    const t0 = performance.now();
    const r = f();
    expect(performance.now() - t0, `${what} took too long: quadratic?`).toBeLessThan(BOUND_MS);
    return r;
  };

  for (const [name, junk] of Object.entries(shapes)) {
    it(`1 MB of ${name}: redactSecrets, redactUrl, redactJsonLine finish and still mask the secrets around it`, () => {
      const text = `${junk} rtsp://cam:Zz99Qq77x@127.0.0.1/x ${junk}\npassword: Hunter2Secret ${junk}`;
      const out = timed('redactSecrets', () => redactSecrets(text));
      expect(out).not.toContain('Zz99Qq77x');
      expect(out).not.toContain('Hunter2Secret');
      // Junk holding '@', '=' or a slashless URL is masked with the secret (to the last '@'; a URL without one joins the next).
      if (!/[@=]|udp:/.test(junk)) expect(out).toContain('rtsp://cam:***@127.0.0.1/x');
      timed('redactUrl', () => redactUrl(junk));
      expect(timed('redactUrl', () => redactUrl(`rtsp://cam:Zz99Qq77x@127.0.0.1/${junk}`))).not.toContain('Zz99Qq77x');
      const line = `${JSON.stringify({ level: 30, msg: text, [junk.slice(0, 1000)]: junk, password: 'Hunter2Secret' })}\n`;
      const json = timed('redactJsonLine', () => redactJsonLine(line));
      expect(json).not.toContain('Zz99Qq77x');
      expect(json).not.toContain('Hunter2Secret');
      expect(() => JSON.parse(json) as unknown).not.toThrow();
    }, 60_000);
  }

  it('a secret glued to 1 MB of letters is still found (no start anchor to defeat)', () => {
    const glued = 'a'.repeat(MB);
    const out = timed('redactSecrets', () =>
      redactSecrets(`${glued}_password: Hunter2Glued\n${glued}rtsp://cam:Zz99Glued@127.0.0.1/x`),
    );
    expect(out).not.toContain('Hunter2Glued');
    expect(out).not.toContain('Zz99Glued');
    expect(out.endsWith('rtsp://cam:***@127.0.0.1/x')).toBe(true);
  }, 60_000);

  it('describeIssue of a 16 kB value answers a short message, its URL password still masked', () => {
    const schema = z.strictObject({ quality: z.literal('high'), url: z.url() });
    const value = `rtsp://cam:Zz99Qq77x@127.0.0.1/${'a'.repeat(16_000)}`;
    const r = schema.safeParse({ quality: 'a:'.repeat(8_000), url: value }, { reportInput: true });
    expect(r.success).toBe(false);
    for (const issue of r.error!.issues) {
      const text = timed('describeIssue', () => describeIssue(issue));
      expect(text.length, text).toBeLessThan(300);
      expect(text).not.toContain('Zz99Qq77x');
    }
    expect(describeValue('x'.repeat(16_000))).toBe(`'${'x'.repeat(80)}…'`);
  });
});

describe('query-string credentials (Foscam-style ?usr=admin&pwd=…, ?password=, ?token=)', () => {
  it('redactUrl masks every secret-named query parameter and keeps the others', () => {
    expect(redactUrl('rtsp://h/x?password=Hunter2&ch=1')).toBe('rtsp://h/x?password=***&ch=1');
    expect(redactUrl('http://10.0.0.9:88/cgi-bin/CGIStream.cgi?cmd=GetMJStream&usr=admin&pwd=Zz99%40Qq77')).toBe(
      'http://10.0.0.9:88/cgi-bin/CGIStream.cgi?cmd=GetMJStream&usr=admin&pwd=***',
    );
    for (const name of [
      'passwd',
      'pass',
      'passphrase',
      'secret',
      'token',
      'auth',
      'key',
      'api_key',
      'apikey',
      'sig',
      'signature',
      'access_token',
      'credentials',
      'PWD',
      'stream_key',
    ]) {
      expect(redactUrl(`rtsps://cam:pw@h:322/live?ch=1&${name}=Hunter2#frag`)).toBe(
        `rtsps://cam:***@h:322/live?ch=1&${name}=***#frag`,
      );
    }
    expect(redactUrl('rtsp://h/x?keyframe=1&channel=2')).toBe('rtsp://h/x?keyframe=1&channel=2');
  });

  it('redactSecrets masks pwd=, pass=, auth=, key= in free text and in URLs inside it', () => {
    for (const name of ['pwd', 'pass', 'auth', 'key', 'passwd', 'sig']) {
      const out = redactSecrets(
        `cannot open http://10.0.0.9/snap.cgi?usr=admin&${name}=Hunter2X&ch=1: 401; retry with ${name}=Zz99Qq77`,
      );
      expect(out).not.toContain('Hunter2X');
      expect(out).not.toContain('Zz99Qq77');
      expect(out).toContain('usr=admin');
      expect(out).toContain('&ch=1');
      expect(redactSecrets(`{"${name}":"Hunter2X","user":"bob"}`)).toBe(`{"${name}":***,"user":"bob"}`);
    }
    // In prose a short word before ':' is a plain word.
    for (const plain of [
      'calibration max pass: 3/20 frames',
      'Unknown key: camera',
      'at f (file:///app/auth.js:10:5)',
      'at g (/app/dist/passwords.js:3:7)',
    ])
      expect(redactSecrets(plain)).toBe(plain);
  });
});

describe('stack traces keep their paths', () => {
  it('file: URLs are never masked, nor a network URL across them', () => {
    const stack =
      'Error: boom\n    at f (file:///app/node_modules/@fastify/static/index.js:10:5)\n    at file:///app/node_modules/@scope/a/b.js:1:2';
    expect(redactSecrets(stack)).toBe(stack);
    expect(redactUrl('file:///app/node_modules/@fastify/static/index.js')).toBe(
      'file:///app/node_modules/@fastify/static/index.js',
    );
    expect(redactSecrets('open rtsp://cam:Zz99Qq77@h/x failed at file:///app/node_modules/@fastify/x.js:1:2')).toBe(
      'open rtsp://cam:***@h/x failed at file:///app/node_modules/@fastify/x.js:1:2',
    );
  });
});

describe('headers, JSON containers and slashless URLs', () => {
  it('Authorization and Cookie lines are masked in free text', () => {
    for (const line of [
      'Authorization: Basic dXNlcjpIdW50ZXIy',
      'authorization: Bearer Zz99Qq77.abc',
      'Cookie: vigil_session=Zz99Qq77; theme=dark',
      'set-cookie: vigil_session=Zz99Qq77',
    ]) {
      const out = redactSecrets(`request headers: ${line}`);
      for (const s of ['dXNlcjpIdW50ZXIy', 'Zz99Qq77']) expect(out, out).not.toContain(s);
      expect(out).toContain('request headers: ');
    }
  });

  it('a secret-named JSON log field is "***" whatever its value: string, number, list, object', () => {
    const line = `${JSON.stringify({ level: 30, cookie: ['vigil_session=Zz99Qq77'], password: { x: 'Hunter2X', n: [1, { y: 'Hunter2Y' }] }, headers: { authorization: ['Basic dXNlcjpw'] }, token: 73914682, user: 'bob', msg: 'ok "quoted" {braces} [x]' })}\n`;
    const out = redactJsonLine(line);
    for (const s of ['Zz99Qq77', 'Hunter2X', 'Hunter2Y', 'dXNlcjpw', '73914682']) expect(out, out).not.toContain(s);
    expect(JSON.parse(out)).toEqual({
      level: 30,
      cookie: '***',
      password: '***',
      headers: { authorization: '***' },
      token: '***',
      user: 'bob',
      msg: 'ok "quoted" {braces} [x]',
    });
    expect(out.endsWith('\n')).toBe(true);
  });

  it('scheme:user:password@host without slashes (FFmpeg takes it) is masked for network schemes', () => {
    for (const scheme of ['rtsp', 'rtsps', 'rtmp', 'http', 'https', 'mqtt', 'mqtts', 'srt', 'udp', 'tcp']) {
      expect(redactUrl(`${scheme}:cam:Zz99Qq77@10.0.0.9/x`)).toBe(`${scheme}:cam:***@10.0.0.9/x`);
      const out = redactSecrets(`cannot open ${scheme}:cam:Zz99Qq77@10.0.0.9/x: refused`);
      expect(out).toBe(`cannot open ${scheme}:cam:***@10.0.0.9/x: refused`);
    }
    expect(redactSecrets('tcp: connection reset by peer; mail bob@example.com')).toBe(
      'tcp: connection reset by peer; mail bob@example.com',
    );
  });
});

describe('a secret cannot hide behind another part of the text', () => {
  it("a query holding '@' (a mail address) is still masked, and the host stays shown", () => {
    expect(redactUrl('rtsp://cam/live?user=ops@site.com&password=Hunter2')).toBe(
      'rtsp://cam/live?user=ops@site.com&password=***',
    );
    expect(redactUrl('rtsp://u:pw@cam/x?email=a@b&token=T0k')).toBe('rtsp://u:***@cam/x?email=a@b&token=***');
    expect(redactUrl('http://h/x?a=1#access_token=T0kFrag&b=2')).toBe('http://h/x?a=1#access_token=***&b=2');
    // Before any '/', a '?' may be part of the password: masked to the last '@'.
    expect(redactUrl('rtsp://u:pa?ss=Hunter2@h/x')).toBe('rtsp://u:***@h/x');
    expect(redactUrl('rtsp://cam?user=ops@site.com&password=Hunter2')).toBe('rtsp://***@site.com&password=***');
    const out = redactSecrets('cannot open rtsp://cam/live?user=ops@site.com&password=Hunter2: refused');
    expect(out).toBe('cannot open rtsp://cam/live?user=ops@site.com&password=***');
    const text = redactText('tried password Hunter2X on cam', 'rtsp://cam/live?user=ops@site.com&password=Hunter2X');
    expect(text).toBe('tried password *** on cam');
  });

  it('every name=value secret on a line is masked, not only the first', () => {
    expect(redactSecrets('token=a&password=Hunter2')).toBe('token=***&password=***');
    expect(redactSecrets('GET seg.ts?token=a&signature=S1gn4ture&n=3')).toBe('GET seg.ts?token=***&signature=***&n=3');
    expect(redactSecrets('open http://a/?token=x#y&password=z9z9')).toBe('open http://a/?token=***#y&password=***');
    expect(redactSecrets('pwd=One1; key=Two2; ch=1')).toBe('pwd=***; key=***; ch=1');
    // A spaced `name = value` and a YAML `name: value` still run to the line's end: a password may hold spaces.
    expect(redactSecrets('client_secret = Hunter2 Secret\npassword: a&b=c token=d')).toBe(
      'client_secret = ***\npassword: ***',
    );
  });

  it('a password holding a URL marker (://, udp:, srt:) is masked whole', () => {
    for (const [url, shown] of [
      ['rtsp://u:Hunter2://x@h/live', 'rtsp://u:***@h/live'],
      ['rtsp://u:Hunter2 udp:x@h/live', 'rtsp://u:***@h/live'],
      ['rtsp://u:Hun/srt:9@h/live', 'rtsp://u:***@h/live'],
      ['rtsp://u:a tcp:b ws:c@h/live', 'rtsp://u:***@h/live'],
    ] as const) {
      expect(redactUrl(url)).toBe(shown);
      expect(redactSecrets(`cannot open ${url}: refused`)).toBe(`cannot open ${shown}: refused`);
    }
    // Nor is a URL standing on its own after a space or quote, a scheme named in prose, or a file: URL (stack traces stay whole).
    expect(redactSecrets('serving http://127.0.0.1:8080: cannot open rtsp://cam:Zz99Qq77@h/x')).toBe(
      'serving http://127.0.0.1:8080: cannot open rtsp://cam:***@h/x',
    );
    expect(
      redactSecrets(
        "Expected an rtsp://, rtsps:// URL (rtsp:// with two slashes) but received 'rtsp://cam:Zz99Qq77@h/x'",
      ),
    ).toBe("Expected an rtsp://, rtsps:// URL (rtsp:// with two slashes) but received 'rtsp://cam:***@h/x'");
    expect(redactSecrets('at file:///app/x.js:1:2 open rtsp://cam:Zz99Qq77@h/x')).toBe(
      'at file:///app/x.js:1:2 open rtsp://cam:***@h/x',
    );
    expect(redactSecrets('open rtsp://10.0.0.5/x failed at file:///app/node_modules/@fastify/x.js:1:2')).toBe(
      'open rtsp://10.0.0.5/x failed at file:///app/node_modules/@fastify/x.js:1:2',
    );
  });

  it('a JSON log line with a percent-encoded secret name is redacted like free text', () => {
    const line = `${JSON.stringify({ level: 30, msg: 'open rtsp://h/x?p%61ssword=Hunter2' })}\n`;
    expect(redactJsonLine(line)).toBe(`${JSON.stringify({ level: 30, msg: 'open rtsp://h/x?p%61ssword=***' })}\n`);
  });
});
