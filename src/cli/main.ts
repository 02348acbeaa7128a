#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import { Command, InvalidArgumentError } from 'commander';

import { ConfigError, loadConfigFile, validateConfig } from '../config/loadConfig.js';
import type { VigilConfig } from '../config/schema.js';
import { Daemon } from '../daemon/Daemon.js';
import { loadAddon, packageRoot } from '../native/addon.js';
import { install, uninstall } from '../service/install.js';
import { ServiceNotifier } from '../service/ServiceNotifier.js';
import { createLogger, moduleLogger } from '../util/logger.js';
import { redactSecrets, redactText, redactUrl } from '../util/redact.js';
import { evaluate } from '../model/eval/Evaluator.js';
import { modelInputs } from '../model/eval/modelFrames.js';
import { fp32OnnxPath, int8OnnxPath } from '../model/importModel.js';
import { calibrateModel, calibrationFrames, QUANT_TARGETS } from '../model/quant/calibrateModel.js';
import type { ModelName } from '../model/ModelStore.js';
import type { ModelSpec } from '../detect/ModelSpec.js';
import { MediaFileError, readImageRgb } from '../model/imageFile.js';
import { detectorModel, detectSchema } from '../detect/detectConfig.js';
import { letterboxRgb } from '../detect/letterbox.js';
import { NANODET_MODEL } from '../detect/nanodet/nanodetSpec.js';
import { OrtDetector } from '../detect/OrtDetector.js';
import { GpuDetector } from '../detect/GpuDetector.js';
import { compareDetections, type DetectionAgreement } from '../detect/compareDetections.js';
import type { Detection } from '../detect/Detection.js';
import { defaultDataDir } from '../server/auth/authConfig.js';
import { ensureClip, VTEST_AVI } from './demoClips.js';
import { fail } from './fail.js';
import { registerModelCommands } from './modelCommands.js';

function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `Expected an integer between ${min} and ${max} for ${name} but received '${value}'.`,
      );
    }
    return n;
  };
}

/**
 * Runs the daemon until SIGINT/SIGTERM. Under a service manager: READY=1 once it serves,
 * STATUS= every status_seconds, WATCHDOG=1 while the pipeline makes progress, STOPPING=1 and a
 * bounded shutdown on SIGTERM. With a config file, SIGHUP reloads it: RELOADING=1, the cameras'
 * changes applied (a bad file changes nothing), READY=1.
 */
