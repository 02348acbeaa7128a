import type { EventMessage } from '../protocol/control.js';
import type { Track, TrackedDetection } from './Tracker.js';
import type { LineConfig, ZoneConfig } from './eventsConfig.js';

export type CrossDirection = NonNullable<EventMessage['direction']>;

/**
 * An event: a tracked object in a zone, from its entry (after the dwell) to its exit; or a
 * tracked object crossing a line (an instant: it opens and closes at once). The same shape goes
 * to the database, the REST API, MQTT and the live WebSocket (src/protocol/control.ts).
 */
export type ZoneEvent = EventMessage;

/** Ray casting: whether (x, y) is inside the polygon. */
export function insidePolygon(x: number, y: number, poly: ReadonlyArray<readonly [number, number]>): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i] as readonly [number, number];
    const [xj, yj] = poly[j] as readonly [number, number];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Which side of the line A→B the point P is on: > 0 left, < 0 right (image coordinates, y down, as seen from A looking at B). */
function side(a: readonly [number, number], b: readonly [number, number], px: number, py: number): number {
  return -((b[0] - a[0]) * (py - a[1]) - (b[1] - a[1]) * (px - a[0]));
}

/** Whether the move P→Q crosses the segment A→B, and which way; null when it does not. */
export function crossing(
  a: readonly [number, number],
  b: readonly [number, number],
  px: number,
  py: number,
  qx: number,
  qy: number,
): CrossDirection | null {
  const sp = side(a, b, px, py);
  const sq = side(a, b, qx, qy);
  if (sp === 0 || sq === 0 || sp > 0 === sq > 0) return null; // touching is not crossing
  // A and B must lie on different sides of the line through P and Q (else it passes beside the segment).
  const cross = (ux: number, uy: number) => (qx - px) * (uy - py) - (qy - py) * (ux - px);
  const ca = cross(a[0], a[1]);
  const cb = cross(b[0], b[1]);
  if ((ca > 0 && cb > 0) || (ca < 0 && cb < 0)) return null;
  return sp > 0 ? 'left_to_right' : 'right_to_left';
}

export interface WatcherHooks {
  /** Numbers events (the store's ids, assigned here so that an event can be closed before its insert is flushed). */
  nextId: () => number;
  onOpen: (ev: ZoneEvent) => void;
  onClose: (ev: ZoneEvent) => void;
  /** An open event's best detection got better (for its snapshot). */
  onBest?: (ev: ZoneEvent) => void;
}

interface Presence {
  since: number; // ms (the camera's wall clock) the anchor was first seen inside
  event: ZoneEvent | null;
}

/**
 * One camera's zones and lines: turns tracked detections into events. Calls the hooks
 * synchronously, in order.
 */
export class ZoneWatcher {
  private readonly presence = new Map<string, Presence>(); // `${zone}/${trackId}`
  /** Per track, per line: the last anchor off the line, and when the track last crossed it. */
  private readonly anchors = new Map<number, Map<string, { x: number; y: number; crossedAt: number }>>();

  constructor(
    private readonly camera: string,
    private readonly rules: { zones: readonly ZoneConfig[]; lines?: readonly LineConfig[] },
    private readonly hooks: WatcherHooks,
  ) {}

