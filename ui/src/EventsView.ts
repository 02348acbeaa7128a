// The events page: filters (camera, kind, zone/line, class, time range), a list of events with
// their snapshot (best box drawn over it), and the clip of the one chosen, played in place.

import type { EventMessage } from '../../src/protocol/control.js';
import { el } from './dom.js';

/** An event as GET /api/events gives it: the event, with its files as URLs. */
export interface UiEvent extends EventMessage {
  snapshot: { url: string; box: EventMessage['bestBox']; width: number; height: number; score: number } | null;
  clip: { url: string; durationMs: number; startedAt: string } | null;
}

const time = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });

function duration(ev: UiEvent): string {
  if (ev.type === 'line') return ev.direction === 'left_to_right' ? 'crossed →' : 'crossed ←';
  if (!ev.endedAt) return 'open';
  const s = (Date.parse(ev.endedAt) - Date.parse(ev.startedAt)) / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A snapshot with the event's box over it (as percentages: it scales with the image). */
function thumbnail(ev: UiEvent): HTMLElement {
  const wrap = el('div', { className: 'thumb' });
  if (!ev.snapshot) {
    wrap.append(el('span', { className: 'note' }, 'no snapshot'));
    return wrap;
  }
  const { box, width, height } = ev.snapshot;
  const img = el('img', { src: ev.snapshot.url, alt: `${ev.label} in ${ev.zone}`, loading: 'lazy' });
  const mark = el('div', { className: 'box' });
  Object.assign(mark.style, {
    left: `${(box.x1 / width) * 100}%`,
    top: `${(box.y1 / height) * 100}%`,
    width: `${((box.x2 - box.x1) / width) * 100}%`,
    height: `${((box.y2 - box.y1) / height) * 100}%`,
  });
  wrap.append(img, mark);
  return wrap;
}

export class EventsView {
  readonly el: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly list: HTMLElement;
  private readonly more: HTMLButtonElement;
  private readonly player: HTMLElement;
  private readonly status: HTMLElement;
  private next: number | null = null;
  private fresh = 0;
  private readonly freshButton: HTMLButtonElement;
  private query = '';
  /** What the list shows (tests read it through window.vigil). */
  shown: UiEvent[] = [];

  constructor(private readonly admin: () => boolean) {
    const cameras = el('select', { name: 'camera' }, el('option', { value: '' }, 'all cameras'));
    this.form = el(
      'form',
      { className: 'filters' },
      el('label', {}, 'Camera ', cameras),
      el(
        'label',
        {},
        'Kind ',
        el(
          'select',
          { name: 'type' },
          el('option', { value: '' }, 'zones and lines'),
          el('option', { value: 'zone' }, 'zones'),
          el('option', { value: 'line' }, 'lines'),
        ),
      ),
      el('label', {}, 'Zone/line ', el('input', { name: 'zone', placeholder: 'any', size: 10 })),
      el('label', {}, 'Class ', el('input', { name: 'label', placeholder: 'any (person, car…)', size: 12 })),
      el('label', {}, 'From ', el('input', { name: 'from', type: 'datetime-local' })),
      el('label', {}, 'To ', el('input', { name: 'to', type: 'datetime-local' })),
      el('button', { type: 'submit' }, 'Show'),
    );
    this.status = el('p', { className: 'note', role: 'status' });
    this.freshButton = el('button', { className: 'fresh', hidden: true });
    this.freshButton.addEventListener('click', () => void this.load());
    this.list = el('ol', { className: 'event-list' });
    this.more = el('button', { hidden: true }, 'More');
    this.player = el('aside', { className: 'event-player', hidden: true });
    this.el = el(
      'section',
      { id: 'events', hidden: true },
      this.form,
      el('div', { className: 'statusbar' }, this.status, this.freshButton),
      el('div', { className: 'events-body' }, el('div', {}, this.list, this.more), this.player),
    );
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.load();
    });
    this.more.addEventListener('click', () => void this.page());
  }

  /** Fills the camera filter and shows the newest events. */
  async open(cameras: Array<{ id: string; name: string }>): Promise<void> {
    const select = this.form.elements.namedItem('camera') as HTMLSelectElement;
    const chosen = select.value;
    select.replaceChildren(
      el('option', { value: '' }, 'all cameras'),
      ...cameras.map((c) => el('option', { value: c.id }, c.name)),
    );
    select.value = chosen;
    await this.load();
  }

  /** An event opened (live WebSocket): offer to show it. */
  announce(): void {
    this.fresh++;
    this.freshButton.textContent = `${this.fresh} new event${this.fresh === 1 ? '' : 's'}: show`;
    this.freshButton.hidden = false;
  }

  private async load(): Promise<void> {
    this.fresh = 0;
    this.freshButton.hidden = true;
    const f = new FormData(this.form);
    const q = new URLSearchParams();
    for (const k of ['camera', 'type', 'zone', 'label']) {
      const v = String(f.get(k) ?? '').trim();
      if (v) q.set(k, v);
    }
    for (const k of ['from', 'to']) {
      const v = String(f.get(k) ?? '');
      if (v) q.set(k, new Date(v).toISOString()); // the browser's local time, as the API wants it (ISO)
    }
    q.set('limit', '50');
    this.query = q.toString();
    this.next = null;
    this.shown = [];
    this.list.replaceChildren();
    await this.page();
  }

  private async page(): Promise<void> {
    const res = await fetch(`/api/events?${this.query}${this.next ? `&before=${this.next}` : ''}`);
    const body = (await res.json().catch(() => ({}))) as { events?: UiEvent[]; next?: number | null; message?: string };
    if (!res.ok || !body.events) {
      this.status.textContent = body.message ?? `Could not load events (${res.status})`;
      this.status.classList.add('error');
      return;
    }
    this.status.classList.remove('error');
    this.next = body.next ?? null;
    this.more.hidden = this.next === null;
    for (const ev of body.events) this.list.append(this.card(ev));
    this.shown.push(...body.events);
    this.status.textContent =
      this.shown.length === 0
        ? 'No events match.'
        : `${this.shown.length} event${this.shown.length === 1 ? '' : 's'}${this.next ? ' (more below)' : ''}`;
  }

  private card(ev: UiEvent): HTMLElement {
    const li = el(
      'li',
      { className: `event ${ev.type}` },
      thumbnail(ev),
      el(
        'div',
        { className: 'facts' },
        el('strong', {}, `${ev.label} #${ev.trackId}`),
        el('span', {}, `${ev.camera} · ${ev.type} ${ev.zone}`),
        el('span', {}, `${time(ev.startedAt)} · ${duration(ev)}`),
        el('span', { className: 'note' }, `score ${ev.bestScore.toFixed(2)}${ev.clip ? '' : ' · no clip yet'}`),
      ),
    );
    li.dataset.id = String(ev.id);
    li.addEventListener('click', () => this.play(ev));
    return li;
  }

  /** The event's clip (or its snapshot when it has none), with its facts and, for an admin, delete. */
  play(ev: UiEvent): void {
    for (const c of this.list.children) c.classList.toggle('chosen', (c as HTMLElement).dataset.id === String(ev.id));
    const media = ev.clip
      ? el('video', { src: ev.clip.url, controls: true, autoplay: true, muted: true, playsInline: true })
      : thumbnail(ev);
    const del = el('button', { hidden: !this.admin() }, 'Delete');
    del.addEventListener('click', async () => {
      if (!confirm(`Delete event ${ev.id} with its snapshot and clip?`)) return;
      const res = await fetch(`/api/events/${ev.id}`, { method: 'DELETE' });
      if (res.status !== 204) return void (this.status.textContent = `Could not delete event ${ev.id} (${res.status})`);
      this.list.querySelector(`[data-id="${ev.id}"]`)?.remove();
      this.shown = this.shown.filter((e) => e.id !== ev.id);
      this.player.hidden = true;
      this.player.replaceChildren();
    });
    this.player.replaceChildren(
      media,
      el('p', {}, `${ev.label} #${ev.trackId} — ${ev.camera}, ${ev.type} ${ev.zone}`),
      el(
        'p',
        { className: 'note' },
        `${time(ev.startedAt)} · ${duration(ev)}${ev.clip ? ` · clip ${(ev.clip.durationMs / 1000).toFixed(1)} s from ${time(ev.clip.startedAt)}` : ''}`,
      ),
      del,
    );
    this.player.hidden = false;
  }
}
