import type { BinaryMessage } from '../../src/protocol/binary.js';
import type { BudgetEventMessage, CameraInfo, CameraLive } from '../../src/protocol/control.js';
import { LatencyPanel } from './LatencyPanel.js';
import { Overlay } from './Overlay.js';
import { Player } from './Player.js';

/** One camera in the grid: live video (or snapshots when it cannot pass through), overlay, health. */
export class Tile {
  readonly el: HTMLElement;
  readonly player: Player | null;
  readonly overlay: Overlay;
  private readonly caption: HTMLElement;
  private readonly img: HTMLImageElement | null = null;
  private snapshotTimer = 0;
  private health: CameraLive | null = null;
  /** Boxes drawn by the browser over the camera's video, or burned in by the daemon. */
  mode: 'video' | 'annotated' = 'video';
  private readonly canvas: HTMLCanvasElement;
  private readonly toggle: HTMLButtonElement;
  readonly latency = new LatencyPanel();

  /** `resubscribe` asks the daemon for the other stream when the viewer switches. */
  constructor(
    readonly info: CameraInfo,
    private readonly resubscribe: (annotated: boolean) => void,
  ) {
    this.el = document.createElement('figure');
    this.el.className = 'tile';
    this.el.dataset.camera = info.id;
    const stage = document.createElement('div');
    stage.className = 'stage';
    const canvas = (this.canvas = document.createElement('canvas'));
    if (info.video === 'passthrough' || info.video?.startsWith('transcode')) {
      const video = document.createElement('video');
      stage.append(video);
      this.player = new Player(video);
      this.overlay = new Overlay(canvas, video);
    } else {
      // No video for this camera (no encoder available): the newest frame as a JPEG.
      this.img = document.createElement('img');
      this.img.alt = info.name;
      stage.append(this.img);
      this.player = null;
      this.overlay = new Overlay(canvas, null);
      const refresh = () => {
        this.img!.src = `/api/cameras/${encodeURIComponent(info.id)}/snapshot.jpg?quality=80&t=${Date.now()}`;
      };
      refresh();
      this.snapshotTimer = window.setInterval(refresh, 500);
    }
    stage.append(canvas);
    this.caption = document.createElement('figcaption');
    this.toggle = document.createElement('button');
    this.toggle.className = 'mode';
    this.toggle.hidden = !this.player;
    this.toggle.addEventListener('click', (ev) => {
      ev.stopPropagation(); // not a click on the tile (single view)
      this.setMode(this.mode === 'video' ? 'annotated' : 'video');
    });
    this.el.append(stage, this.caption, this.latency.el);
    this.render();
  }

  setMode(mode: 'video' | 'annotated'): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.player?.restart();
    this.overlay.clear();
    this.canvas.hidden = mode === 'annotated'; // the boxes are in the picture
    this.resubscribe(mode === 'annotated');
    this.render();
  }

  message(m: BinaryMessage): void {
    if (m.kind !== 'detections' && m.annotated !== (this.mode === 'annotated')) return; // the other stream, before the switch took
    if (m.kind === 'init') {
      this.overlay.clear();
      this.player?.init(m.session, m.mime, m.data);
    } else if (m.kind === 'fragment') {
      this.player?.fragment(m.session, m.ptsUs, m.data);
    } else {
      if (this.mode === 'video')
        this.overlay.add({
          receivedMs: performance.now(),
          ptsUs: m.ptsUs,
          width: m.width,
          height: m.height,
          boxes: m.boxes,
        });
    }
  }

  setHealth(h: CameraLive): void {
    this.health = h;
    this.latency.update(h);
    this.render();
  }

  budgetEvent(ev: BudgetEventMessage): void {
    this.latency.event(ev);
  }

  close(): void {
    window.clearInterval(this.snapshotTimer);
    this.player?.close();
    this.overlay.stop();
    this.el.remove();
  }

  private render(): void {
    const h = this.health;
    const p = this.player?.stats;
    const parts: Array<[string, string]> = [['name', this.info.name]];
    if (h) {
      parts.push([`state-${h.state}`, h.state], ['', `${h.fps.toFixed(1)} fps`], ['', `${h.drops} drops`]);
      if (h.detectFps !== null)
        parts.push(['', `detect ${h.detectFps.toFixed(1)}/s${h.inferMs !== null ? `, ${h.inferMs} ms` : ''}`]);
      const objects = Object.entries(h.objects)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');
      if (objects) parts.push(['', objects]);
    }
    if (p)
      parts.push([
        '',
        `live −${p.behindMs} ms${p.rate !== 1 ? ` ×${p.rate}` : ''}${p.jumps ? `, ${p.jumps} jumps` : ''}`,
      ]);
    if (this.info.video !== 'passthrough')
      parts.push(['note', this.player ? this.info.video! : `snapshots: ${this.info.video ?? 'no video'}`]);
    this.toggle.textContent = this.mode === 'video' ? 'boxes: browser' : 'boxes: burned in';
    this.toggle.title = 'Switch between boxes drawn by the browser and boxes burned into the video by the daemon';
    this.caption.replaceChildren(
      ...parts.map(([cls, text]) => {
        const s = document.createElement('span');
        s.className = cls;
        s.textContent = text;
        return s;
      }),
      this.toggle,
    );
  }
}
