import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfigFile, validateConfig } from '../../src/config/loadConfig.js';
import { redactText, redactUrl } from '../../src/util/redact.js';
import { tempDir } from '../helpers/tempDir.js';

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('config was accepted');
}

describe('config', () => {
  it('applies defaults to a minimal camera', () => {
    const cfg = validateConfig({ cameras: [{ id: 'door', url: 'rtsp://10.0.0.2/s1' }] });
    expect(cfg.server).toEqual({
      host: '127.0.0.1',
      port: 8080,
      live_queue_kb: 1024,
      live_ping_seconds: 10,
      trusted_proxies: [],
    });
    expect(cfg.auth).toEqual({
      session_hours: 12,
      allowed_origins: [],
      login_per_minute: 10,
      login_per_user_per_hour: 60,
      known_address_days: 30,
    });
    expect(cfg.cameras[0]).toMatchObject({
      live: true,
      id: 'door',
      enabled: true,
      transport: 'tcp',
      timeout_ms: 5000,
      stall_seconds: 5,
      decoder: 'auto',
      backoff: { initial_ms: 500, max_ms: 30000, multiplier: 2, jitter: 0.5 },
    });
  });

  it('takes trusted proxies as addresses, CIDR ranges or named ranges, and names a bad one', () => {
    const cam = [{ id: 'door', url: 'rtsp://10.0.0.2/s1' }];
    const ok = ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'loopback', 'uniquelocal'];
    expect(validateConfig({ server: { trusted_proxies: ok }, cameras: cam }).server.trusted_proxies).toEqual(ok);
    for (const bad of ['10.0.0.0/33', 'proxy.example', '10.0.0.1/8/1', '::1/129', '10.0.0/8', '']) {
      expect(problems({ server: { trusted_proxies: [bad] }, cameras: cam }), bad).toEqual([
        `Expected an IP address, a CIDR range (10.0.0.0/8, fd00::/8) or loopback, linklocal, uniquelocal for server.trusted_proxies[0] but received '${bad}'`,
      ]);
    }
    expect(problems({ server: { trusted_proxies: '10.0.0.1' }, cameras: cam })).toEqual([
      expect.stringMatching(/^Expected an? array for server\.trusted_proxies but received/),
    ]);
    expect(problems({ auth: { login_per_user_per_hour: 0 }, cameras: cam })).toEqual([
      expect.stringMatching(/^Expected a value of at least 1 for auth\.login_per_user_per_hour but received/),
    ]);
  });

  it('names the field and the bad value', () => {
    expect(problems({ cameras: [{ id: 'a', url: 'rtsp://h/x', transport: 'ftp' }] })).toEqual([
      "Expected one of 'tcp', 'udp' for cameras[0].transport but received 'ftp'",
    ]);
    expect(problems({ server: { port: 'eighty' } })).toEqual([
      "Expected a number for server.port but received 'eighty'",
    ]);
    expect(problems({ auth: { admin_password: 'short' } })).toEqual([
      'Expected a value of at least 8 characters for auth.admin_password but received a string (not shown: a secret)',
    ]);
    expect(problems({ auth: { allowed_origins: ['not a url'] } })).toEqual([
      "Expected a value in url format for auth.allowed_origins[0] but received 'not a url'",
    ]);
    expect(problems({ server: { port: 70000 } })).toEqual([
      'Expected a value of at most 65535 for server.port but received number 70000',
    ]);
    expect(problems({ cameras: [{ id: 'a', url: 'rtsp://h/x', stall_seconds: 0 }] })).toEqual([
      'Expected a value of at least 0.5 for cameras[0].stall_seconds but received number 0',
    ]);
    expect(problems({ cameras: [{ id: 'a' }] })).toEqual(['Expected a string for cameras[0].url but received nothing']);
    expect(problems({ cameras: [{ id: 'bad id!', url: 'rtsp://h/x' }] })[0]).toMatch(
      /^Expected an id of letters, digits.* for cameras\[0\]\.id but received 'bad id!'$/,
    );
  });

  it('reports every problem at once, unknown keys and duplicates included', () => {
    const p = problems({
      cameras: [
        { id: 'a', url: 'rtsp://h/x', stall_secs: 3 },
        { id: 'a', url: 'rtsp://h/y', backoff: { initial_ms: 5000, max_ms: 1000 } },
      ],
    });
    expect(p).toContain("Unknown key 'stall_secs' in cameras[0]");
    expect(p).toContain("Expected a camera id not already used by cameras[0] for cameras[1].id but received 'a'");
    expect(p.some((s) => s.includes('cameras[1].backoff.initial_ms') && s.includes('must not exceed max_ms'))).toBe(
      true,
    );
  });

  it('reads YAML files and reports syntax errors and unreadable files', () => {
    const dir = tempDir('vigil-cfg-');
    const good = join(dir, 'good.yaml');
    writeFileSync(
      good,
      'server:\n  port: 9000\ncameras:\n  - id: yard\n    url: rtsp://u:p@10.1.1.1/live\n    transport: udp\n',
    );
    expect(loadConfigFile(good).cameras[0]).toMatchObject({ id: 'yard', transport: 'udp' });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'cameras:\n  - id: yard\n   url: x\n');
    expect(() => loadConfigFile(bad)).toThrow(/YAML syntax/);
    expect(() => loadConfigFile(join(dir, 'missing.yaml'))).toThrow(/Cannot read the file/);
  });

  it('keeps credentials out of what it shows', () => {
    expect(redactUrl('rtsp://admin:s3cret@10.0.0.9:554/h264')).toBe('rtsp://admin:***@10.0.0.9:554/h264');
    expect(redactUrl('rtsp://10.0.0.9/h264')).toBe('rtsp://10.0.0.9/h264');
    expect(redactText('cannot open rtsp://admin:s3cret@10.0.0.9/x', 'rtsp://admin:s3cret@10.0.0.9/x')).toBe(
      'cannot open rtsp://admin:***@10.0.0.9/x',
    );
  });
});
