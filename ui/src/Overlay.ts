import { COCO_LABELS } from '../../src/protocol/cocoLabels.js';
import type { BoxRecord } from '../../src/protocol/binary.js';

interface Batch {
  /** performance.now() when the detections arrived. */
  receivedMs: number;
  /** Drawn over their own frame already (its received → drawn time is reported once). */
  drawn?: boolean;
  ptsUs: number;
  width: number;
  height: number;
  boxes: BoxRecord[];
}

export interface OverlayStats {
  /** Frames drawn with the detections of exactly that frame (pts within 2 ms). */
  exact: number;
  /** Frames drawn with an earlier frame's detections (the detector skipped this one). */
  held: number;
  /** Frames with no detections recent enough to draw. */
  empty: number;
  /** Of `exact`: frames whose detections arrived after the frame was presented (then drawn). */
  late: number;
  /** The last drawn frame: its pts, the pts of the detections drawn on it, and their boxes. */
  last: { framePtsUs: number; batchPtsUs: number | null; boxes: number } | null;
}

const HOLD_US = 400_000; // detections of an earlier frame stay drawn this long
const EXACT_US = 2_000;
const COLORS = ['#4f4', '#4cf', '#fc4', '#f6c', '#f84', '#8ff'];

/**
 * Detection boxes drawn over the video on the frame they belong to: each time the browser
 * presents a frame (requestVideoFrameCallback), the batch whose pts equals that frame's pts is
 * drawn, not the newest to arrive. An image tile (no video) draws the newest batch instead.
 */
export class Overlay {
  readonly stats: OverlayStats = { exact: 0, held: 0, empty: 0, late: 0, last: null };
  private batches: Batch[] = [];
  /** The frame on screen and whether its own detections are drawn on it. */
  private shown: { ptsUs: number; kind: 'exact' | 'held' | 'empty' } | null = null;
  private readonly ctx: CanvasRenderingContext2D;
  private stopped = false;
  /** Received → drawn over their own frame (ms), per batch, until taken by drawnSamples(). */
  private drawnMs: number[] = [];

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly video: HTMLVideoElement | null,
  ) {
    this.ctx = canvas.getContext('2d')!;
    if (video && 'requestVideoFrameCallback' in video) {
      const onFrame = (_now: number, meta: VideoFrameCallbackMetadata) => {
        if (this.stopped) return;
        this.drawFor(Math.round(meta.mediaTime * 1e6));
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }

  /** The received → drawn times (ms) since the last call: the browser's stamp the daemon keeps per camera. */
  drawnSamples(): number[] {
    const out = this.drawnMs;
    this.drawnMs = [];
    return out;
  }

  private stamp(batch: Batch): void {
    if (batch.drawn) return;
    batch.drawn = true;
    if (this.drawnMs.length < 500) this.drawnMs.push(Math.round((performance.now() - batch.receivedMs) * 10) / 10);
  }

  add(batch: Batch): void {
    this.batches.push(batch);
    this.batches.sort((a, b) => a.ptsUs - b.ptsUs);
    if (this.batches.length > 120) this.batches.splice(0, this.batches.length - 120);
    if (!this.video) {
      this.draw(batch, batch.width, batch.height);
      return this.stamp(batch);
    }
    // The detections of the frame already on screen came in after it was presented: draw them now.
    const shown = this.shown;
    if (shown && shown.kind !== 'exact' && Math.abs(batch.ptsUs - shown.ptsUs) <= EXACT_US) {
      this.stats[shown.kind]--;
      this.stats.exact++;
      this.stats.late++;
      shown.kind = 'exact';
      this.stats.last = { framePtsUs: shown.ptsUs, batchPtsUs: batch.ptsUs, boxes: batch.boxes.length };
      this.draw(batch, this.video.videoWidth, this.video.videoHeight);
      this.stamp(batch);
    }
  }

  /** A new session: its timeline starts over. */
  clear(): void {
    this.batches = [];
    this.shown = null;
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  stop(): void {
    this.stopped = true;
  }

  private drawFor(framePtsUs: number): void {
    let best: Batch | null = null;
    for (const b of this.batches) if (b.ptsUs <= framePtsUs + EXACT_US) best = b;
    let kind: 'exact' | 'held' | 'empty' = 'empty';
    if (best && Math.abs(best.ptsUs - framePtsUs) <= EXACT_US) kind = 'exact';
    else if (best && framePtsUs - best.ptsUs <= HOLD_US) kind = 'held';
    else best = null;
    this.stats[kind]++;
    this.shown = { ptsUs: framePtsUs, kind };
    this.stats.last = { framePtsUs, batchPtsUs: best?.ptsUs ?? null, boxes: best?.boxes.length ?? 0 };
    this.draw(best, this.video!.videoWidth, this.video!.videoHeight);
    if (kind === 'exact') this.stamp(best!);
  }

  private draw(batch: Batch | null, width: number, height: number): void {
    const { canvas, ctx } = this;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    ctx.clearRect(0, 0, width, height);
    if (!batch) return;
    const sx = width / batch.width;
    const sy = height / batch.height;
    ctx.lineWidth = Math.max(2, width / 320);
    ctx.font = `${Math.max(12, Math.round(width / 48))}px system-ui, sans-serif`;
    ctx.textBaseline = 'bottom';
    for (const b of batch.boxes) {
      const color = COLORS[b.classId % COLORS.length]!;
      const x = b.x1 * sx;
      const y = b.y1 * sy;
      ctx.strokeStyle = color;
      ctx.strokeRect(x, y, (b.x2 - b.x1) * sx, (b.y2 - b.y1) * sy);
      const label = `${COCO_LABELS[b.classId] ?? b.classId}${b.trackId ? ` #${b.trackId}` : ''} ${Math.round(b.score * 100)}%`;
      const w = ctx.measureText(label).width + 6;
      const h = parseInt(ctx.font, 10) + 4;
      ctx.fillStyle = color;
      ctx.fillRect(x, Math.max(0, y - h), w, h);
      ctx.fillStyle = '#000';
      ctx.fillText(label, x + 3, Math.max(h, y) - 2);
    }
  }
}
