import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

import { z } from 'zod';

import { BUDGET_DEFAULTS, budgetSchema } from '../budget/budgetConfig.js';
import { lineSchema, zoneSchema } from '../events/eventsConfig.js';
import { redactUrl } from '../util/redact.js';

/** Reconnect policy: exponential backoff with jitter and a cap. */
export const backoffSchema = z
  .strictObject({
    initial_ms: z.int().min(10).max(600_000).default(500),
    max_ms: z.int().min(10).max(3_600_000).default(30_000),
    multiplier: z.number().min(1).max(10).default(2),
    /** Fraction of each delay that is randomised (0 = none, 1 = anywhere in [0, delay]). */
    jitter: z.number().min(0).max(1).default(0.5),
  })
  .refine((b) => b.initial_ms <= b.max_ms, {
    message: 'initial_ms must not exceed max_ms',
    path: ['initial_ms'],
  });

/**
 * Protocols a camera may name beyond rtsp/rtsps and local files. Each is also what libavformat
 * may open for that camera (its protocol_whitelist, set natively), so a playlist, a redirect or
 * a concat file cannot reach a protocol the config did not name.
 */
export const EXTRA_PROTOCOLS = ['http', 'https', 'udp', 'rtp', 'tcp', 'tls', 'srt', 'rtmp', 'rtmps'] as const;
export type ExtraProtocol = (typeof EXTRA_PROTOCOLS)[number];

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const URL_EXPECTED = 'an rtsp://, rtsps:// URL or an existing file';

/**
 * The URL with a known scheme in lower case: schemes are case-insensitive (RFC 3986), but
 * libavformat matches protocol names as written, so `RTSP://` would validate and then fail
 * with "Protocol not found". Anything else is left as written (and refused as it is).
 */
export function normalizeScheme(url: string): string {
  const scheme = SCHEME.exec(url)?.[1];
  if (scheme === undefined) return url;
  const lower = scheme.toLowerCase();
  const known =
    lower === 'rtsp' || lower === 'rtsps' || lower === 'file' || (EXTRA_PROTOCOLS as readonly string[]).includes(lower);
  return known ? lower + url.slice(scheme.length) : url;
}

/** The local path of a file source (`file:` prefix stripped, as libavformat's file protocol does). */
export function filePathOf(url: string): string | null {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return url;
  if (scheme !== 'file') return null;
  const rest = url.slice('file:'.length);
  return rest.startsWith('///') ? rest.slice(2) : rest;
}

/**
 * Why `url` cannot be a camera's source (null when it can): rtsp:// and rtsps:// URLs, existing
 * local files (relative ones against the daemon's working directory), and other schemes only
 * when `allowed` names them. Checked when the config is read, so check-config says it too.
 */
export function urlProblem(url: string, allowed: readonly string[]): string | null {
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  if (/[\s\x00-\x1f]/.test(url) && SCHEME.test(url))
    return `${URL_EXPECTED} (a URL without spaces or control characters: percent-encode them)`;
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'rtsp' || scheme === 'rtsps')
    return url.toLowerCase().startsWith(`${scheme}://`) ? null : `${URL_EXPECTED} (${scheme}:// with two slashes)`;
  const path = filePathOf(url);
  if (path !== null) {
    const abs = resolve(path);
    if (path === '' || !existsSync(abs)) return `${URL_EXPECTED} (no such file${abs === path ? '' : `: ${abs}`})`;
    if (statSync(abs).isDirectory()) return `${URL_EXPECTED} (a directory is not a video file)`;
    return null;
  }
  if (scheme !== undefined && allowed.includes(scheme)) return null;
  return `${URL_EXPECTED} (${scheme}:// only where the camera's allowed_protocols lists ${scheme})`;
}

