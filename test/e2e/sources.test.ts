import { execFile } from 'node:child_process';
import { createReadStream, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError, validateConfig } from '../../src/config/loadConfig.js';
import type { Daemon } from '../../src/daemon/Daemon.js';
import { packageRoot } from '../../src/native/addon.js';
import { RecordedCamera } from '../helpers/cameraEvents.js';
import { cameraHealth, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { RtspServer } from '../helpers/rtspServer.js';
import { tempDir } from '../helpers/tempDir.js';

const run = promisify(execFile);

/** A real HTTP server on loopback that serves one MPEG-TS clip at any path and counts requests. */
let server: Server;
let tcp: NetServer;
let connections = 0;
let base = '';
let requests: string[] = [];
let clip = '';
let dir = '';
beforeAll(async () => {
  clip = await ensureClip('h264', { container: 'ts' });
  dir = tempDir('vigil-sources-');
  // Any TCP connection at all (an https:// segment would start with one) is counted here.
  tcp = createNetServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const tcpPort = (tcp.address() as AddressInfo).port;
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/remote.m3u8') {
      // A playlist the camera's server controls, naming a segment on a protocol not allowed.
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
      res.end(
        `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:80\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:79.5,\nhttps://127.0.0.1:${tcpPort}/segment0.ts\n#EXT-X-ENDLIST\n`,
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': statSync(clip).size });
    createReadStream(clip).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 300_000);
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => tcp.close(resolve));
});

let running: Daemon | null = null;
const cams: RecordedCamera[] = [];
afterEach(async () => {
  for (const c of cams.splice(0)) c.camera.close();
  await running?.close();
  running = null;
  requests = [];
  connections = 0;
});

