// The detector panel: each model the daemon runs (family, backend, precision, its cameras) and,
// for a calibrated INT8 model, its calibration report: method, layers kept in FP32, the ranges
// chosen per tensor (the most clipped first) and, where the report has it, INT8 against FP32.

import { el } from './dom.js';

interface UiModel {
  id: string;
  family: string;
  status: string;
  backend: string;
  precision: string | null;
  model: string | null;
  reason: string | null;
  fallback: string | null;
  cameras: string[];
}

interface Report {
  method: string;
  percentile: number | null;
  frames: number;
  int8Layers: number;
  totalLayers: number;
  keptFp32: string[];
  tensors: Array<{ tensor: string; absMax: number; threshold: number; saturation: number }>;
  agreement?: { map50: number; perClass?: Array<{ label: string; ap50: number; countDelta: number }> };
}

const row = (k: string, v: string) => el('tr', {}, el('th', {}, k), el('td', {}, v));

export class ModelsView {
  readonly el = el('section', { id: 'models', hidden: true });
  /** What the page shows, for tests: each model with its report (null: none). */
  shown: Array<UiModel & { report: Report | null }> = [];

  async open(): Promise<void> {
    const res = await fetch('/api/models');
    if (!res.ok) {
      this.el.replaceChildren(el('p', { className: 'note' }, `Could not load the models (${res.status})`));
      return;
    }
    const { models } = (await res.json()) as { models: UiModel[] };
    const shown = await Promise.all(
      models.map(async (m) => {
        const r = await fetch(`/api/models/${encodeURIComponent(m.id)}/calibration`);
        return { ...m, report: r.ok ? ((await r.json()) as Report) : null };
      }),
    );
    this.el.replaceChildren(...shown.map((m) => this.card(m)));
    this.shown = shown; // once drawn
  }

  private card(m: UiModel & { report: Report | null }): HTMLElement {
    const facts = el(
      'table',
      { className: 'facts' },
      row('family', m.family),
      row(
        'status',
        m.status === 'ready' ? `ready: ${m.backend}, ${m.precision}` : `${m.status}${m.reason ? `: ${m.reason}` : ''}`,
      ),
      row('cameras', m.cameras.join(', ') || 'none'),
    );
    if (m.fallback) facts.append(row('fallback', m.fallback));
    const card = el('article', { className: 'model' }, el('h2', {}, m.id), facts);
    card.dataset.model = m.id;
    const r = m.report;
    if (!r) {
      card.append(
        el('p', { className: 'note' }, m.precision === 'int8' ? 'no calibration report' : 'not calibrated (FP32)'),
      );
      return card;
    }
    const summary = el(
      'table',
      { className: 'facts calibration' },
      row('method', r.percentile ? `${r.method} (${r.percentile} %)` : r.method),
      row('frames', String(r.frames)),
      row('INT8 layers', `${r.int8Layers} of ${r.totalLayers} (${r.keptFp32.length} kept FP32)`),
    );
    if (r.agreement) summary.append(row('INT8 vs FP32', `mAP@0.5 ${r.agreement.map50.toFixed(3)}`));
    card.append(el('h3', {}, 'Calibration'), summary);
    const clipped = [...r.tensors].sort((a, b) => b.saturation - a.saturation).slice(0, 8);
    card.append(
      el('h3', {}, 'Ranges, most clipped first'),
      el(
        'table',
        { className: 'ranges' },
        el('tr', {}, el('th', {}, 'tensor'), el('th', {}, '|x| max'), el('th', {}, 'range'), el('th', {}, 'clipped')),
        ...clipped.map((t) =>
          el(
            'tr',
            {},
            el('td', {}, t.tensor),
            el('td', {}, t.absMax.toPrecision(4)),
            el('td', {}, t.threshold.toPrecision(4)),
            el('td', {}, `${(t.saturation * 100).toFixed(3)} %`),
          ),
        ),
      ),
    );
    const classes = r.agreement?.perClass ?? [];
    if (classes.length)
      card.append(
        el('h3', {}, 'Per class, INT8 against FP32'),
        el(
          'table',
          { className: 'ranges' },
          el('tr', {}, el('th', {}, 'class'), el('th', {}, 'AP@0.5'), el('th', {}, 'count Δ')),
          ...classes.map((c) =>
            el('tr', {}, el('td', {}, c.label), el('td', {}, c.ap50.toFixed(3)), el('td', {}, String(c.countDelta))),
          ),
        ),
      );
    return card;
  }
}
