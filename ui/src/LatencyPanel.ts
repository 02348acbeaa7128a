import type { BudgetEventMessage, CameraLive, CameraStages } from '../../src/protocol/control.js';

/** The stages of a frame as the panel shows them, first packet → overlay drawn. */
const STAGES: Array<{ key: keyof CameraStages; label: string; color: string }> = [
  { key: 'decode', label: 'decode', color: '#4cf' },
  { key: 'queue_preprocess', label: 'queue+pre', color: '#fc4' },
  { key: 'infer', label: 'infer', color: '#f6c' },
  { key: 'postprocess', label: 'post', color: '#c8f' },
  { key: 'send', label: 'send', color: '#8f8' },
  { key: 'display', label: 'display', color: '#bbb' },
];
const POINTS = 120; // one a second: the chart's last two minutes

/**
 * One camera's latency: where a frame's time goes (p50 of each stage as a stacked bar, p50/p99
 * in figures), a chart of packet → detections p50/p99 over the last two minutes against the
 * budget, the budget's state and policy, drops by reason, and the latest breaches/recoveries.
 */
export class LatencyPanel {
  readonly el = document.createElement('section');
  private readonly bar = document.createElement('div');
  private readonly figures = document.createElement('div');
  private readonly chart = document.createElement('canvas');
  private readonly budgetLine = document.createElement('div');
  private readonly events = document.createElement('ol');
  private readonly history: Array<{ p50: number; p99: number } | null> = [];
  private budgetMs: number | null = null;
  private lastEvent: BudgetEventMessage | null = null;
  private budgetState: string | null = null;

  constructor() {
    this.el.className = 'latency';
    this.bar.className = 'stages';
    this.figures.className = 'figures';
    this.chart.className = 'chart';
    this.chart.width = 360;
    this.chart.height = 60;
    this.budgetLine.className = 'budget';
    this.events.className = 'events';
    this.el.append(this.bar, this.figures, this.chart, this.budgetLine, this.events);
  }

  /** For tests: what the panel shows. */
  state() {
    return {
      points: this.history.filter(Boolean).length,
      budget: this.budgetState,
      lastEvent: this.lastEvent,
      stages: this.bar.childElementCount,
    };
  }

  update(h: CameraLive): void {
    const st = h.stages;
    this.history.push(st?.total ? { p50: st.total.p50, p99: st.total.p99 } : null);
    if (this.history.length > POINTS) this.history.shift();
    this.budgetMs = h.budget?.ms ?? null;
    this.renderStages(h);
    this.renderChart();
    this.renderBudget(h);
  }

  event(ev: BudgetEventMessage): void {
    this.lastEvent = ev;
    const li = document.createElement('li');
    li.className = ev.kind;
    const time = new Date(ev.at).toLocaleTimeString();
    li.textContent =
      ev.kind === 'breach'
        ? `${time} budget ${ev.budgetMs} ms breached (${ev.latencyMs} ms), ${ev.policy.replace('_', ' ')} engaged`
        : `${time} back within ${ev.budgetMs} ms after ${((ev.durationMs ?? 0) / 1000).toFixed(1)} s, ${ev.dropped ?? 0} frames dropped by the policy`;
    this.events.prepend(li);
    while (this.events.childElementCount > 3) this.events.lastElementChild!.remove();
  }

  private renderStages(h: CameraLive): void {
    const st = h.stages;
    const shown = STAGES.filter((s) => st?.[s.key]);
    const sum = shown.reduce((a, s) => a + st![s.key]!.p50, 0) || 1;
    this.bar.replaceChildren(
      ...shown.map((s) => {
        const seg = document.createElement('span');
        const v = st![s.key]!;
        seg.style.flexGrow = String(Math.max(v.p50 / sum, 0.02));
        seg.style.background = s.color;
        seg.title = `${s.label}: p50 ${v.p50} ms, p95 ${v.p95} ms, p99 ${v.p99} ms (${v.n} frames)`;
        return seg;
      }),
    );
    this.figures.replaceChildren(
      ...shown.map((s) => {
        const f = document.createElement('span');
        const v = st![s.key]!;
        f.innerHTML = `<i style="background:${s.color}"></i>${s.label} ${v.p50}/${v.p99}`;
        return f;
      }),
      ...(st?.total
        ? [
            Object.assign(document.createElement('b'), {
              textContent: `packet→boxes ${st.total.p50}/${st.total.p95}/${st.total.p99} ms (p50/p95/p99)`,
            }),
          ]
        : []),
      ...(h.intervalMs
        ? [
            Object.assign(document.createElement('span'), {
              textContent: `frame interval ${h.intervalMs.p50}/${h.intervalMs.p99} ms, jitter ${h.jitterMs} ms`,
            }),
          ]
        : []),
    );
  }

  private renderChart(): void {
    const { chart } = this;
    const ctx = chart.getContext('2d')!;
    const w = chart.width;
    const h = chart.height;
    ctx.clearRect(0, 0, w, h);
    const values = this.history.flatMap((p) => (p ? [p.p99] : []));
    const top = Math.max(this.budgetMs ?? 0, ...values, 1) * 1.15;
    const y = (ms: number) => h - (ms / top) * h;
    const x = (i: number) => (i / (POINTS - 1)) * w;
    const offset = POINTS - this.history.length;
    for (const [key, color] of [
      ['p99', '#f84'],
      ['p50', '#4f4'],
    ] as const) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let pen = false;
      this.history.forEach((p, i) => {
        if (!p) return void (pen = false);
        if (pen) ctx.lineTo(x(offset + i), y(p[key]));
        else ctx.moveTo(x(offset + i), y(p[key]));
        pen = true;
      });
      ctx.stroke();
    }
    if (this.budgetMs !== null) {
      ctx.strokeStyle = '#f44';
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(0, y(this.budgetMs));
      ctx.lineTo(w, y(this.budgetMs));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.fillStyle = '#888';
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillText(`${Math.round(top)} ms`, 2, 10);
  }

  private renderBudget(h: CameraLive): void {
    const b = h.budget;
    this.budgetState = b ? b.state : null;
    const drops = Object.entries(h.dropReasons ?? {})
      .filter(([, n]) => n > 0)
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    this.budgetLine.className = `budget ${b?.state ?? 'none'}`;
    this.budgetLine.textContent = [
      b
        ? `budget ${b.ms} ms: ${b.state === 'breach' ? 'BREACHED' : 'kept'} · ${b.policy.replace('_', ' ')}${b.engaged ? ' (engaged)' : ''} · ${b.breaches} breach${b.breaches === 1 ? '' : 'es'}`
        : 'no budget',
      drops ? `not inferred: ${drops}` : '',
    ]
      .filter(Boolean)
      .join(' · ');
  }
}
