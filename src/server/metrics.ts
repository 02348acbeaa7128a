import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import type { BudgetEvent } from '../budget/BudgetGuard.js';
import type { BatchStats, CameraDetectStats, DetectionEvent } from '../detect/DetectionService.js';
import { STAGES, stageTimes, type FrameLatency } from '../detect/FrameLatency.js';
import type { CameraState, CameraSupervisor } from '../pipeline/CameraSupervisor.js';

const STATES: CameraState[] = ['connecting', 'streaming', 'stalled', 'backoff', 'stopped'];

/** What the camera metrics read of a camera when scraped. */
export type MetricsCamera = Pick<CameraSupervisor, 'id' | 'state' | 'health' | 'counters'>;

/** Where the detection metrics come from: read when scraped, or counted as events come. */
export interface DetectionSources {
  /** A camera's detection stats; null when it does not detect. */
  detectStats: (id: string) => CameraDetectStats | null;
  /** null when detection is off. */
  batchStats: () => BatchStats | null;
  latency: (id: string) => Pick<FrameLatency, 'timing'> | undefined;
  /** The detector's backend, as inference times are labelled. */
  backend: () => string;
  onDetections: (fn: (ev: DetectionEvent, emittedUs: number) => void) => void;
  onBudget: (fn: (ev: BudgetEvent) => void) => void;
}

export interface MetricsDeps {
  cameras: () => Iterable<MetricsCamera>;
  /** Absent: the camera metrics only. */
  detection?: DetectionSources;
}

/**
 * Prometheus metrics. Values are read from the supervisors when scraped (no per-frame work);
 * native counters are cumulative since the camera was created, so they map onto counters.
 */
