import { describe, expect, it } from 'vitest';

import type { Detection } from '../../src/detect/Detection.js';
import { Tracker } from '../../src/events/Tracker.js';
import { crossing, insidePolygon, ZoneWatcher, type ZoneEvent } from '../../src/events/ZoneWatcher.js';

const person = (x: number, y: number, score = 0.9, w = 40, h = 100): Detection => ({
  classId: 0,
  label: 'person',
  score,
  x1: x,
  y1: y,
  x2: x + w,
  y2: y + h,
});

describe('tracker', () => {
  it('keeps one id per walking object through crossing paths, after min hits', () => {
    const t = new Tracker({ iouThreshold: 0.3, highScore: 0.5, minHits: 3, maxAge: 5 });
    const ids: Array<[number | null, number | null]> = [];
    for (let f = 0; f < 20; f++) {
      // a walks right, b walks left; their boxes pass each other around frame 10 (12 px a step)
      const a = person(100 + 12 * f, 200);
      const b = person(340 - 12 * f, 230);
      const r = t.update([a, b]);
      const [da, db] = r.detections;
      ids.push([da!.trackId, db!.trackId]);
      expect(r.ended).toEqual([]);
    }
    expect(ids[0]).toEqual([null, null]); // tentative
    expect(ids[1]).toEqual([null, null]);
    const [ia, ib] = ids[2]!;
    expect(ia).not.toBeNull();
    expect(ib).not.toBeNull();
    expect(ia).not.toBe(ib);
    for (const [x, y] of ids.slice(2)) expect([x, y]).toEqual([ia, ib]); // constant velocity carries each through the crossing
  });

  it('keeps a track through weak and missing detections, ends it after max age, never reuses an id', () => {
    const t = new Tracker({ iouThreshold: 0.3, highScore: 0.5, minHits: 2, maxAge: 3 });
    t.update([person(100, 100)]);
    const id = t.update([person(104, 100)]).detections[0]!.trackId;
    expect(id).toBe(1);
    expect(t.update([person(108, 100, 0.2)]).detections[0]!.trackId).toBe(1); // a low-score box continues it
    expect(t.update([person(500, 100, 0.2)]).detections[0]!.trackId).toBeNull(); // low-score boxes start nothing
    for (let i = 0; i < 2; i++) expect(t.update([]).ended).toEqual([]);
    const end = t.update([]); // 4th run without it (> maxAge = 3)
    expect(end.ended.map((x) => x.id)).toEqual([1]);
    t.update([person(108, 100)]);
    expect(t.update([person(110, 100)]).detections[0]!.trackId).toBe(2); // a new id where 1 ended: never reused
  });

  it('does not match across classes', () => {
    const t = new Tracker({ iouThreshold: 0.3, highScore: 0.5, minHits: 1, maxAge: 3 });
    const a = t.update([person(100, 100)]).detections[0]!.trackId;
    const b = t.update([{ ...person(100, 100), classId: 2, label: 'car' }]).detections[0]!.trackId;
    expect(a).not.toBe(b);
  });
});

