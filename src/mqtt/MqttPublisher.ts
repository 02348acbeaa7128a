import mqtt, { type MqttClient } from 'mqtt';

import { backoffDelay } from '../pipeline/backoff.js';
import { redactText, redactUrl } from '../util/redact.js';
import type { Logger } from '../util/logger.js';
import type { MqttConfig } from './mqttConfig.js';

interface Message {
  topic: string;
  payload: string;
  retain: boolean;
}

export interface MqttStats {
  url: string;
  connected: boolean;
  /** Waiting for the broker; dropped (oldest first) beyond queue_max while it was away. */
  queued: number;
  dropped: number;
  published: number;
  reconnects: number;
  lastError: string | null;
}

/**
 * Publishes to an MQTT broker: messages go out while connected and wait in a bounded queue
 * while not (the oldest dropped and counted beyond `queue_max`), in order. The connection is
 * retried with exponential backoff and jitter; `<prefix>/status` is `online` while connected
 * and `offline` otherwise (the broker publishes it as the will when the daemon vanishes).
 */
export class MqttPublisher {
  private readonly client: MqttClient;
  private readonly queue: Message[] = [];
  private inFlight = 0;
  private attempt = 0;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly counts = { dropped: 0, published: 0, reconnects: 0 };
  private lastError: string | null = null;

  constructor(
    private readonly cfg: MqttConfig,
    private readonly log: Logger,
  ) {
    const status = `${cfg.topic_prefix}/status`;
    this.client = mqtt.connect(cfg.url, {
      clientId: cfg.client_id ?? `vigil-${process.pid}`,
      username: cfg.username,
      password: cfg.password,
      reconnectPeriod: 0, // ours: backoff with jitter
      connectTimeout: 5000,
      will: { topic: status, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.client.on('connect', () => {
      if (this.attempt > 0) this.counts.reconnects++;
      this.attempt = 0;
      this.lastError = null;
      this.log.info({ url: redactUrl(cfg.url) }, 'MQTT connected');
      this.client.publish(status, 'online', { qos: 1, retain: true });
      this.drain();
    });
    this.client.on('error', (err) => {
      this.lastError = redactText(err.message, cfg.url); // shown in /api/health
    });
    this.client.on('close', () => this.scheduleReconnect());
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retry) return;
    const delay = backoffDelay(this.cfg.backoff, this.attempt++);
    this.log.warn(
      { url: redactUrl(this.cfg.url), retryMs: Math.round(delay), err: this.lastError },
      'MQTT broker unreachable; retrying',
    );
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.closed) this.client.reconnect();
    }, delay);
  }

  /** Queues a JSON message; `payload` null with `retain` clears the topic's retained message (an empty payload). */
  publish(topic: string, payload: unknown, retain = false): void {
    this.queue.push({
      topic: `${this.cfg.topic_prefix}/${topic}`,
      payload: payload === null && retain ? '' : JSON.stringify(payload),
      retain,
    });
    while (this.queue.length > this.cfg.queue_max) {
      this.queue.shift();
      this.counts.dropped++;
    }
    this.drain();
  }

  private drain(): void {
    while (this.client.connected && this.queue.length > 0 && this.inFlight < 64) {
      const m = this.queue.shift() as Message;
      this.inFlight++;
      this.client.publish(m.topic, m.payload, { qos: this.cfg.qos, retain: m.retain }, (err) => {
        this.inFlight--;
        if (err) {
          // Not acknowledged (the connection dropped): it goes out again first.
          this.queue.unshift(m);
          this.lastError = redactText(err.message, this.cfg.url);
        } else {
          this.counts.published++;
        }
        this.drain();
      });
    }
  }

  stats(): MqttStats {
    return {
      url: redactUrl(this.cfg.url),
      connected: this.client.connected,
      queued: this.queue.length + this.inFlight,
      ...this.counts,
      lastError: this.lastError,
    };
  }

  /** Sends what waits (for at most `waitMs` while connected), says offline, disconnects. */
  async close(waitMs = 3000): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const t0 = Date.now();
    while (this.client.connected && this.queue.length + this.inFlight > 0 && Date.now() - t0 < waitMs)
      await new Promise((r) => setTimeout(r, 10));
    if (this.client.connected) {
      await new Promise<void>((r) =>
        this.client.publish(`${this.cfg.topic_prefix}/status`, 'offline', { qos: 1, retain: true }, () => r()),
      );
    }
    await this.client.endAsync();
  }
}
