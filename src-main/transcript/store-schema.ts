// The sql.js database beside the journal: entries, ceremonies and exports, for queries and for the record
// of what was exported. The journal is the source of truth for entries; this database is a checkpoint of it.
import type { Database } from 'sql.js';
import type { Entry } from './entry.js';

export const SCHEMA_VERSION = 1;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  ceremony_id TEXT NOT NULL,
  step TEXT NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  data TEXT NOT NULL,
  prev TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS entries_ceremony ON entries (ceremony_id, seq);
CREATE TABLE IF NOT EXISTS ceremonies (
  ceremony_id TEXT PRIMARY KEY,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  last_at TEXT NOT NULL,
  entry_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS exports (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  path TEXT NOT NULL,
  ceremony_id TEXT,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  head_hash TEXT NOT NULL,
  manifest_sha256 TEXT NOT NULL,
  exported_at TEXT NOT NULL
);
`;

export function insertEntry(db: Database, e: Entry): void {
  db.run('INSERT INTO entries (seq, time, ceremony_id, step, kind, actor, data, prev, hash) VALUES (?,?,?,?,?,?,?,?,?)', [
    e.seq,
    e.time,
    e.ceremonyId,
    e.step,
    e.kind,
    e.actor,
    JSON.stringify(e.data),
    e.prev,
    e.hash,
  ]);
  db.run(
    `INSERT INTO ceremonies (ceremony_id, first_seq, last_seq, started_at, last_at, entry_count) VALUES (?,?,?,?,?,1)
     ON CONFLICT (ceremony_id) DO UPDATE SET last_seq = excluded.last_seq, last_at = excluded.last_at, entry_count = entry_count + 1`,
    [e.ceremonyId, e.seq, e.seq, e.time, e.time],
  );
}

export function rowToEntry(row: Record<string, unknown>): Entry {
  return {
    seq: Number(row.seq),
    time: String(row.time),
    ceremonyId: String(row.ceremony_id),
    step: String(row.step),
    kind: String(row.kind),
    actor: String(row.actor),
    data: JSON.parse(String(row.data)) as Entry['data'],
    prev: String(row.prev),
    hash: String(row.hash),
  };
}

export function getMeta(db: Database, key: string): string | undefined {
  const r = db.exec('SELECT value FROM meta WHERE key = ?', [key]);
  const v = r[0]?.values[0]?.[0];
  return v === undefined || v === null ? undefined : String(v);
}

export function setMeta(db: Database, key: string, value: string): void {
  db.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
}

/** seq and hash of the last entry in the database, or null when it has none. */
export function dbHead(db: Database): { seq: number; hash: string } | null {
  const r = db.exec('SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1');
  const row = r[0]?.values[0];
  return row ? { seq: Number(row[0]), hash: String(row[1]) } : null;
}

export function hashAt(db: Database, seq: number): string | undefined {
  const r = db.exec('SELECT hash FROM entries WHERE seq = ?', [seq]);
  const v = r[0]?.values[0]?.[0];
  return v === undefined || v === null ? undefined : String(v);
}
