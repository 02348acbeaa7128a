import { join } from 'node:path';

import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { Daemon } from '../../src/daemon/Daemon.js';
import { fp32OnnxPath } from '../../src/model/importModel.js';
import type { MqttStats } from '../../src/mqtt/MqttPublisher.js';
import { api, startDaemon, waitFor } from '../helpers/daemon.js';
import { ensureClip } from '../helpers/fixtures.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/rtspServer.js';

let running: Daemon | null = null;
let broker: Mosquitto | null = null;
let h264 = '';
beforeAll(async () => {
  h264 = await ensureClip('h264');
  fp32OnnxPath();
}, 300_000);

afterEach(async () => {
  await running?.close();
  running = null;
  await broker?.stop();
  broker = null;
});

const ZONE = {
  id: 'all',
  polygon: [
    [0, 0],
    [768, 0],
    [768, 576],
    [0, 576],
  ],
  classes: ['person'],
};
const mqttHealth = async (url: string) => ((await (await api(url, '/api/health')).json()) as { mqtt: MqttStats }).mqtt;

describe('MQTT', () => {
  it('publishes stored events and camera states to a real broker; keeps them while it is down and sends them when it is back', async () => {
    // A persistent session: what the daemon sends after the broker's restart waits for the
    // subscriber, whichever of the two reconnects first (on a loaded box either may).
    broker = await Mosquitto.start({ persistent: true });
    const sub = mqtt.connect(broker.url, { reconnectPeriod: 100, clientId: 'test-sub', clean: false });
    const got: Array<{ topic: string; body: Record<string, unknown> | string; retain: boolean }> = [];
    sub.on('message', (topic, payload, packet) => {
      const text = payload.toString();
      got.push({
        topic,
        body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : text,
        retain: packet.retain,
      });
    });
    await new Promise<void>((r) => sub.on('connect', () => sub.subscribe('vigil/#', { qos: 1 }, () => r())));
    try {
      const { daemon, url } = await startDaemon([{ id: 'yard', url: h264, loop: true, zones: [ZONE] }], {
        detect: { enabled: true, tracker: { min_hits: 2, max_age: 5 } },
        mqtt: { url: broker.url, backoff: { initial_ms: 1000, max_ms: 1000, jitter: 0 } },
      });
      running = daemon;
      const eventIds = () =>
        new Set(got.filter((m) => m.topic === 'vigil/events/yard').map((m) => (m.body as { id: number }).id));
      await waitFor(() => got.some((m) => m.topic === 'vigil/status' && m.body === 'online'), 10_000, 'online status');
      await waitFor(
        () =>
          got.some(
            (m) => m.topic === 'vigil/cameras/yard/state' && (m.body as { state: string }).state === 'streaming',
          ),
        10_000,
        'the camera state',
      );
      await waitFor(() => eventIds().size >= 3, 60_000, 'events over MQTT');
      const ev = got.find((m) => m.topic === 'vigil/events/yard')!.body as Record<string, unknown>;
      expect(ev).toMatchObject({ camera: 'yard', zone: 'all', label: 'person' });
      expect(['open', 'close']).toContain(ev.kind);

      // The broker goes down: events go on being stored, their messages wait.
      await broker.stop('SIGTERM');
      await waitFor(async () => !(await mqttHealth(url)).connected, 10_000, 'the daemon to notice');
      const before = eventIds().size;
      await waitFor(
        async () => (await mqttHealth(url)).queued >= 3,
        60_000,
        'messages queued while the broker is down',
      );
      // Back: everything queued goes out, in order, after the subscriber is back.
      await broker.launch();
      await waitFor(
        async () => {
          const h = await mqttHealth(url);
          return h.connected && h.queued === 0 && h.reconnects >= 1;
        },
        30_000,
        'the queue to drain',
      );
      await waitFor(() => eventIds().size > before, 10_000, 'events stored while the broker was down');
      const h = await mqttHealth(url);
      expect(h.dropped).toBe(0);

      // Every event the database holds was published (the last states come with the stop).
      await daemon.close();
      running = null;
      const db = new Database(join(daemon.config.data_dir!, 'vigil.db'), { readonly: true });
      const stored = (db.prepare('SELECT id FROM events').all() as Array<{ id: number }>).map((r) => r.id);
      db.close();
      // The last messages are on their way to the subscriber: wait for the 'offline' that ends them, not a fixed time.
      const closed = () =>
        new Set(
          got
            .filter((m) => m.topic === 'vigil/events/yard' && (m.body as { kind: string }).kind === 'close')
            .map((m) => (m.body as { id: number }).id),
        );
      await waitFor(
        () => stored.every((id) => closed().has(id)) && got.at(-1)?.body === 'offline',
        20_000,
        "every stored event's close and the 'offline' status at the stop",
      ).catch((err: Error) => {
        throw new Error(
          `${err.message}: no close for ${JSON.stringify(stored.filter((id) => !closed().has(id)))}, last ${JSON.stringify(got.at(-1))}, stats ${JSON.stringify(daemon.mqtt?.stats())}`,
        );
      });
      expect(stored.length).toBeGreaterThanOrEqual(4);
      expect([...eventIds()].sort((a, b) => a - b)).toEqual(stored.sort((a, b) => a - b));
      const closes = closed();
      expect(stored.every((id) => closes.has(id))).toBe(true);
      expect(got.at(-1)).toMatchObject({ topic: 'vigil/status', body: 'offline' });
    } finally {
      await sub.endAsync();
    }
  }, 180_000);

  it('without a broker: a bounded queue drops the oldest and counts them; health says why', async () => {
    const port = await freePort();
    const { daemon, url } = await startDaemon([{ id: 'yard', url: h264, loop: true, zones: [ZONE] }], {
      detect: { enabled: true, tracker: { min_hits: 2, max_age: 5 } },
      mqtt: { url: `mqtt://127.0.0.1:${port}`, queue_max: 2, backoff: { initial_ms: 200, max_ms: 400 } },
    });
    running = daemon;
    await waitFor(async () => (await mqttHealth(url)).dropped >= 1, 60_000, 'drops beyond queue_max');
    const h = await mqttHealth(url);
    expect(h).toMatchObject({ connected: false, queued: 2, published: 0 });
    expect(h.lastError).toMatch(/ECONNREFUSED/);
  }, 90_000);

  it('rejects a bad MQTT config with the field named', async () => {
    await expect(startDaemon([], { mqtt: { url: 'http://broker' } })).rejects.toThrow(
      /mqtt:\/\/ or mqtts:\/\/ URL.*mqtt\.url|mqtt\.url/,
    );
    await expect(startDaemon([], { mqtt: { url: 'mqtt://b', topic_prefix: 'a/#' } })).rejects.toThrow(
      /mqtt\.topic_prefix/,
    );
  });
});
