/**
 * JSON control messages of the live WebSocket (text frames). Client messages are validated
 * here with zod on the server; a bad one gets an `error` reply and the connection stays open.
 * ui/ imports only the types.
 */
import { z } from 'zod';

import { describeIssue } from '../util/zodIssues.js';

export const PROTOCOL_VERSION = 1;
/** The WebSocket subprotocol a client offers. */
export const SUBPROTOCOL = 'vigil.v1';

const cameraId = z.string().min(1).max(64);

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('hello'), version: z.int() }),
  z.strictObject({
    type: z.literal('subscribe'),
    camera: cameraId,
    video: z.boolean().default(true),
    detections: z.boolean().default(true),
    /** The annotated stream (boxes burned in by the daemon, at the detector's rate) instead of the camera's video. */
    annotated: z.boolean().default(false),
  }),
  z.strictObject({ type: z.literal('unsubscribe'), camera: cameraId }),
  // What the player sees: how far behind the newest fragment it plays, and what it did about it.
  z.strictObject({
    type: z.literal('player'),
    camera: cameraId,
    behindMs: z.number().min(0).max(3_600_000),
    bufferedMs: z.number().min(0).max(3_600_000),
    rate: z.number().min(0).max(16),
    jumps: z.int().min(0),
  }),
  // When the browser drew each frame's overlay: ms from its detections arriving to the frame
  // they belong to being drawn with them (browser clock; includes the player's live delay).
  z.strictObject({
    type: z.literal('overlay'),
    camera: cameraId,
    drawnMs: z.array(z.number().min(0).max(600_000)).min(1).max(500),
  }),
]);

export type ClientMessage = z.output<typeof clientMessageSchema>;
export type ClientMessageInput = z.input<typeof clientMessageSchema>;

export interface CameraInfo {
  /** What binary messages carry in their `camera` field. */
  index: number;
  id: string;
  name: string;
  codec: string | null;
  width: number | null;
  height: number | null;
  /** 'passthrough' (H.264 in fMP4), 'transcode (libx264)' / 'transcode (h264_nvenc)', or why there is no video for this camera. */
  video: string | null;
}

/** p50/p95/p99 (ms) of a stage over recent frames; null before any. */
export type StagePercentiles = { p50: number; p95: number; p99: number; n: number } | null;

/** The stages of a detected frame, first packet → overlay drawn (src/detect/FrameLatency.ts). */
export interface CameraStages {
  decode: StagePercentiles;
  queue_preprocess: StagePercentiles;
  infer: StagePercentiles;
  postprocess: StagePercentiles;
  /** First packet → detections out. */
  total: StagePercentiles;
  /** Detections out → handed to a viewer's socket. */
  send: StagePercentiles;
  /** Detections received by a browser → drawn over their frame (browser clock). */
  display: StagePercentiles;
}

export interface CameraBudget {
  ms: number;
  policy: string;
  state: 'ok' | 'breach';
  /** The policy acts now (breach, or within hold_seconds after the recovery). */
  engaged: boolean;
  breaches: number;
}

/** A breach or a recovery of one camera's latency budget: stored, published, counted. */
export interface BudgetEventMessage {
  camera: string;
  kind: 'breach' | 'recovered';
  /** Wall clock, ISO 8601. */
  at: string;
  budgetMs: number;
  policy: string;
  /** breach: the median latency of the frames over budget that made it; recovered: of the frames within it. */
  latencyMs: number;
  /** recovered: how long the breach lasted. */
  durationMs: number | null;
  /** recovered: frames the policy dropped during the breach. */
  dropped: number | null;
}

/**
 * A zone or line event as committed to the database (the REST API has it, with its files, at
 * /api/events/:id): a tracked object in a zone from its entry (after the dwell) to its exit, or
 * across a line (an instant).
 */
export interface EventMessage {
  id: number;
  camera: string;
  type: 'zone' | 'line';
  /** The zone's or line's id. */
  zone: string;
  /** Line events: which way it crossed, as seen from the line's first point towards its second. */
  direction: 'left_to_right' | 'right_to_left' | null;
  trackId: number;
  classId: number;
  label: string;
  /** ISO times: opened (entry + dwell), closed (exit, or the track's end); null while open. */
  startedAt: string;
  endedAt: string | null;
  /** The best-scored detection while inside: score, box (frame pixels) and frame seq. */
  bestScore: number;
  bestBox: { x1: number; y1: number; x2: number; y2: number };
  bestSeq: number;
  /** Detector runs that saw it inside. */
  frames: number;
}

export interface CameraLive {
  id: string;
  state: string;
  fps: number;
  drops: number;
  detectFps: number | null;
  inferMs: number | null;
  /** First packet → detections out, over recent frames (warm; cold starts apart). */
  latencyMs: { p50: number; p99: number } | null;
  objects: Record<string, number>;
  /** Per-stage latencies (warm frames). */
  stages: CameraStages | null;
  budget: CameraBudget | null;
  /** Frames the detector did not run on, by reason (src/detect/DetectionService.ts). */
  dropReasons: Record<string, number> | null;
  /** Arrival interval between decoded frames (ms), and RFC 3550 interarrival jitter (ms). */
  intervalMs: StagePercentiles;
  jitterMs: number | null;
}

/**
 * `unknown_camera`: no such camera, or (to a viewer) one they may not see: the two answer alike,
 * so a viewer cannot learn which cameras exist.
 */
export type ErrorCode = 'bad_message' | 'version' | 'hello_first' | 'unknown_camera';

/**
 * Why the server closed the socket: WebSocket close codes of the application's range
 * (4000-4999), each with its reason text. All but `version` mean: log in again.
 */
export const LIVE_CLOSE = {
  version: { code: 4000, reason: 'protocol version' },
  user_deleted: { code: 4001, reason: 'user deleted' },
  logged_out: { code: 4002, reason: 'logged out' },
  expired: { code: 4003, reason: 'session expired' },
  /** The user's password or role changed (their cameras alone changing keeps the socket). */
  login_again: { code: 4004, reason: 'password or role changed' },
} as const satisfies Record<string, { code: number; reason: string }>;
export type LiveCloseReason = keyof typeof LIVE_CLOSE;

export type ServerMessage =
  | { type: 'hello'; version: number; user: { name: string; role: 'admin' | 'viewer' }; cameras: CameraInfo[] }
  | { type: 'subscribed'; camera: string; index: number; video: boolean; detections: boolean; annotated: boolean }
  | { type: 'unsubscribed'; camera: string }
  | { type: 'health'; cameras: CameraLive[] }
  | { type: 'budget'; event: BudgetEventMessage }
  | { type: 'event'; kind: 'open' | 'close'; event: EventMessage }
  | { type: 'error'; code: ErrorCode; message: string };

/** Parses a client's text message; `error` is an "Expected … but received …" sentence. */
export function parseClientMessage(text: string): { ok: true; message: ClientMessage } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: `Expected a JSON object but received '${text.slice(0, 40)}'` };
  }
  const r = clientMessageSchema.safeParse(raw, { reportInput: true });
  if (r.success) return { ok: true, message: r.data };
  return { ok: false, error: describeIssue(r.error.issues[0]!) };
}
