#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';

import { ConfigError, loadConfigFile, validateConfig } from '../config/loadConfig.js';
import type { VigilConfig } from '../config/schema.js';
import { Daemon } from '../daemon/Daemon.js';
import { loadAddon } from '../native/addon.js';
import { createLogger } from '../util/logger.js';
import { redactText, redactUrl } from '../util/redact.js';
import { ensureClip } from './demoClips.js';

function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected an integer between ${min} and ${max} for ${name} but received '${value}'.`);
    }
    return n;
  };
}

/** Runs the daemon until SIGINT/SIGTERM. */
async function runDaemon(config: VigilConfig, banner: (url: string) => string): Promise<void> {
  const logger = createLogger(config.log.level);
  const daemon = new Daemon(config, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const url = await daemon.start();
  process.stderr.write(banner(url));
}

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`vigil: ${(err as Error).message ?? String(err)}\n`);
  process.exit(1);
}

const program = new Command()
  .name('vigil')
  .description('Vigil edge video analytics: cameras in, decoded frames and detections out')
  .showHelpAfterError();

program
  .command('run')
  .description('run the daemon with a config file')
  .requiredOption('-c, --config <file>', 'YAML config file')
  .action(async (opts: { config: string }) => {
    try {
      await runDaemon(loadConfigFile(opts.config), (url) => `Vigil is running: ${url}/\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('demo')
  .description('run the daemon on real footage (vtest.avi as H.264 and HEVC cameras, looped in real time)')
  .option('-p, --port <port>', 'HTTP port', intOption('--port', 0, 65535), 8080)
  .option('--host <host>', 'HTTP address to bind', '127.0.0.1')
  .action(async (opts: { port: number; host: string }) => {
    try {
      const [h264, hevc] = [await ensureClip('h264'), await ensureClip('hevc')];
      const config = validateConfig(
        {
          server: { host: opts.host, port: opts.port },
          cameras: [
            { id: 'vtest-h264', name: 'vtest (H.264)', url: h264, loop: true, realtime: true },
            { id: 'vtest-hevc', name: 'vtest (HEVC)', url: hevc, loop: true, realtime: true },
          ],
        },
        'demo config',
      );
      await runDaemon(config, (url) => `\nVigil demo is running. Open ${url}/ in a browser (Ctrl-C stops it).\n\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('probe')
  .description('open a camera or file, decode its first frame, report codec, size, fps and time to first frame')
  .argument('<url>', 'rtsp:// URL or file path')
  .option('-t, --transport <tcp|udp>', 'RTSP transport', 'tcp')
  .option('--timeout <ms>', 'give up after this long without data', intOption('--timeout', 100, 600000), 5000)
  .option('--json', 'print the result as JSON')
  .action(async (url: string, opts: { transport: string; timeout: number; json?: boolean }) => {
    if (opts.transport !== 'tcp' && opts.transport !== 'udp') {
      fail(new Error(`Expected 'tcp' or 'udp' for --transport but received '${opts.transport}'.`));
    }
    try {
      const r = await loadAddon().probe({ url, transport: opts.transport as 'tcp' | 'udp', timeoutMs: opts.timeout });
      const shown = { ...r, url: redactUrl(url), error: r.error && redactText(r.error, url) };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
      } else if (r.ok) {
        process.stdout.write(
          [
            `url                  ${shown.url}`,
            `format               ${r.format}`,
            `codec                ${r.codec}${r.profile ? ` (${r.profile})` : ''}`,
            `size                 ${r.width}x${r.height}`,
            `fps                  ${r.fps ? r.fps.toFixed(2) : 'unknown'}`,
            `decoder              ${r.decoder}`,
            `open                 ${r.openMs.toFixed(1)} ms`,
            `time to first frame  ${r.firstFrameMs?.toFixed(1)} ms`,
          ].join('\n') + '\n',
        );
      } else {
        process.stderr.write(`probe failed (${r.status}): ${shown.error}\n`);
      }
      process.exit(r.ok ? 0 : 1);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('check-config')
  .description('validate a config file and say what is wrong with it')
  .argument('<file>', 'YAML config file')
  .action((file: string) => {
    try {
      const cfg = loadConfigFile(file);
      const enabled = cfg.cameras.filter((c) => c.enabled).length;
      process.stdout.write(`${file}: OK (${cfg.cameras.length} camera(s), ${enabled} enabled; HTTP on ${cfg.server.host}:${cfg.server.port})\n`);
    } catch (err) {
      fail(err);
    }
  });

await program.parseAsync(process.argv);