async function runDaemon(
  config: VigilConfig,
  banner: (url: string) => string,
  configFile: string | null = null,
): Promise<Daemon> {
  const logger = createLogger(config.log.level);
  const addon = loadAddon();
  const daemon = new Daemon(config, logger, addon);
  const service = new ServiceNotifier((state) => addon.sdNotify(state), moduleLogger(logger, 'Service'));
  let statusTimer: NodeJS.Timeout | null = null;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (statusTimer) clearInterval(statusTimer);
    service.stopping();
    logger.info({ signal }, 'shutting down');
    const boundMs = config.service.stop_timeout_seconds * 1000;
    const overdue = setTimeout(() => {
      logger.error({ boundMs }, 'shutdown did not finish within service.stop_timeout_seconds: exiting anyway');
      process.exit(1);
    }, boundMs);
    // A stop during start-up waits for the start to settle, then closes what it opened.
    starting
      .catch(() => {})
      .then(() => daemon.close())
      .then(
        () => {
          clearTimeout(overdue);
          logger.info('shutdown complete');
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  let url: string | null = null;
  let reloading = Promise.resolve();
  const reload = async () => {
    if (!url || stopping || !configFile) return;
    service.notify(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}\nSTATUS=reloading ${configFile}`);
    let summary: string;
    try {
      const r = daemon.reload(loadConfigFile(configFile));
      logger.info({ ...r }, 'configuration reloaded');
      summary =
        `reloaded: cameras +${r.added.length} -${r.removed.length} ~${r.changed.length}` +
        (r.failed.length
          ? `, ${r.failed.length} could not start (${r.failed.map((f) => `${f.camera}: ${f.reason}`).join('; ')})`
          : '') +
        (r.restartNeeded.length ? `; restart to apply ${r.restartNeeded.join(', ')}` : '');
    } catch (err) {
      summary = `reload failed, the previous configuration stays: ${(err as Error).message.replace(/\s+/g, ' ')}`;
      logger.error({ err: (err as Error).message }, 'configuration reload failed; nothing changed');
    }
    service.ready(`${url}: ${summary}; ${daemon.statusLine()}`);
  };
  if (configFile)
    process.on('SIGHUP', () => {
      reloading = reloading.then(reload); // one at a time, in order
    });
  service.status('starting: cameras, detector, database');
  const starting = daemon.start();
  url = await starting;
  process.stderr.write(banner(url));
  if (daemon.generatedAdminPassword) {
    process.stdout.write(
      `First run: log in as 'admin' with password ${daemon.generatedAdminPassword}\n(shown this once; it is stored hashed in ${daemon.usersFile})\n`,
    );
  }
  if (!stopping) {
    // Serving (HTTP listening, every camera started): the service manager may go on.
    service.ready(`${url}: ${daemon.statusLine()}`);
    service.startWatchdog(() => daemon.liveness());
    if (service.managed) {
      statusTimer = setInterval(() => {
        if (service.stuckReason === null) service.status(`${url}: ${daemon.statusLine()}`);
      }, config.service.status_seconds * 1000);
      statusTimer.unref();
    }
  }
  return daemon;
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
      await runDaemon(loadConfigFile(opts.config), (url) => `Vigil is running: ${url}/\n`, opts.config);
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
      // The demo keeps its own state and a fixed admin password (in .cache, mode 0600) so it
      // can print it on every start; a real install prints a generated one only once.
      const dataDir = join(packageRoot(), '.cache', 'demo-state');
      const pwFile = join(dataDir, 'admin-password');
      if (!existsSync(pwFile)) {
        mkdirSync(dataDir, { recursive: true, mode: 0o700 });
        writeFileSync(pwFile, randomBytes(12).toString('base64url'), { mode: 0o600 });
      }
      const password = readFileSync(pwFile, 'utf8').trim();
      const config = validateConfig(
        {
          server: { host: opts.host, port: opts.port },
          data_dir: dataDir,
          auth: { admin_password: password },
          cameras: [
            {
              id: 'vtest-h264',
              name: 'vtest (H.264)',
              url: h264,
              loop: true,
              realtime: true,
              // Events for the Events page: people on the lower half of the yard, and crossing its middle.
              zones: [
                {
                  id: 'lower-yard',
                  polygon: [
                    [0, 288],
                    [768, 288],
                    [768, 576],
                    [0, 576],
                  ],
                  classes: ['person'],
                  min_dwell_ms: 1000,
                },
              ],
              lines: [
                {
                  id: 'middle',
                  points: [
                    [384, 0],
                    [384, 576],
                  ],
                  classes: ['person'],
                },
              ],
            },
            { id: 'vtest-hevc', name: 'vtest (HEVC)', url: hevc, loop: true, realtime: true },
          ],
          media: { retention: { max_mb: 500 } },
        },
        'demo config',
      );
      await runDaemon(
        config,
        (url) =>
          `\nVigil demo is running. Open ${url}/ in a browser and log in as admin / ${password} (Ctrl-C stops it).\n\n`,
      );
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

registerModelCommands(program);

/** Calibration/evaluation frames from the CLI's --video/--images/--camera options. */
async function framesFrom(
  opts: {
    video?: string;
    images?: string;
    camera?: string;
    config?: string;
    from: number;
    every: number;
    frames: number;
  },
  spec: ModelSpec = NANODET_MODEL,
): Promise<Float32Array[]> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  if ([opts.video, opts.images, opts.camera].filter(Boolean).length > 1)
    throw new Error('Give one of --video, --images or --camera');
  if (opts.images) return modelInputs({ kind: 'images', dir: opts.images, count: opts.frames }, log, spec);
  if (opts.camera) {
    if (!opts.config) throw new Error('--camera needs --config FILE (the camera is looked up there)');
    const cam = loadConfigFile(opts.config).cameras.find((c) => c.id === opts.camera);
    if (!cam) throw new Error(`No camera '${opts.camera}' in ${opts.config}`);
    return modelInputs(
      {
        kind: 'camera',
        every: opts.every,
        count: opts.frames,
        camera: {
          url: cam.url,
          transport: cam.transport,
          timeoutMs: cam.timeout_ms,
          realtime: cam.realtime,
          loop: cam.loop,
        },
      },
      log,
      spec,
    );
  }
  return modelInputs(
    { kind: 'video', path: opts.video ?? VTEST_AVI, from: opts.from, every: opts.every, count: opts.frames },
    log,
    spec,
  );
}

program
  .command('calibrate')
  .description('INT8 calibration: activation ranges from real frames, per-channel weights, a QDQ ONNX and a report')
  .option('--model <id>', `which shipped model (${Object.keys(QUANT_TARGETS).join(', ')})`, 'nanodet')
  .option('--video <file>', "frames of a video (default: the model's shipped calibration frames)")
  .option('--images <dir>', 'a folder of images')
  .option('--camera <id>', 'frames of a configured camera (with --config), through the real pipeline')
  .option('--config <file>', 'the config that defines --camera')
  .option('--frames <n>', 'how many frames', intOption('--frames', 1, 10000), 98)
  .option('--from <n>', 'video: first frame index', intOption('--from', 0, 1e9), 0)
  .option('--every <n>', 'video/camera: take every n-th frame', intOption('--every', 1, 10000), 4)
  .option(
    '--method <mse|entropy|percentile>',
    'how activation ranges are chosen (mse: least squared error; bench:eval compares them)',
    'mse',
  )
  .option('--percentile <p>', 'for --method percentile', Number, 99.999)
  .option(
    '--keep-fp32 <auto|none|LIST>',
    'layers left in FP32: auto[:SHARE] (sensitivity pass; at most SHARE of the layers, default 0.1), none, or comma-separated node names',
    'auto',
  )
  .option(
    '--bias-correction',
    'take the mean output shift INT8 adds to each conv out of its bias (measured on the frames)',
  )
  .option('-o, --out <file>', 'the QDQ ONNX to write (default: the model cache)')
  .action(
    async (opts: {
      model: string;
      video?: string;
      images?: string;
      camera?: string;
      config?: string;
      frames: number;
      from: number;
      every: number;
      method: string;
      percentile: number;
      keepFp32: string;
      biasCorrection?: boolean;
      out?: string;
    }) => {
      try {
        if (opts.method !== 'mse' && opts.method !== 'entropy' && opts.method !== 'percentile') {
          throw new Error(`Expected 'mse', 'entropy' or 'percentile' for --method but received '${opts.method}'`);
        }
        if (!(opts.percentile > 50 && opts.percentile <= 100))
          throw new Error(`Expected a value in (50, 100] for --percentile but received '${opts.percentile}'`);
        const autoShare = /^auto(?::([\d.]+))?$/.exec(opts.keepFp32);
        const share = autoShare?.[1] !== undefined ? Number(autoShare[1]) : 0.1;
        if (!(share > 0 && share <= 1))
          throw new Error(`Expected auto:SHARE with SHARE in (0, 1] for --keep-fp32 but received '${opts.keepFp32}'`);
        const keep = autoShare
          ? 'auto'
          : opts.keepFp32 === 'none'
            ? 'none'
            : opts.keepFp32
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean);
        if (!Object.hasOwn(QUANT_TARGETS, opts.model))
          throw new Error(
            `Expected ${Object.keys(QUANT_TARGETS).join(' or ')} for --model but received '${opts.model}'`,
          );
        const name = opts.model as ModelName;
        const t0 = performance.now();
        const log = (m: string) => process.stderr.write(`${m}\n`);
        // Without a source the model's shipped frames (NanoDet: vtest, as --from/--every/--frames say).
        const frames =
          name !== 'nanodet' && !opts.video && !opts.images && !opts.camera
            ? await calibrationFrames(name, log)
            : await framesFrom(opts, QUANT_TARGETS[name].spec);
        const {
          path: out,
          reportPath,
          report,
        } = await calibrateModel(name, {
          frames,
          out: opts.out,
          log,
          options: {
            method: opts.method,
            percentile: opts.percentile,
            keepFp32: keep,
            keepFp32Max: share,
            biasCorrection: opts.biasCorrection === true,
          },
        });
        const worst = [...report.tensors].sort((a, b) => b.saturation - a.saturation)[0];
        process.stdout.write(
          `${out}: ${report.int8Layers}/${report.totalLayers} layers INT8 (${report.method}, ${report.frames} frames, ${((performance.now() - t0) / 1000).toFixed(0)} s)\n` +
            `  kept FP32: ${report.keptFp32.join(', ') || 'none'}\n` +
            `  ${report.tensors.length} activation ranges; most clipped: ${worst?.tensor} (${((worst?.saturation ?? 0) * 100).toFixed(3)} %)\n  report: ${reportPath}\n`,
        );
      } catch (err) {
        fail(err);
      }
    },
  );

program
  .command('eval')
  .description('INT8 against FP32 on held-out frames: mAP@0.5, mAP@0.5:0.95, per-class deltas, speed; writes a report')
  .option('--video <file>', 'frames of a video (default: vtest.avi)')
  .option('--images <dir>', 'a folder of images')
  .option('--frames <n>', 'how many frames', intOption('--frames', 1, 10000), 200)
  .option(
    '--from <n>',
    'video: first frame index (default: after the calibration frames)',
    intOption('--from', 0, 1e9),
    395,
  )
  .option('--every <n>', 'video: take every n-th frame', intOption('--every', 1, 10000), 2)
  .option('--int8 <files...>', 'INT8 models to evaluate (default: the calibrated one in the cache)')
  .option('--report <file>', 'where to write the report (JSON)', 'eval-report.json')
  .action(
    async (opts: {
      video?: string;
      images?: string;
      frames: number;
      from: number;
      every: number;
      int8?: string[];
      report: string;
    }) => {
      try {
        const int8 = opts.int8 ?? [
          int8OnnxPath() ?? fail(new Error('No INT8 model: run `vigil calibrate` first, or pass --int8 FILE')),
        ];
        const frames = await framesFrom({ ...opts });
        const r = await evaluate(fp32OnnxPath(), int8, frames, {}, (m) => process.stderr.write(`${m}\n`));
        writeFileSync(opts.report, `${JSON.stringify(r, null, 2)}\n`);
        process.stdout.write(
          `${r.frames} frames; FP32 ${r.reference.detectionsPerFrame} detections/frame, ${r.reference.latencyMs.p50} ms p50\n`,
        );
        for (const m of r.models) {
          process.stdout.write(
            `${m.model}: mAP@0.5 ${m.map50.toFixed(4)}  mAP@0.5:0.95 ${m.map50_95.toFixed(4)}  ${m.detectionsPerFrame} detections/frame  ${m.latencyMs.p50} ms p50\n`,
          );
        }
        process.stdout.write(`report: ${opts.report}\n`);
      } catch (err) {
        fail(err);
      }
    },
  );

/** Parses one of a fixed set of words, naming them in the error. */
function choiceOption<T extends string>(name: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(
        `Expected ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)} for ${name} but received '${value}'.`,
      );
    }
    return value as T;
  };
}

function numberOption(name: string, what: string, ok: (n: number) => boolean) {
  return (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n) || !ok(n))
      throw new InvalidArgumentError(`Expected ${what} for ${name} but received '${value}'.`);
    return n;
  };
}

// Usage mistakes exit 2 (as check-config's bad config does); a file that cannot be read exits 1.
const USAGE_ERRORS = new Set([
  'commander.invalidArgument',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.unknownOption',
  'commander.excessArguments',
  'commander.missingMandatoryOptionValue',
]);

/** `vigil detect`'s failures: always one line on stderr (a multi-line reason is joined). */
function detectFail(err: unknown, exitCode = 1): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(
    `vigil detect: ${redactSecrets(message)
      .replace(/\s*\n\s*/g, ' ')
      .trim()}\n`,
  );
  process.exit(exitCode);
}

const secondsText = (s: number) => `${Number(s.toFixed(3))} s`;

program
  .command('detect')
  .description(
    'detect objects in an image (or a video frame) with the CPU detector and the model the daemon would use, and print them',
  )
  .argument('<image>', 'an image file (jpg, png, ...) or a video file')
  .option(
    '--at <seconds>',
    'for a video: the frame at this time',
    numberOption('--at', 'a time in seconds (0 or more)', (n) => n >= 0),
  )
  .option(
    '--threshold <score>',
    'minimum score',
    numberOption('--threshold', 'a score between 0.01 and 1', (n) => n >= 0.01 && n <= 1),
    detectSchema.parse({}).score_threshold,
  )
  .option(
    '--precision <auto|int8|fp32>',
    'auto: as the daemon (the calibrated INT8 model where `vigil calibrate` made one, else FP32)',
    choiceOption('--precision', ['auto', 'int8', 'fp32'] as const),
    'auto' as const,
  )
  .option('--json', 'print one JSON document: file, size, time, precision, model, detections (boxes in source pixels)')
  .option(
    '--config <file>',
    "the daemon's config: its detect section (model, precision, thresholds) applies; --precision and --threshold override it",
  )
  .exitOverride((err) => process.exit(err.exitCode === 1 && USAGE_ERRORS.has(err.code) ? 2 : err.exitCode))
  .action(
    async (
      image: string,
      opts: { at?: number; threshold: number; precision: 'auto' | 'int8' | 'fp32'; json?: boolean; config?: string },
      cmd: Command,
    ) => {
      let cfg;
      try {
        cfg = opts.config ? loadConfigFile(opts.config).detect : detectSchema.parse({});
      } catch (err) {
        if (err instanceof ConfigError) detectFail(err.message, 2);
        detectFail(err);
      }
      // Options given on the command line win over the config; their defaults do not.
      const precision = cmd.getOptionValueSource('precision') === 'cli' ? opts.precision : cfg.precision;
      const threshold = cmd.getOptionValueSource('threshold') === 'cli' ? opts.threshold : cfg.score_threshold;
      try {
        let img;
        try {
          img = await readImageRgb(image, opts.at);
        } catch (err) {
          if (err instanceof MediaFileError && err.problem === 'past-end' && opts.at !== undefined) {
            const duration =
              err.durationSeconds === null ? 'duration unknown' : `duration ${secondsText(err.durationSeconds)}`;
            detectFail(new Error(`--at ${opts.at} is past the end of ${image} (${duration})`));
          }
          throw err;
        }
        if (img.still && opts.at !== undefined && opts.at > 0)
          detectFail(new Error(`--at is for a video; ${image} is a still image`), 2);
        // The daemon's own rule on its config (the defaults without --config), so both run the same model.
        const model = detectorModel({ precision, model: cfg.model }, { int8: int8OnnxPath(), fp32: fp32OnnxPath });
        const { tensor, box } = letterboxRgb(
          img.rgb,
          img.width,
          img.height,
          NANODET_MODEL.input.size,
          NANODET_MODEL.input.normalize,
        );
        const detector = await OrtDetector.load(model, {
          scoreThreshold: threshold,
          iouThreshold: cfg.iou_threshold,
          maxDetections: cfg.max_detections,
        });
        const t0 = performance.now();
        const dets = await detector.detect(tensor, box);
        const ms = performance.now() - t0;
        await detector.release();
        const at = img.still ? null : (opts.at ?? 0);
        if (opts.json) {
          const round = (v: number, digits: number) => Number(v.toFixed(digits));
          process.stdout.write(
            `${JSON.stringify(
              {
                file: image,
                width: img.width,
                height: img.height,
                at,
                precision: detector.precision,
                model,
                ms: round(ms, 1),
                detections: dets.map((d) => ({
                  label: d.label,
                  classId: d.classId,
                  score: round(d.score, 4),
                  box: [d.x1, d.y1, d.x2, d.y2].map((v) => round(v, 1)),
                })),
              },
              null,
              2,
            )}\n`,
          );
          return;
        }
        process.stdout.write(
          `${image}: ${img.width}x${img.height}${at === null ? '' : ` at ${secondsText(at)}`}, ${detector.precision} (${basename(model)}), ${dets.length} detection(s) in ${ms.toFixed(0)} ms\n`,
        );
        for (const d of dets) {
          process.stdout.write(
            `  ${d.label.padEnd(14)} ${d.score.toFixed(2)}  [${[d.x1, d.y1, d.x2, d.y2].map((v) => Math.round(v)).join(', ')}]\n`,
          );
        }
      } catch (err) {
        detectFail(err);
      }
    },
  );

program
  .command('doctor')
  .description(
    'what this box can run: GPU, decoders, and every inference backend with its status (and why not); each backend that runs is compared with the CPU reference on the same frames',
  )
  .option('--json', 'print JSON')
  .option('--engine-cache <dir>', 'where TensorRT engines are cached (default: <data dir>/engines)')
  .action(async (opts: { json?: boolean; engineCache?: string }) => {
    try {
      const b = loadAddon().buildInfo();
      // The same real frames through every backend that runs; the CPU one is the reference.
      const frames = await Promise.all(
        [2, 20, 40, 60].map(async (at) => {
          // seconds (vtest: 79 s at 10 fps)
          const img = await readImageRgb(VTEST_AVI, at);
          return letterboxRgb(img.rgb, img.width, img.height, NANODET_MODEL.input.size, NANODET_MODEL.input.normalize);
        }),
      );
      const per = frames[0]!.tensor.length;
      const batch = new Float32Array(frames.length * per);
      frames.forEach((f, i) => batch.set(f.tensor, i * per));
      const boxes = frames.map((f) => f.box);
      let model: string | null = null;
      let reference: Detection[][] | null = null;
      let cpu: {
        status: 'ready' | 'unavailable';
        precision: string | null;
        model: string | null;
        detections: number | null;
        ms: number | null;
        reason: string | null;
      };
      try {
        model = int8OnnxPath() ?? fp32OnnxPath();
        const det = await OrtDetector.load(model, {});
        const t0 = performance.now();
        reference = [];
        // In batches the model takes (one imported before run-time batches takes 1).
        for (let i = 0; i < frames.length; i += det.maxBatch) {
          const n = Math.min(det.maxBatch, frames.length - i);
          reference.push(...(await det.detectBatch(batch.subarray(i * per, (i + n) * per), boxes.slice(i, i + n))));
        }
        cpu = {
          status: 'ready',
          precision: det.precision,
          model,
          detections: reference.reduce((n, r) => n + r.length, 0),
          ms: Math.round((performance.now() - t0) / frames.length),
          reason: null,
        };
        await det.release();
      } catch (err) {
        cpu = {
          status: 'unavailable',
          precision: null,
          model: null,
          detections: null,
          ms: null,
          reason: (err as Error).message,
        };
      }
      // TensorRT: where its libraries load, build (or load) the engine and compare.
      let trtRun: {
        status: 'ready' | 'failed';
        cacheKey?: string;
        builtNow?: boolean;
        ms?: number;
        comparedWithCpu: DetectionAgreement | null;
        reason: string | null;
      } | null = null;
      if (b.tensorrt.available && model && reference) {
        try {
          const trt = await GpuDetector.loadTensorRt(model, {
            cacheDir: opts.engineCache ?? join(defaultDataDir(), 'engines'),
            maxBatch: frames.length,
            onLog: (l) => process.stderr.write(`tensorrt: ${l}\n`),
          });
          const t0 = performance.now();
          const found = await trt.detectBatch(batch, boxes);
          trtRun = {
            status: 'ready',
            cacheKey: trt.cacheKey,
            builtNow: trt.builtNow,
            ms: Math.round((performance.now() - t0) / frames.length),
            comparedWithCpu: compareDetections(reference, found),
            reason: null,
          };
        } catch (err) {
          trtRun = { status: 'failed', comparedWithCpu: null, reason: (err as Error).message };
        }
      }
      // Vigil's own INT8 engine: wherever there is a GPU and the INT8 model.
      let cudaRun: {
        status: string;
        kernels?: string;
        ms?: number;
        comparedWithCpu: DetectionAgreement | null;
        reason: string | null;
      };
      const int8Model = int8OnnxPath();
      if (!b.cuda.built)
        cudaRun = { status: 'not built', comparedWithCpu: null, reason: 'this addon was built without CUDA' };
      else if (!b.cuda.devices)
        cudaRun = { status: 'unavailable', comparedWithCpu: null, reason: b.cuda.reason ?? 'no CUDA device' };
      else if (!int8Model)
        cudaRun = { status: 'unavailable', comparedWithCpu: null, reason: 'no INT8 model: run `vigil calibrate`' };
      else {
        try {
          const det = await GpuDetector.loadCuda(int8Model, { maxBatch: frames.length });
          const t0 = performance.now();
          const found = await det.detectBatch(batch, boxes);
          cudaRun = {
            status: 'ready',
            kernels: det.cacheKey,
            ms: Math.round((performance.now() - t0) / frames.length),
            comparedWithCpu: reference ? compareDetections(reference, found) : null,
            reason: null,
          };
        } catch (err) {
          cudaRun = { status: 'failed', comparedWithCpu: null, reason: (err as Error).message };
        }
      }
      const report = {
        gpu: {
          devices: b.cuda.devices,
          reason: b.cuda.devices ? null : b.cuda.reason,
          cudaBuilt: b.cuda.built,
          archs: b.cuda.archs,
        },
        decoders: {
          software: { h264: b.decoders.h264, hevc: b.decoders.hevc },
          nvdec: { ffmpeg: b.decoders.nvdecCodecs, usable: b.decoders.nvdec && b.cuda.devices > 0 },
        },
        frames: frames.length,
        backends: {
          cpu,
          tensorrt: {
            status:
              trtRun?.status ??
              (!b.tensorrt.compiled ? 'not built' : b.tensorrt.available ? 'libraries found' : 'unavailable'),
            headers: b.tensorrt.headers,
            library: b.tensorrt.library,
            reason: trtRun?.reason ?? b.tensorrt.reason,
            cacheKey: trtRun?.cacheKey ?? null,
            ms: trtRun?.ms ?? null,
            // Its detections against the CPU's on the same frames: only where it ran.
            comparedWithCpu: trtRun?.comparedWithCpu ?? null,
          },
          cuda: cudaRun,
        },
      };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const line = (k: string, v: string) => process.stdout.write(`${k.padEnd(10)} ${v}\n`);
      const t = report.backends.tensorrt;
      line(
        'gpu',
        b.cuda.devices ? `${b.cuda.devices} device(s), CUDA code for sm ${b.cuda.archs}` : `none (${b.cuda.reason})`,
      );
      line(
        'decode',
        `software h264/hevc; NVDEC ${report.decoders.nvdec.usable ? 'usable' : b.decoders.nvdec ? 'in FFmpeg, no GPU here' : 'not in this FFmpeg'}`,
      );
      line(
        'cpu',
        cpu.status === 'ready'
          ? `ready: ONNX Runtime, ${cpu.precision}, ${cpu.detections} detections on ${frames.length} vtest frames, ${cpu.ms} ms a frame`
          : `unavailable: ${cpu.reason}`,
      );
      const c = t.comparedWithCpu;
      line(
        'tensorrt',
        c
          ? `ready: ${c.matched}/${c.reference} CPU detections matched (mean IoU ${c.meanIou}, max score diff ${c.maxScoreDiff}), ${c.candidate} found, ${t.ms} ms a frame; engine ${t.cacheKey}`
          : `${t.status}${b.tensorrt.headers ? ` (built against TensorRT ${b.tensorrt.headers} headers)` : ''}${t.reason ? `: ${t.reason}` : ''}`,
      );
      const cc = cudaRun.comparedWithCpu;
      line(
        'cuda',
        cudaRun.status === 'ready'
          ? `ready: Vigil's INT8 engine (${cudaRun.kernels})${cc ? `, ${cc.matched}/${cc.reference} CPU detections matched (mean IoU ${cc.meanIou}, max score diff ${cc.maxScoreDiff}), ${cc.candidate} found` : ''}, ${cudaRun.ms} ms a frame (first batch)`
          : `${cudaRun.status}: ${cudaRun.reason}`,
      );
    } catch (err) {
      fail(err);
    }
  });

