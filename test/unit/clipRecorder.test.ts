import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ClipRecorder, type ClipWriter } from '../../src/media/ClipRecorder.js';
import type { VideoEvent } from '../../src/native/types.js';
import { tempDir } from '../helpers/tempDir.js';

/** A fragment whose bytes say which it is: 'k' keyframe / 'p', then its pts in ms. */
const frag = (ms: number, key: boolean, session = 1, init?: string): VideoEvent => ({
  type: 'video',
  session,
  data: Buffer.from(`${key ? 'k' : 'p'}${ms};`),
  keyframe: key,
  ptsUs: ms * 1000,
  recvUs: 0,
  ...(init ? { init: Buffer.from(`[${init}]`), mime: 'video/mp4' } : {}),
});
/** 10 fps, a keyframe every second. */
const feed = (rec: ClipRecorder, fromMs: number, toMs: number, session = 1) => {
  for (let t = fromMs; t < toMs; t += 100)
    rec.video(frag(t, t % 1000 === 0, session, t === 0 ? `init${session}` : undefined));
};

describe('clip recorder', () => {
  const dir = tempDir('vigil-clips-');

  it('starts a clip at the newest keyframe at least pre-roll old, follows the stream to the post-roll, then hands it over', async () => {
    const done: ClipWriter[] = [];
    const rec = new ClipRecorder(1_500_000, 60_000_000, (w) => done.push(w));
    feed(rec, 0, 5000); // newest 4900 ms: pre-roll 1.5 s reaches back to 3400: the GOP at 3000
    const w = rec.start(1, 'cam/day/1.mp4', join(dir, '1.mp4.part'))!;
    expect(w.firstPtsUs).toBe(3_000_000);
    feed(rec, 5000, 6000);
    rec.stop(1, 500_000); // post-roll to 6400
    feed(rec, 6000, 7000);
    expect(done).toEqual([w]);
    expect(rec.has(1)).toBe(false);
    await w.end();
    const text = readFileSync(w.partPath, 'latin1');
    expect(text.startsWith('[init1]k3000;p3100;')).toBe(true);
    expect(text.endsWith('p6300;k6400;') || text.endsWith('p6300;p6400;')).toBe(true);
    expect(w.fragments).toBe(35); // 3000 … 6400
  });

  it('a new session (init segment) ends the clips of the old one; no video: no clip', () => {
    const done: ClipWriter[] = [];
    const rec = new ClipRecorder(1_000_000, 60_000_000, (w) => done.push(w));
    expect(rec.start(2, 'r', join(dir, '2.part'))).toBeNull(); // nothing received yet
    feed(rec, 0, 2000);
    const w = rec.start(2, 'r', join(dir, '2.part'))!;
    feed(rec, 0, 500, 2);
    expect(done).toEqual([w]);
    expect(w.lastPtsUs).toBe(1_900_000);
  });

  it('ends a stopped clip by the wall clock when the video stops coming', () => {
    const done: ClipWriter[] = [];
    const rec = new ClipRecorder(0, 60_000_000, (w) => done.push(w));
    feed(rec, 0, 1000);
    const w = rec.start(3, 'r', join(dir, '3.part'))!;
    rec.stop(3, 1_000_000);
    rec.expire(Date.now() + 1000);
    expect(done).toEqual([]);
    rec.expire(Date.now() + 7000); // post-roll + 5 s grace
    expect(done).toEqual([w]);
  });

  it('aborting deletes the part file; a part file that cannot be made throws', async () => {
    const rec = new ClipRecorder(0, 60_000_000, () => {});
    feed(rec, 0, 1000);
    const w = rec.start(4, 'r', join(dir, '4.part'))!;
    expect(existsSync(w.partPath)).toBe(true);
    expect(rec.take(4)).toBe(w);
    await w.abort();
    expect(existsSync(w.partPath)).toBe(false);
    expect(() => rec.start(5, 'r', join(dir, 'no', '\0bad'))).toThrow();
  });
});