/** One camera as written in the config file. The camera module owns these defaults. */
export const cameraSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, {
      message: 'an id of letters, digits, - and _ (at most 64, starting with a letter or digit)',
    }),
    name: z.string().min(1).max(200).optional(),
    /** rtsp://, rtsps://, an existing file, or a scheme allowed_protocols names (checked below). */
    url: z.string().min(1).transform(normalizeScheme),
    /**
     * Protocols beyond rtsp/rtsps/file this camera may use: its URL's scheme (http, srt...) and
     * what its stream may reach (an HLS playlist's http segments). Nothing else is ever opened.
     */
    allowed_protocols: z.array(z.enum(EXTRA_PROTOCOLS)).max(EXTRA_PROTOCOLS.length).default([]),
    enabled: z.boolean().default(true),
    transport: z.enum(['tcp', 'udp']).default('tcp'),
    /** No data for this long while opening or reading ends the session (then backoff). */
    timeout_ms: z.int().min(100).max(600_000).default(5000),
    /** No decoded frame for this long while streaming = stalled (then backoff, reconnect). */
    stall_seconds: z.number().min(0.5).max(3600).default(5),
    /** File sources: play at the stream's pace like a live camera. */
    realtime: z.boolean().default(true),
    /** File sources: start again at the end. */
    loop: z.boolean().default(false),
    /** auto: NVDEC when the GPU and FFmpeg allow (else software, saying why); nvdec: required; software. */
    decoder: z.enum(['auto', 'software', 'nvdec']).default('auto'),
    /** Run the detector on this camera (when the detector is enabled). */
    detect: z.boolean().default(true),
    /** The model this camera detects with: an id from `models:` or a shipped one (nanodet, centernet); default detect.model. */
    model: z.string().min(1).optional(),
    /** Send video to the live view (H.264 passes through, remuxed to fMP4; no re-encoding). */
    live: z.boolean().default(true),
    decode_threads: z.int().min(0).max(64).default(0),
    /**
     * low_latency: every packet's frame is out before the next packet comes (slice threads);
     * throughput: frame threads, more frames per second per core, threads−1 frames later.
     */
    decode_mode: z.enum(['low_latency', 'throughput']).default('low_latency'),
    backoff: backoffSchema.default({ initial_ms: 500, max_ms: 30_000, multiplier: 2, jitter: 0.5 }),
    /** Latency budget: first packet received → detections out (ms). Unset = none. */
    budget_ms: z.int().min(1).max(600_000).optional(),
    /** Run the detector at most this many times a second on this camera. Unset = as often as it can. */
    target_fps: z.number().min(0.1).max(1000).optional(),
    /** What happens when budget_ms is breached, and the hysteresis (src/budget/budgetConfig.ts). */
    budget: budgetSchema.default(BUDGET_DEFAULTS),
    /** Zones (polygons in source pixels): a tracked object inside one is an event (src/events/). */
    zones: z.array(zoneSchema).max(64).default([]),
    /** Tripwires (segments in source pixels): a tracked object crossing one is an event. */
    lines: z.array(lineSchema).max(64).default([]),
    /** Test only: makes this camera's inference stage slower by infer_delay_ms (latency tests). */
    testing: z.strictObject({ infer_delay_ms: z.int().min(0).max(60_000).default(0) }).optional(),
  })
  .superRefine((cam, ctx) => {
    const bad = urlProblem(cam.url, cam.allowed_protocols);
    // The value is shown redacted: a rejected URL may still carry a camera's password.
    if (bad) ctx.addIssue({ code: 'custom', path: ['url'], input: redactUrl(cam.url), message: bad });
    // Zones and lines share one id space: an event names the rule that made it.
    const seen = new Set<string>();
    for (const [kind, rules] of [
      ['zones', cam.zones],
      ['lines', cam.lines],
    ] as const) {
      rules.forEach((r, i) => {
        if (seen.has(r.id))
          ctx.addIssue({
            code: 'custom',
            path: [kind, i, 'id'],
            input: r.id,
            message: 'a rule id not already used by another zone or line of this camera',
          });
        seen.add(r.id);
      });
    }
  });

export type CameraConfig = z.output<typeof cameraSchema>;
export type BackoffConfig = z.output<typeof backoffSchema>;