/** The tree to (un)install into; the running system ('/') needs root. */
function systemRoot(root: string, doing: string): string {
  if (root === '/' && process.getuid?.() !== 0)
    throw new Error(`${doing} the running system needs root (sudo), or give --root <dir>`);
  return resolve(root);
}
const say = (line: string) => process.stdout.write(`${line}\n`);

program
  .command('install')
  .description(
    'install Vigil as a systemd service: the app under --prefix, the unit, the vigil user, an example /etc/vigil/vigil.yaml; upgrades keep config and data',
  )
  .option('--root <dir>', 'install into this tree instead of the running system', '/')
  .option('--prefix <dir>', 'where the application goes', '/opt/vigil')
  .option('--node <path>', 'the Node binary the service runs', process.execPath)
  .option('--no-start', 'do not enable or (re)start the service')
  .action((opts: { root: string; prefix: string; node: string; start: boolean }) => {
    try {
      install(
        { root: systemRoot(opts.root, 'installing into'), prefix: opts.prefix, node: opts.node, start: opts.start },
        say,
      );
    } catch (err) {
      fail(err);
    }
  });

program
  .command('uninstall')
  .description('remove the service and the application; /etc/vigil and /var/lib/vigil stay unless --purge')
  .option('--root <dir>', 'the tree it was installed into', '/')
  .option('--prefix <dir>', 'where the application is', '/opt/vigil')
  .option('--purge', 'also delete the configuration and all state (database, users, snapshots, clips)', false)
  .action((opts: { root: string; prefix: string; purge: boolean }) => {
    try {
      uninstall({ root: systemRoot(opts.root, 'uninstalling from'), prefix: opts.prefix, purge: opts.purge }, say);
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
      process.stdout.write(
        `${file}: OK (${cfg.cameras.length} camera(s), ${enabled} enabled; HTTP on ${cfg.server.host}:${cfg.server.port})\n`,
      );
    } catch (err) {
      fail(err);
    }
  });

await program.parseAsync(process.argv);
