import type { Track, TrackedDetection } from './Tracker.js';
import type { ZoneConfig } from './eventsConfig.js';

/** An event: a tracked object in a zone, from its entry (after the dwell) to its exit. */
export interface ZoneEvent {
  id: number;
  camera: string;
  zone: string;
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

interface Presence {
  since: number;  // ms (the camera's wall clock) the anchor was first seen inside
  event: ZoneEvent | null;
}

/**
 * One camera's zones: turns tracked detections into events. `nextId` numbers events (the
 * store's ids, assigned here so that an event can be closed before its insert is flushed).
 * Calls `onOpen` / `onClose` synchronously, in order.
 */
export class ZoneWatcher {
  private readonly presence = new Map<string, Presence>();  // `${zone}/${trackId}`

  constructor(
    private readonly camera: string,
    private readonly zones: readonly ZoneConfig[],
    private readonly nextId: () => number,
    private readonly onOpen: (ev: ZoneEvent) => void,
    private readonly onClose: (ev: ZoneEvent) => void,
  ) {}

  /** One detector run (`nowMs`: Date.now()), and the tracks that ended with it. */
  update(seq: number, detections: readonly TrackedDetection[], ended: readonly Track[], nowMs: number): void {
    const seen = new Set<string>();
    for (const d of detections) {
      if (d.trackId === null) continue;
      const ax = (d.x1 + d.x2) / 2;
      const ay = d.y2;
      for (const z of this.zones) {
        if (z.classes.length > 0 && !z.classes.includes(d.label)) continue;
        if (!insidePolygon(ax, ay, z.polygon)) continue;
        const key = `${z.id}/${d.trackId}`;
        seen.add(key);
        let p = this.presence.get(key);
        if (!p) {
          p = { since: nowMs, event: null };
          this.presence.set(key, p);
        }
        if (!p.event && nowMs - p.since >= z.min_dwell_ms) {
          p.event = {
            id: this.nextId(), camera: this.camera, zone: z.id, trackId: d.trackId, classId: d.classId, label: d.label,
            startedAt: new Date(nowMs).toISOString(), endedAt: null,
            bestScore: d.score, bestBox: { x1: d.x1, y1: d.y1, x2: d.x2, y2: d.y2 }, bestSeq: seq, frames: 0,
          };
          this.onOpen({ ...p.event });
        }
        if (p.event) {
          p.event.frames++;
          if (d.score > p.event.bestScore) {
            p.event.bestScore = d.score;
            p.event.bestBox = { x1: d.x1, y1: d.y1, x2: d.x2, y2: d.y2 };
            p.event.bestSeq = seq;
          }
        }
      }
    }
    // Out of the zone: a detection of the track outside it. A track not detected this run
    // stays where it was until it ends.
    const detectedTracks = new Set(detections.filter((d) => d.trackId !== null).map((d) => d.trackId));
    const endedIds = new Set(ended.map((t) => t.id));
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
  }

  private close(ev: ZoneEvent, nowMs: number): void {
    ev.endedAt = new Date(nowMs).toISOString();
    this.onClose({ ...ev });
  }
}
