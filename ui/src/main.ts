import type { CameraInfo } from '../../src/protocol/control.js';
import { EventsView, type UiEvent } from './EventsView.js';
import { LiveConnection } from './LiveConnection.js';
import { ModelsView } from './ModelsView.js';
import { Tile } from './Tile.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const grid = $<HTMLElement>('grid');
const tiles = new Map<number, Tile>();
let conn: LiveConnection | null = null;
let role = '';
let cameraList: CameraInfo[] = [];
const eventsView = new EventsView(() => role === 'admin');
const modelsView = new ModelsView();
grid.after(eventsView.el, modelsView.el);

/** #events shows the events page, #models the detector panel, anything else the live grid. */
function route(): void {
  const page =
    role === '' ? 'live' : location.hash === '#events' ? 'events' : location.hash === '#models' ? 'models' : 'live';
  grid.hidden = page !== 'live';
  eventsView.el.hidden = page !== 'events';
  modelsView.el.hidden = page !== 'models';
  $('nav-live').classList.toggle('current', page === 'live');
  $('nav-events').classList.toggle('current', page === 'events');
  $('nav-models').classList.toggle('current', page === 'models');
  if (page === 'events') void eventsView.open(cameraList.map((c) => ({ id: c.id, name: c.name })));
  if (page === 'models') void modelsView.open();
}
window.addEventListener('hashchange', route);

// For tests and for anyone curious: live state of every tile.
declare global {
  interface Window {
    vigil: {
      tiles: () => Record<
        string,
        { mode: string; player: unknown; overlay: unknown; currentTime: number | null; latency: unknown }
      >;
      events: () => UiEvent[];
      models: () => ModelsView['shown'];
    };
  }
}
window.vigil = {
  tiles: () =>
    Object.fromEntries(
      [...tiles.values()].map((t) => [
        t.info.id,
        {
          mode: t.mode,
          player: t.player?.stats ?? null,
          overlay: t.overlay.stats,
          currentTime: t.player?.video.currentTime ?? null,
          latency: t.latency.state(),
        },
      ]),
    ),
  events: () => eventsView.shown,
  models: () => modelsView.shown,
};

function showLogin(message = ''): void {
  conn?.close();
  conn = null;
  for (const t of tiles.values()) t.close();
  tiles.clear();
  role = '';
  route();
  $('nav').hidden = true;
  $('login').hidden = false;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login-error').textContent = message;
}

function buildGrid(cameras: CameraInfo[]): void {
  const first = cameraList.length === 0;
  cameraList = cameras;
  if (first && location.hash === '#events') route();
  const same = cameras.length === tiles.size && cameras.every((c) => tiles.get(c.index)?.info.video === c.video);
  if (!same) {
    for (const t of tiles.values()) t.close();
    tiles.clear();
    for (const c of cameras) {
      const tile = new Tile(c, (annotated) => conn?.send({ type: 'subscribe', camera: c.id, annotated }));
      tile.el.addEventListener('click', () => {
        const single = !grid.classList.contains('single');
        grid.classList.toggle('single', single);
        for (const t of tiles.values()) t.el.classList.toggle('focused', single && t === tile);
      });
      tiles.set(c.index, tile);
      grid.append(tile.el);
    }
  }
  $('summary').textContent = `${cameras.length} camera${cameras.length === 1 ? '' : 's'}`;
  // After a reconnect each tile asks again for the stream it was showing.
  for (const c of cameras)
    conn!.send({ type: 'subscribe', camera: c.id, annotated: tiles.get(c.index)?.mode === 'annotated' });
}

function start(user: { name: string; role: string }): void {
  $('login').hidden = true;
  $('logout').hidden = false;
  $('nav').hidden = false;
  $('who').textContent = `${user.name} (${user.role})`;
  role = user.role;
  route();
  conn = new LiveConnection({
    hello: (_u, cameras) => buildGrid(cameras),
    binary: (m) => tiles.get(m.camera)?.message(m),
    message: (m) => {
      if (m.type === 'health') {
        const byId = new Map(m.cameras.map((c) => [c.id, c]));
        for (const t of tiles.values()) {
          const h = byId.get(t.info.id);
          if (h) t.setHealth(h);
          // The player's own view of the live edge goes back to the daemon's stats.
          const p = t.player?.stats;
          if (p)
            conn?.send({
              type: 'player',
              camera: t.info.id,
              behindMs: p.behindMs,
              bufferedMs: p.bufferedMs,
              rate: p.rate,
              jumps: p.jumps,
            });
          // When this browser drew each frame's overlay: the last stage of the frame's latency.
          const drawn = t.overlay.drawnSamples();
          if (drawn.length) conn?.send({ type: 'overlay', camera: t.info.id, drawnMs: drawn });
        }
      } else if (m.type === 'budget') {
        for (const t of tiles.values()) if (t.info.id === m.event.camera) t.budgetEvent(m.event);
      } else if (m.type === 'event') {
        if (m.kind === 'open') eventsView.announce();
      } else if (m.type === 'error') {
        console.warn(`vigil: ${m.code}: ${m.message}`);
      }
    },
    state: (online) => {
      $('conn').textContent = online ? 'live' : 'reconnecting…';
      $('conn').classList.toggle('online', online);
    },
    unauthorized: (reason) => showLogin(`Your session ended${reason ? ` (${reason})` : ''}: log in again.`),
  });
}

$<HTMLFormElement>('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target as HTMLFormElement);
  const res = await fetch('/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: form.get('user'), password: form.get('password') }),
  });
  const body = (await res.json().catch(() => ({}))) as { user?: { name: string; role: string }; message?: string };
  if (!res.ok || !body.user) return showLogin(body.message ?? `Login failed (${res.status})`);
  start(body.user);
});

$('logout').addEventListener('click', async () => {
  await fetch('/api/logout', { method: 'POST' });
  showLogin();
});

const me = await fetch('/api/me');
if (me.ok) start((await me.json()) as { name: string; role: string });
else showLogin();
