import { iou, type Detection } from '../detect/Detection.js';

export interface TrackerOptions {
  /** A detection continues a track when their boxes overlap at least this much (same class). */
  iouThreshold: number;
  /** Detections at or above this score start tracks and are matched first (ByteTrack's high set). */
  highScore: number;
  /** A track gets its id shown (is confirmed) after this many matched detections. */
  minHits: number;
  /** A track is dropped after this many detector runs without a match. */
  maxAge: number;
}

export const TRACKER_DEFAULTS: TrackerOptions = { iouThreshold: 0.3, highScore: 0.5, minHits: 3, maxAge: 15 };

/** A detection with the id of the confirmed track it continues (null: none yet). */
export type TrackedDetection = Detection & { trackId: number | null };

export interface Track {
  id: number;
  classId: number;
  label: string;
  box: Detection;
  /** The box one update before: its motion predicts the next position. */
  prev: Detection | null;
  hits: number;
  missed: number;
  confirmed: boolean;
}

/**
 * Per-camera multi-object tracking in the manner of ByteTrack: each detector run's boxes are
 * matched to live tracks by IoU with each track's box moved on by its last motion, greedily by
 * overlap, high-score boxes first and the low-score ones after, to keep a track through a
 * weak frame; unmatched high-score boxes start tentative tracks; a track shows its id once it
 * has `minHits` matches and ends after `maxAge` runs without one. Ids are stable for a track's
 * life and never reused on the camera.
 */
export class Tracker {
  private tracks: Track[] = [];
  private nextId = 1;

  constructor(private readonly opts: TrackerOptions = TRACKER_DEFAULTS) {}

  /** The confirmed tracks alive now. */
  live(): Track[] {
    return this.tracks.filter((t) => t.confirmed);
  }

  /** One detector run: the detections with their track ids, and the confirmed tracks that ended. */
  update(dets: readonly Detection[]): { detections: TrackedDetection[]; ended: Track[] } {
    const out: TrackedDetection[] = dets.map((d) => ({ ...d, trackId: null }));
    const free = new Set(this.tracks);
    const matched = new Set<number>();
    const high = dets.map((_, i) => i).filter((i) => (dets[i] as Detection).score >= this.opts.highScore);
    const low = dets.map((_, i) => i).filter((i) => (dets[i] as Detection).score < this.opts.highScore);
    for (const group of [high, low]) {
      const pairs: Array<{ t: Track; i: number; v: number }> = [];
      for (const t of free) {
        const p = predict(t);
        for (const i of group) {
          const d = dets[i] as Detection;
          if (d.classId !== t.classId) continue;
          const v = iou(p, d);
          if (v >= this.opts.iouThreshold) pairs.push({ t, i, v });
        }
      }
      pairs.sort((a, b) => b.v - a.v);
      for (const { t, i } of pairs) {
        if (!free.has(t) || matched.has(i)) continue;
        free.delete(t);
        matched.add(i);
        const d = dets[i] as Detection;
        t.prev = t.box;
        t.box = d;
        t.hits++;
        t.missed = 0;
        if (t.hits >= this.opts.minHits) t.confirmed = true;
        if (t.confirmed) (out[i] as TrackedDetection).trackId = t.id;
      }
    }
    const ended: Track[] = [];
    for (const t of free) {
      t.missed++;
      t.prev = null; // no motion to extrapolate from a gap
      if (t.missed > this.opts.maxAge || !t.confirmed) {
        // A tentative track that misses once was noise; a confirmed one waits out maxAge.
        this.tracks.splice(this.tracks.indexOf(t), 1);
        if (t.confirmed) ended.push(t);
      }
    }
    for (const i of high) {
      if (matched.has(i)) continue;
      const d = dets[i] as Detection;
      const t: Track = {
        id: this.nextId++,
        classId: d.classId,
        label: d.label,
        box: d,
        prev: null,
        hits: 1,
        missed: 0,
        confirmed: this.opts.minHits <= 1,
      };
      this.tracks.push(t);
      if (t.confirmed) (out[i] as TrackedDetection).trackId = t.id;
    }
    return { detections: out, ended };
  }

  /** Every live track ends (the camera's session ended): the confirmed ones. */
  clear(): Track[] {
    const ended = this.live();
    this.tracks = [];
    return ended;
  }
}

/** The track's box moved on by its last step (constant velocity). */
function predict(t: Track): Detection {
  if (!t.prev) return t.box;
  const dx = (t.box.x1 + t.box.x2 - t.prev.x1 - t.prev.x2) / 2;
  const dy = (t.box.y1 + t.box.y2 - t.prev.y1 - t.prev.y2) / 2;
  return { ...t.box, x1: t.box.x1 + dx, x2: t.box.x2 + dx, y1: t.box.y1 + dy, y2: t.box.y2 + dy };
}