function problems(cameras: Array<Record<string, unknown>>): string[] {
  try {
    validateConfig({ cameras });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** A local HLS playlist whose one segment is on the loopback HTTP server. */
function playlist(): string {
  const path = join(dir, 'remote.m3u8');
  writeFileSync(
    path,
    `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:80\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:79.5,\n${base}/segment0.ts\n#EXT-X-ENDLIST\n`,
  );
  return path;
}

describe('camera sources: rtsp, rtsps and existing files; other protocols only when the config names them', () => {
  it('refuses an http URL with a clear message (credentials redacted) and fetches nothing', async () => {
    expect(problems([{ id: 'web', url: `${base}/stream.ts` }])).toEqual([
      `Expected an rtsp://, rtsps:// URL or an existing file (http:// only where the camera's allowed_protocols lists http) for cameras[0].url but received '${base}/stream.ts'`,
    ]);
    const secret = problems([
      { id: 'web', url: `https://admin:Hunter2Secret@127.0.0.1:1/s.ts` },
      { id: 'u', url: 'udp://239.0.0.1:1234' },
    ]);
    expect(secret).toHaveLength(2);
    expect(secret.join('\n')).not.toContain('Hunter2Secret');
    expect(secret[0]).toMatch(
      /^Expected an rtsp:\/\/, rtsps:\/\/ URL or an existing file .*https:\/\/ .* for cameras\[0\]\.url but received 'https:\/\/admin:\*\*\*@127\.0\.0\.1:1\/s\.ts'$/,
    );
    expect(secret[1]).toMatch(/udp:\/\/ only where .* for cameras\[1\]\.url/);
    await expect(startDaemon([{ id: 'web', url: `${base}/stream.ts` }])).rejects.toThrow(/cameras\[0\]\.url/);
    expect(requests).toEqual([]);
  });

  it('says when a file is missing; accepts existing files (absolute, relative, file:) and rtsp/rtsps URLs', () => {
    const missing = join(dir, 'nope.mp4');
    expect(problems([{ id: 'f', url: missing }])).toEqual([
      `Expected an rtsp://, rtsps:// URL or an existing file (no such file) for cameras[0].url but received '${missing}'`,
    ]);
    expect(problems([{ id: 'f', url: 'clips/nope.mp4' }])[0]).toMatch(
      /\(no such file: \/.*\/clips\/nope\.mp4\) for cameras\[0\]\.url but received 'clips\/nope\.mp4'/,
    );
    expect(problems([{ id: 'd', url: dir }])[0]).toMatch(/a directory is not a video file/);
    expect(problems([{ id: 'x', url: 'rtsp:/10.0.0.1/one-slash' }])[0]).toMatch(/rtsp:\/\/ with two slashes/);
    expect(
      problems([
        { id: 'a', url: clip },
        { id: 'b', url: relative(process.cwd(), clip) },
        { id: 'c', url: `file:${clip}` },
        { id: 'd', url: 'rtsp://u:p@10.0.0.1/s' },
        { id: 'e', url: 'rtsps://10.0.0.1:322/s' },
      ]),
    ).toEqual([]);
    expect(problems([{ id: 'h', url: `${base}/s.ts`, allowed_protocols: ['gopher'] }])[0]).toMatch(
      /^Expected one of 'http', 'https', .* for cameras\[0\]\.allowed_protocols\[0\] but received 'gopher'$/,
    );
  });

  it('check-config says so too (exit 2)', async () => {
    const cfg = join(dir, 'web.yaml');
    writeFileSync(
      cfg,
      `cameras:\n  - id: web\n    url: http://viewer:Pw0rd@127.0.0.1:9/x.ts\n  - id: gone\n    url: ${join(dir, 'gone.mkv')}\n`,
    );
    const err = await run(process.execPath, [join(packageRoot(), 'dist/src/cli/main.js'), 'check-config', cfg]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(2);
    expect(err?.stderr).toContain(
      "http:// only where the camera's allowed_protocols lists http) for cameras[0].url but received 'http://viewer:***@127.0.0.1:9/x.ts'",
    );
    expect(err?.stderr).toContain(`(no such file) for cameras[1].url but received '${join(dir, 'gone.mkv')}'`);
    expect(err?.stderr).not.toContain('Pw0rd');
  });

  it('reads an http source when allowed_protocols names http', async () => {
    const { daemon, url } = await startDaemon([
      { id: 'web', url: `${base}/stream.ts`, allowed_protocols: ['http'], timeout_ms: 5000 },
    ]);
    running = daemon;
    await waitFor(
      async () => (await cameraHealth(url, 'web')).frames.decoded > 50,
      30_000,
      'frames from the http source',
    );
    expect(requests.length).toBeGreaterThan(0);
    expect(requests[0]).toBe('/stream.ts');
  });

  it('an allowed http playlist cannot reach a protocol the config did not name (protocol_whitelist)', async () => {
    const { daemon, url } = await startDaemon([
      {
        id: 'hls',
        url: `${base}/remote.m3u8`,
        allowed_protocols: ['http'],
        timeout_ms: 3000,
        backoff: { initial_ms: 200, max_ms: 500 },
      },
    ]);
    running = daemon;
    await waitFor(
      async () => (await cameraHealth(url, 'hls')).reconnects >= 2,
      30_000,
      'the playlist camera to fail twice',
    );
    expect(requests.filter((r) => r === '/remote.m3u8').length).toBeGreaterThanOrEqual(2); // the playlist was read
    expect((await cameraHealth(url, 'hls')).frames.decoded).toBe(0);
    expect(connections).toBe(0); // its https:// segment was not

    // The addon alone: a URL whose scheme was not named is refused before anything is opened.
    const web = new RecordedCamera({ url: `${base}/direct.ts`, realtime: false });
    cams.push(web);
    const ended = await web.untilEnded(web.camera.open());
    expect(ended).toMatchObject({
      reason: 'error',
      message: "the http protocol is not allowed for this source (name it in the camera's allowed_protocols)",
    });
    expect(requests).not.toContain('/direct.ts');
  });

  it('a local HLS playlist cannot make the daemon fetch its http segment, unless http is allowed', async () => {
    const m3u8 = playlist();
    expect(problems([{ id: 'hls', url: m3u8 }])).toEqual([]); // an existing file: valid
    const { daemon, url } = await startDaemon([
      { id: 'hls', url: m3u8, timeout_ms: 3000, backoff: { initial_ms: 200, max_ms: 500 } },
    ]);
    running = daemon;
    await waitFor(
      async () => (await cameraHealth(url, 'hls')).reconnects >= 2,
      30_000,
      'the playlist camera to fail twice',
    );
    const h = await cameraHealth(url, 'hls');
    expect(h.frames.decoded).toBe(0);
    expect(h.lastError?.message ?? '').toMatch(/cannot open input|stream info|whitelist|no video stream/);
    expect(requests).toEqual([]);

    // The same playlist through the addon: refused without http; with it, the segment is read
    // (so the count above would have seen a fetch).
    const denied = new RecordedCamera({ url: m3u8, realtime: false, timeoutMs: 3000 });
    cams.push(denied);
    expect((await denied.untilEnded(denied.camera.open())).reason).toBe('error');
    expect(denied.camera.stats().framesDecoded).toBe(0);
    expect(requests).toEqual([]);
    const allowed = new RecordedCamera({ url: m3u8, realtime: false, timeoutMs: 10000, protocols: ['http'] });
    cams.push(allowed);
    expect((await allowed.untilEnded(allowed.camera.open(), 60_000)).reason).toBe('eos');
    expect(allowed.camera.stats().framesDecoded).toBeGreaterThan(700);
    expect(requests).toContain('/segment0.ts');
  });

  it('a scheme in capitals (RTSP://, FILE:) is taken as the lower-case one libav knows, and streams', async () => {
    const rtsp = await RtspServer.start({ cam: { file: clip, codec: 'h264' } });
    try {
      const { daemon, url } = await startDaemon([
        { id: 'caps', url: rtsp.url('cam').replace('rtsp://', 'RTSP://'), timeout_ms: 5000 },
      ]);
      running = daemon;
      await waitFor(
        async () => (await cameraHealth(url, 'caps')).frames.decoded > 10,
        30_000,
        'frames from RTSP://',
      ).catch(async (err: Error) => {
        throw new Error(`${err.message}: last error ${JSON.stringify((await cameraHealth(url, 'caps')).lastError)}`);
      });
    } finally {
      await running?.close();
      running = null;
      await rtsp.stop();
    }
    const cfg = validateConfig({
      cameras: [
        { id: 'f', url: `FILE:${clip}` },
        { id: 'r', url: 'RtSp://u:p@10.0.0.1/Path/S' },
      ],
    });
    expect(cfg.cameras.map((c) => c.url)).toEqual([`file:${clip}`, 'rtsp://u:p@10.0.0.1/Path/S']);
  });

  it('the addon refuses an unknown protocol name', () => {
    expect(() => new RecordedCamera({ url: clip, protocols: ['gopher' as 'http'] })).toThrow(
      /Expected a list of protocol names .* for protocols but received/,
    );
  });
});