  /** One detector run (`nowMs`: Date.now()), and the tracks that ended with it. */
  update(seq: number, detections: readonly TrackedDetection[], ended: readonly Track[], nowMs: number): void {
    const seen = new Set<string>();
    for (const d of detections) {
      const trackId = d.trackId;
      if (trackId === null) continue;
      const ax = (d.x1 + d.x2) / 2;
      const ay = d.y2;
      this.lines(seq, d, trackId, ax, ay, nowMs);
      for (const z of this.rules.zones) {
        if (z.classes.length > 0 && !z.classes.includes(d.label)) continue;
        if (!insidePolygon(ax, ay, z.polygon)) continue;
        const key = `${z.id}/${trackId}`;
        seen.add(key);
        let p = this.presence.get(key);
        if (!p) {
          p = { since: nowMs, event: null };
          this.presence.set(key, p);
        }
        if (!p.event && nowMs - p.since >= z.min_dwell_ms) {
          p.event = this.newEvent('zone', z.id, null, seq, d, trackId, nowMs);
          this.hooks.onOpen({ ...p.event });
        }
        if (p.event) {
          p.event.frames++;
          if (d.score > p.event.bestScore) {
            p.event.bestScore = d.score;
            p.event.bestBox = { x1: d.x1, y1: d.y1, x2: d.x2, y2: d.y2 };
            p.event.bestSeq = seq;
            this.hooks.onBest?.({ ...p.event });
          }
        }
      }
    }
    // Out of the zone: a detection of the track outside it. A track not detected this run
    // stays where it was until it ends.
    const detectedTracks = new Set(detections.filter((d) => d.trackId !== null).map((d) => d.trackId));
    const endedIds = new Set(ended.map((t) => t.id));
    for (const id of endedIds) this.anchors.delete(id);
    for (const [key, p] of this.presence) {
      if (seen.has(key)) continue;
      const trackId = Number(key.slice(key.lastIndexOf('/') + 1));
      if (!detectedTracks.has(trackId) && !endedIds.has(trackId)) continue;
      this.presence.delete(key);
      if (p.event) this.close(p.event, nowMs);
    }
  }

  /** Closes every open event (the camera's session ended, or the daemon stops). */
  closeAll(nowMs: number): void {
    for (const p of this.presence.values()) if (p.event) this.close(p.event, nowMs);
    this.presence.clear();
    this.anchors.clear();
  }

  /** Line crossings of one detection since its track's previous anchor: each an instant event. */
  private lines(seq: number, d: TrackedDetection, trackId: number, ax: number, ay: number, nowMs: number): void {
    const lines = this.rules.lines ?? [];
    if (lines.length === 0) return;
    let mine = this.anchors.get(trackId);
    if (!mine) this.anchors.set(trackId, (mine = new Map()));
    for (const l of lines) {
      if (l.classes.length > 0 && !l.classes.includes(d.label)) continue;
      // An anchor on the line itself is no side: the move is judged from the last one off it.
      if (side(l.points[0], l.points[1], ax, ay) === 0) continue;
      const prev = mine.get(l.id);
      mine.set(l.id, { x: ax, y: ay, crossedAt: prev?.crossedAt ?? Number.NEGATIVE_INFINITY });
      if (!prev) continue;
      const dir = crossing(l.points[0], l.points[1], prev.x, prev.y, ax, ay);
      if (!dir) continue;
      // A box jittering over the line crosses it back and forth: one event per cooldown.
      if (nowMs - prev.crossedAt < l.cooldown_ms) continue;
      mine.get(l.id)!.crossedAt = nowMs;
      if (l.direction !== 'any' && l.direction !== dir) continue;
      const ev = this.newEvent('line', l.id, dir, seq, d, trackId, nowMs);
      ev.frames = 1;
      this.hooks.onOpen({ ...ev });
      this.close(ev, nowMs);
    }
  }

  private newEvent(
    type: ZoneEvent['type'],
    rule: string,
    direction: CrossDirection | null,
    seq: number,
    d: TrackedDetection,
    trackId: number,
    nowMs: number,
  ): ZoneEvent {
    return {
      id: this.hooks.nextId(),
      camera: this.camera,
      type,
      zone: rule,
      direction,
      trackId,
      classId: d.classId,
      label: d.label,
      startedAt: new Date(nowMs).toISOString(),
      endedAt: null,
      bestScore: d.score,
      bestBox: { x1: d.x1, y1: d.y1, x2: d.x2, y2: d.y2 },
      bestSeq: seq,
      frames: 0,
    };
  }

  private close(ev: ZoneEvent, nowMs: number): void {
    ev.endedAt = new Date(nowMs).toISOString();
    this.hooks.onClose({ ...ev });
  }
}
