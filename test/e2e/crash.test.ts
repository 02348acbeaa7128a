import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startDaemonProcess, type DaemonProcess } from '../../bench/daemonProcess.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import { waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { filesUnder, mediaRows } from '../helpers/media.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tempDir.js';

let daemon: DaemonProcess | null = null;
let broker: Mosquitto | null = null;
let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264');
  fp32OnnxPath();
}, 300_000);

afterEach(async () => {
  await daemon?.stop();
  daemon = null;
  await broker?.stop();
  broker = null;
});

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('crash safety', () => {
  it('SIGKILLed while writing events fast: every event published over MQTT is in the database after restart', async () => {
    broker = await Mosquitto.start();
    const sub = mqtt.connect(broker.url, { clientId: 'crash-sub' });
    const acked: Array<{ id: number; kind: string }> = [];
    sub.on('message', (_t, payload) => acked.push(JSON.parse(payload.toString()) as { id: number; kind: string }));
    await new Promise<void>((r) => sub.on('connect', () => sub.subscribe('vigil/events/#', { qos: 1 }, () => r())));
    try {
      // The file unpaced and every detection its own short-lived track: events as fast as the detector goes.
      const body = [
        'log:\n  level: warn',
        'detect:\n  tracker: { min_hits: 1, max_age: 1 }',
        `mqtt:\n  url: ${broker.url}`,
        'media:\n  clips: { pre_roll_seconds: 0.5, post_roll_seconds: 0.5, max_seconds: 2 }\n  retention: { min_free_mb: 0 }',
        `cameras:\n  - id: yard\n    url: ${h264}\n    realtime: false\n    loop: true\n    zones:\n      - { id: all, polygon: [[0, 0], [768, 0], [768, 576], [0, 576]] }`,
      ].join('\n');
      daemon = await startDaemonProcess(`${body}\n`, 'crash', tempDir('vigil-crash-'));
      const dir = daemon.dir;
      await waitFor(() => acked.length >= 200, 90_000, '200 event messages');
      daemon.child.kill('SIGKILL');
      await new Promise((r) => daemon!.child.once('exit', r));
      await new Promise((r) => setTimeout(r, 200)); // messages still on their way to the subscriber
      const messages = acked.length;
      const db = new Database(`${dir}/vigil.db`);
      const rows = new Map(
        (
          db.prepare('SELECT id, ended_at AS endedAt FROM events').all() as Array<{
            id: number;
            endedAt: string | null;
          }>
        ).map((r) => [r.id, r]),
      );
      db.close();
      for (const m of acked) {
        const row = rows.get(m.id);
        expect(row, `event ${m.id} (${m.kind}) was published`).toBeDefined();
        if (m.kind === 'close') expect(row!.endedAt, `event ${m.id} was published closed`).not.toBeNull();
      }
      console.log(
        `crash test: ${messages} event messages published before SIGKILL, all ${new Set(acked.map((m) => m.id)).size} events in the database (${rows.size} rows)`,
      );
      // The kill cut files on their way: clips still recording (part files), maybe files before their rows.
      const cut = [...filesUnder(`${dir}/media`, true).keys()].filter((p) => !mediaRows(dir).has(p));
      // What each cut file held: an event whose row the kill lost gives its id to the next event
      // after the restart, whose new file may then take the same name.
      const cutBytes = new Map(cut.map((p) => [p, sha256(`${dir}/media/${p}`)]));
      expect(cut.some((p) => p.endsWith('.mp4.part'))).toBe(true);

      // Restart on the same data: events left open by the crash are closed, new ids follow the old ones.
      const maxBefore = Math.max(...rows.keys());
      daemon = await startDaemonProcess(`${body}\n`, 'crash', dir);
      const seen = acked.length;
      await waitFor(() => acked.length > seen + 5, 60_000, 'events after the restart');
      expect(acked.slice(seen).every((m) => m.id > maxBefore)).toBe(true);
      const after = new Database(`${dir}/vigil.db`, { readonly: true });
      const stillOpen = after
        .prepare('SELECT COUNT(*) AS n FROM events WHERE id <= ? AND ended_at IS NULL')
        .get(maxBefore) as { n: number };
      after.close();
      expect(stillOpen.n).toBe(0);
      // The restart made the media directory and the database agree (cut files deleted), and
      // after a clean stop they still do, file for file and byte for byte.
      for (const p of cut)
        expect(existsSync(`${dir}/media/${p}`) && sha256(`${dir}/media/${p}`) === cutBytes.get(p), p).toBe(false);
      await daemon.stop();
      const rowsAfter = mediaRows(dir);
      expect(rowsAfter.size).toBeGreaterThan(0);
      expect(filesUnder(`${dir}/media`, true)).toEqual(rowsAfter);
      console.log(
        `crash test: ${cut.length} cut media files (${cut.filter((p) => p.endsWith('.part')).length} clip parts) removed at restart; ${rowsAfter.size} files agree with the database after`,
      );
    } finally {
      await sub.endAsync();
    }
  }, 240_000);
});