describe('zones', () => {
  const square: Array<[number, number]> = [
    [0, 0],
    [200, 0],
    [200, 200],
    [0, 200],
  ];

  it('point in polygon, concave too', () => {
    expect(insidePolygon(100, 100, square)).toBe(true);
    expect(insidePolygon(250, 100, square)).toBe(false);
    const l: Array<[number, number]> = [
      [0, 0],
      [100, 0],
      [100, 50],
      [50, 50],
      [50, 100],
      [0, 100],
    ];
    expect(insidePolygon(25, 75, l)).toBe(true);
    expect(insidePolygon(75, 75, l)).toBe(false);
  });

  it("opens an event after the dwell, keeps the best detection, closes on exit and on the track's end", () => {
    const opened: ZoneEvent[] = [];
    const closed: ZoneEvent[] = [];
    let n = 0;
    const best: ZoneEvent[] = [];
    const w = new ZoneWatcher(
      'cam',
      { zones: [{ id: 'door', polygon: square, classes: ['person'], min_dwell_ms: 1000 }] },
      {
        nextId: () => ++n,
        onOpen: (e) => opened.push(e),
        onClose: (e) => closed.push(e),
        onBest: (e) => best.push(e),
      },
    );
    const at = (x: number, score: number, trackId = 7) => [{ ...person(x, 50, score), trackId }]; // anchor at (x + 20, 150)
    w.update(1, at(50, 0.6), [], 0);
    w.update(2, at(60, 0.8), [], 500);
    expect(opened).toEqual([]); // not dwelt long enough
    w.update(3, at(70, 0.7), [], 1000);
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({
      id: 1,
      camera: 'cam',
      type: 'zone',
      zone: 'door',
      direction: null,
      trackId: 7,
      label: 'person',
      endedAt: null,
      bestScore: 0.7,
      bestSeq: 3,
    });
    w.update(4, at(80, 0.95), [], 1500);
    expect(best.map((e) => [e.id, e.bestSeq, e.bestScore])).toEqual([[1, 4, 0.95]]); // a better detection of the open event
    w.update(5, [], [], 1700); // not detected this run: still inside
    expect(closed).toEqual([]);
    w.update(6, at(400, 0.9), [], 2000); // walked out
    expect(closed).toHaveLength(1);
    expect(closed[0]).toMatchObject({
      id: 1,
      bestScore: 0.95,
      bestSeq: 4,
      frames: 2,
      endedAt: new Date(2000).toISOString(),
    });
    // Another track that ends inside the zone (dwell 0 on a second zone-less class filter).
    w.update(7, at(10, 0.9, 8), [], 3000);
    w.update(8, at(10, 0.9, 8), [], 4000);
    expect(opened).toHaveLength(2);
    w.update(9, [], [{ id: 8 } as never], 5000);
    expect(closed.map((e) => e.trackId)).toEqual([7, 8]);
    // Other classes do not count.
    w.update(10, [{ ...person(10, 50), classId: 2, label: 'car', trackId: 9 }], [], 6000);
    w.update(11, [{ ...person(10, 50), classId: 2, label: 'car', trackId: 9 }], [], 8000);
    expect(opened).toHaveLength(2);
  });

  it('line crossing: the move between two anchors crosses the segment, with its direction', () => {
    // Line A(100,0) → B(100,200): looking from A (top) to B (bottom), left is +x (image y points down).
    expect(crossing([100, 0], [100, 200], 150, 100, 50, 100)).toBe('left_to_right');
    expect(crossing([100, 0], [100, 200], 50, 100, 150, 100)).toBe('right_to_left');
    expect(crossing([100, 0], [100, 200], 50, 300, 150, 300)).toBeNull(); // beside the segment's end
    expect(crossing([100, 0], [100, 200], 50, 100, 90, 100)).toBeNull(); // not over it
    expect(crossing([100, 0], [100, 200], 50, 100, 100, 100)).toBeNull(); // onto it is not across
  });

  it('line events: an instant event per crossing, direction filter, per track, classes', () => {
    const opened: ZoneEvent[] = [];
    const closed: ZoneEvent[] = [];
    let n = 0;
    const w = new ZoneWatcher(
      'cam',
      {
        zones: [],
        lines: [
          {
            id: 'gate',
            points: [
              [100, 0],
              [100, 400],
            ],
            classes: ['person'],
            direction: 'any',
            cooldown_ms: 50,
          },
          {
            id: 'in',
            points: [
              [100, 0],
              [100, 400],
            ],
            classes: [],
            direction: 'right_to_left',
            cooldown_ms: 50,
          },
        ],
      },
      { nextId: () => ++n, onOpen: (e) => opened.push(e), onClose: (e) => closed.push(e) },
    );
    const at = (x: number, trackId: number, label = 'person') => ({
      ...person(x, 50),
      classId: label === 'car' ? 2 : 0,
      label,
      trackId,
    }); // anchor (x + 20, 150)
    w.update(1, [at(10, 1), at(200, 2)], [], 0);
    expect(opened).toEqual([]); // a first sighting crosses nothing
    w.update(2, [at(150, 1), at(190, 2)], [], 100); // track 1: x 30 → 170 crosses (right to left); track 2 stays right
    expect(closed.map((e) => [e.zone, e.trackId, e.direction])).toEqual([
      ['gate', 1, 'right_to_left'],
      ['in', 1, 'right_to_left'],
    ]);
    expect(closed[0]).toMatchObject({
      type: 'line',
      startedAt: new Date(100).toISOString(),
      endedAt: new Date(100).toISOString(),
      frames: 1,
      bestSeq: 2,
    });
    expect(opened.map((e) => e.id)).toEqual(closed.map((e) => e.id)); // opened and closed at once
    w.update(3, [at(20, 1), at(10, 2, 'car')], [], 200); // both cross left to right; the car only matters to 'in', which wants the other way
    expect(closed.slice(2).map((e) => [e.zone, e.trackId, e.direction])).toEqual([['gate', 1, 'left_to_right']]);
    w.update(4, [], [{ id: 1 } as never], 300); // track 1 ends: its next sighting is a first one again
    w.update(5, [at(150, 1)], [], 400);
    expect(closed).toHaveLength(3);
  });

  it('line events: an anchor on the line is no side, and a track jittering over it makes one event per cooldown', () => {
    const closed: ZoneEvent[] = [];
    let n = 0;
    const w = new ZoneWatcher(
      'cam',
      {
        zones: [],
        lines: [
          {
            id: 'gate',
            points: [
              [100, 0],
              [100, 400],
            ],
            classes: [],
            direction: 'any',
            cooldown_ms: 1000,
          },
        ],
      },
      { nextId: () => ++n, onOpen: () => {}, onClose: (e) => closed.push(e) },
    );
    const at = (ax: number) => [{ ...person(ax - 20, 50), trackId: 1 }]; // anchor (ax, 150)
    w.update(1, at(90), [], 0);
    w.update(2, at(100), [], 100); // onto the line: not across
    w.update(3, at(110), [], 200); // off it on the other side: across, judged from 90
    expect(closed.map((e) => e.direction)).toEqual(['right_to_left']);
    w.update(4, at(95), [], 300); // jitter back within the cooldown: nothing
    w.update(5, at(105), [], 400);
    expect(closed).toHaveLength(1);
    w.update(6, at(90), [], 1300); // back across after the cooldown: an event
    expect(closed.map((e) => e.direction)).toEqual(['right_to_left', 'left_to_right']);
  });
});