export function createMetrics({ cameras, detection }: MetricsDeps): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: 'vigil_' });

  const totals: Array<[string, string, (c: ReturnType<MetricsCamera['counters']>) => number]> = [
    ['vigil_camera_packets_total', 'Video packets received', (c) => c.packets],
    ['vigil_camera_bytes_total', 'Video bytes received', (c) => c.bytes],
    ['vigil_camera_frames_decoded_total', 'Frames decoded', (c) => c.framesDecoded],
    [
      'vigil_camera_frames_dropped_total',
      'Frames dropped (event queue or frame pool full)',
      (c) => c.droppedQueueFull + c.droppedPoolFull,
    ],
    [
      'vigil_camera_decode_errors_total',
      'Packets the decoder rejected or met errors in (damaged input, any codec)',
      (c) => c.decodeErrors,
    ],
    [
      'vigil_camera_corrupt_frames_total',
      'Frames decoded from damaged input (flagged by the decoder, or after a decode error until a clean keyframe)',
      (c) => c.corruptFrames,
    ],
    ['vigil_camera_sessions_total', 'Sessions started (first connect plus reconnects)', (c) => c.sessions],
  ];
  for (const [name, help, read] of totals)
    perCamera('counter', register, name, help, cameras, (cam) => read(cam.counters()));

  new Gauge({
    name: 'vigil_camera_state',
    help: 'Camera state (1 for the current state)',
    labelNames: ['camera', 'state'],
    registers: [register],
    collect() {
      this.reset();
      for (const cam of cameras())
        for (const s of STATES) this.set({ camera: cam.id, state: s }, cam.state === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vigil_camera_fps',
    help: 'Frames per second over the last 5 s',
    labelNames: ['camera', 'kind'],
    registers: [register],
    collect() {
      this.reset();
      for (const cam of cameras()) {
        const h = cam.health();
        this.set({ camera: cam.id, kind: 'received' }, h.fps.received);
        this.set({ camera: cam.id, kind: 'decoded' }, h.fps.decoded);
      }
    },
  });
  if (detection) detectionMetrics(register, cameras, detection);
  return register;
}

function detectionMetrics(register: Registry, cameras: () => Iterable<MetricsCamera>, src: DetectionSources): void {
  const detections = new Counter({
    name: 'vigil_detections_total',
    help: 'Objects detected, by camera and class',
    labelNames: ['camera', 'label'],
    registers: [register],
  });
  const infer = new Histogram({
    name: 'vigil_infer_seconds',
    help: 'Detector time per frame (inference + post-processing)',
    labelNames: ['backend'],
    buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1],
    registers: [register],
  });
  const stages = new Histogram({
    name: 'vigil_frame_stage_seconds',
    help: "Where a detected frame's time went: decode (first packet → decoded), queue_preprocess (→ letterboxed), infer (→ model outputs), postprocess (→ boxes), total (first packet → detections out)",
    labelNames: ['camera', 'stage'],
    buckets: [0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2],
    registers: [register],
  });
  src.onDetections((ev, emittedUs) => {
    for (const d of ev.detections) detections.inc({ camera: ev.camera, label: d.label });
    infer.observe({ backend: src.backend() }, (ev.stamps.postprocessedUs - ev.stamps.preprocessedUs) / 1e6);
    const t = stageTimes(ev, emittedUs);
    for (const s of STAGES) stages.observe({ camera: ev.camera, stage: s }, t[s] / 1000);
  });
  const detectCounters: Array<[string, string, (s: CameraDetectStats) => number]> = [
    ['vigil_detect_frames_total', 'Frames the detector ran on', (s) => s.framesInferred],
  ];
  new Counter({
    name: 'vigil_detect_dropped_total',
    help: 'Decoded frames the detector did not run on, by reason: behind (a newer frame won while it was busy), stale (the budget policy: too old to make the budget), every_nth (the budget policy), fps (over target_fps), gone (left the pool first), error',
    labelNames: ['camera', 'reason'],
    registers: [register],
    collect() {
      this.reset();
      for (const cam of cameras()) {
        const st = src.detectStats(cam.id);
        if (st) for (const [reason, n] of Object.entries(st.dropReasons)) this.inc({ camera: cam.id, reason }, n);
      }
    },
  });
  new Counter({
    name: 'vigil_detect_batches_total',
    help: 'Cross-camera batches the detector ran, by why they went: full, ready (every camera due had a frame), timeout',
    labelNames: ['launch'],
    registers: [register],
    collect() {
      this.reset();
      const b = src.batchStats();
      if (b) for (const [launch, n] of Object.entries(b.launches)) this.inc({ launch }, n);
    },
  });
  new Counter({
    name: 'vigil_detect_batch_frames_total',
    help: "Frames in the detector's batches (÷ vigil_detect_batches_total: the mean batch size)",
    registers: [register],
    collect() {
      this.reset();
      const b = src.batchStats();
      if (b) this.inc(b.frames);
    },
  });
  perCamera(
    'gauge',
    register,
    'vigil_frame_jitter_seconds',
    'Interarrival jitter of decoded frames (RFC 3550: smoothed |arrival interval − pts interval|)',
    cameras,
    (cam) => {
      const t = src.latency(cam.id)?.timing();
      return t?.intervalMs ? t.jitterMs / 1000 : null;
    },
  );
  const budgetEvents = new Counter({
    name: 'vigil_budget_events_total',
    help: 'Latency budget breaches and recoveries, by camera',
    labelNames: ['camera', 'kind'],
    registers: [register],
  });
  src.onBudget((ev) => budgetEvents.inc({ camera: ev.camera, kind: ev.kind }));
  perCamera(
    'gauge',
    register,
    'vigil_budget_breached',
    "1 while the camera's latency budget is breached, else 0 (cameras with a budget)",
    cameras,
    (cam) => {
      const b = src.detectStats(cam.id)?.budget;
      return b ? (b.state === 'breach' ? 1 : 0) : null;
    },
  );
  for (const [name, help, read] of detectCounters) {
    perCamera('counter', register, name, help, cameras, (cam) => {
      const s = src.detectStats(cam.id);
      return s ? read(s) : null;
    });
  }
}

/**
 * A counter (cumulative native/JS count) or gauge per camera, read when scraped; `read` gives
 * null for a camera without a value.
 */
function perCamera(
  kind: 'counter' | 'gauge',
  register: Registry,
  name: string,
  help: string,
  cameras: () => Iterable<MetricsCamera>,
  read: (cam: MetricsCamera) => number | null,
): void {
  const values = () =>
    [...cameras()].flatMap((cam) => {
      const v = read(cam);
      return v === null ? [] : [{ camera: cam.id, v }];
    });
  const common = { name, help, labelNames: ['camera'] as const, registers: [register] };
  if (kind === 'counter') {
    new Counter({
      ...common,
      collect() {
        this.reset();
        for (const { camera, v } of values()) this.inc({ camera }, v);
      },
    });
  } else {
    new Gauge({
      ...common,
      collect() {
        this.reset();
        for (const { camera, v } of values()) this.set({ camera }, v);
      },
    });
  }
}
