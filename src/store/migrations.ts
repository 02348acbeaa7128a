/**
 * The database schema as numbered migrations, applied in order, each once, each in its own
 * transaction; PRAGMA user_version is the number of the last one applied. Never edit a
 * migration that has shipped: add the next one.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'budget events',
    sql: `
      CREATE TABLE budget_events (
        id          INTEGER PRIMARY KEY,
        camera      TEXT    NOT NULL,
        kind        TEXT    NOT NULL CHECK (kind IN ('breach', 'recovered')),
        at          TEXT    NOT NULL,
        budget_ms   REAL    NOT NULL,
        policy      TEXT    NOT NULL,
        latency_ms  REAL    NOT NULL,
        duration_ms REAL,
        dropped     INTEGER
      );
      CREATE INDEX budget_events_camera_at ON budget_events (camera, at);
    `,
  },
  {
    version: 2,
    name: 'zone events',
    sql: `
      CREATE TABLE events (
        id          INTEGER PRIMARY KEY,
        camera      TEXT    NOT NULL,
        zone        TEXT    NOT NULL,
        track_id    INTEGER NOT NULL,
        class_id    INTEGER NOT NULL,
        label       TEXT    NOT NULL,
        started_at  TEXT    NOT NULL,
        ended_at    TEXT,
        best_score  REAL    NOT NULL,
        best_box    TEXT    NOT NULL,
        best_seq    INTEGER NOT NULL,
        frames      INTEGER NOT NULL
      );
      CREATE INDEX events_started ON events (started_at);
      CREATE INDEX events_camera_started ON events (camera, started_at);
    `,
  },
  {
    version: 3,
    name: 'line events, event snapshots and clips',
    sql: `
      ALTER TABLE events ADD COLUMN type TEXT NOT NULL DEFAULT 'zone' CHECK (type IN ('zone', 'line'));
      ALTER TABLE events ADD COLUMN direction TEXT;
      CREATE INDEX events_zone ON events (zone);
      -- A file under the media directory (path relative to it), written before its row is
      -- inserted and deleted after its row: a row always names a whole file.
      CREATE TABLE event_media (
        event_id   INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        kind       TEXT    NOT NULL CHECK (kind IN ('snapshot', 'clip')),
        path       TEXT    NOT NULL UNIQUE,
        bytes      INTEGER NOT NULL,
        info       TEXT    NOT NULL,
        written_at TEXT    NOT NULL,
        PRIMARY KEY (event_id, kind)
      );
    `,
  },
];
