// The transcript store: an fsynced append-only journal (the truth) plus a sql.js database checkpointed from
// it. An append is durable when it resolves; a crash can only leave a torn last record, which the next open
// detects, reports and cuts off.
import { mkdir, open as openFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from 'sql.js';
import { entryProblem, linkOf, linkProblem, type ChainLink } from './chain.js';
import { entryLine, genesisData, KINDS, parseEntryBody, sealEntry, type Entry, type EntryInput, type GenesisData } from './entry.js';
import { GENESIS_PREV } from './canonical.js';
import { TranscriptError, TranscriptErrorCodes } from './errors.js';
import { fsyncDirectory, writeAll, writeFileAtomic } from './fs-durable.js';
import { Journal, scanJournal, type TailRepair } from './journal.js';
import { loadSqlJs } from './sqlite.js';
import { dbHead, getMeta, hashAt, insertEntry, rowToEntry, SCHEMA, SCHEMA_VERSION, setMeta } from './store-schema.js';
import { SerialQueue } from '../util/serial-queue.js';
import { WriterLock } from './writer-lock.js';

export const JOURNAL_FILE = 'journal.jsonl';
export const DATABASE_FILE = 'transcript.sqlite';

export interface StoreOptions {
  /** Source of entry times; defaults to the system clock. */
  clock?: () => Date;
  /**
   * Checkpoint the database once at least this many entries are newer than the last checkpoint and they
   * are at least a quarter of all entries (so the amortised cost per append stays constant). Default 1000.
   */
  checkpointEvery?: number;
  /**
   * Read without writing: no lock is taken (a writer in another process may hold it), a torn tail is
   * ignored instead of cut off, no checkpoint is written, and every append is refused. For listings.
   */
  readOnly?: boolean;
  /** What the writer lock names as the holder's command (default: this process's command line). */
  lockCommand?: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
  time: string;
}

export interface OpenReport {
  /** Entries in the store after open. */
  entries: number;
  head: ChainHead | null;
  /** Present when the journal ended in a damaged record that was cut off. */
  tailRepair?: TailRepair & { savedTo: string };
  /** How the database was brought in line with the journal. */
  database: 'created' | 'loaded' | 'rebuilt';
  /** Entries replayed from the journal into the database. */
  replayed: number;
  /** Anything else a custodian should hear about. */
  warnings: string[];
}

export interface CeremonySummary {
  ceremonyId: string;
  firstSeq: number;
  lastSeq: number;
  startedAt: string;
  lastAt: string;
  entryCount: number;
}

export interface ExportRecord {
  path: string;
  ceremonyId: string | null;
  firstSeq: number;
  lastSeq: number;
  headHash: string;
  manifestSha256: string;
  exportedAt: string;
}

export class TranscriptStore {
  private readonly queue = new SerialQueue();
  private closed = false;
  private failed: Error | undefined;
  private sinceCheckpoint = 0;

  private constructor(
    readonly dir: string,
    private readonly journal: Journal | null,
    private readonly db: Database,
    private headLink: ChainLink | null,
    private count: number,
    private readonly clock: () => Date,
    private readonly checkpointEvery: number,
    /** The inter-process writer lock (writer-lock.ts); none for a read-only store. */
    private readonly lock: WriterLock | null,
  ) {}

  /** Open (or create) the store in `dir`. Throws TRANSCRIPT_JOURNAL_DAMAGED for damage a crash cannot explain. */
  static async open(dir: string, options: StoreOptions = {}): Promise<{ store: TranscriptStore; report: OpenReport }> {
    if (options.readOnly) return TranscriptStore.openLocked(dir, options, null);
    await mkdir(dir, { recursive: true });
    // The lock comes before the journal is even read: a second writer is refused before it cuts a tail.
    const lock = await WriterLock.acquire(dir, options.lockCommand === undefined ? {} : { command: options.lockCommand });
    try {
      return await TranscriptStore.openLocked(dir, options, lock);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  private static async openLocked(dir: string, options: StoreOptions, lock: WriterLock | null): Promise<{ store: TranscriptStore; report: OpenReport }> {
    const journalPath = join(dir, JOURNAL_FILE);
    const bytes = await Journal.read(journalPath);
    const scan = scanJournal(bytes, journalPath);
    const warnings: string[] = [];
    let tailRepair: OpenReport['tailRepair'];
    if (scan.repair && lock) {
      const savedTo = await saveDamagedTail(dir, bytes.subarray(scan.repair.offset), scan.repair.offset);
      tailRepair = { ...scan.repair, savedTo };
    }
    const journal = lock ? await Journal.open(journalPath, scan.validBytes) : null;

    const SQL = await loadSqlJs();
    const dbPath = join(dir, DATABASE_FILE);
    let db: Database | undefined;
    let database: OpenReport['database'] = 'created';
    let existing: Uint8Array | undefined;
    try {
      existing = await readFile(dbPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (existing) {
      try {
        db = new SQL.Database(existing);
        if (getMeta(db, 'schema_version') !== String(SCHEMA_VERSION)) throw new Error(`schema version ${getMeta(db, 'schema_version') ?? 'missing'}`);
        database = 'loaded';
      } catch (error) {
        warnings.push(`The database ${dbPath} could not be read (${(error as Error).message}); it was rebuilt from the journal, and its record of earlier exports is lost.`);
        db?.close();
        db = undefined;
        database = 'rebuilt';
      }
    }
    if (!db) {
      db = new SQL.Database();
      db.run(SCHEMA);
      setMeta(db, 'schema_version', String(SCHEMA_VERSION));
    }

    // Bring the database in line with the journal: it may lag (entries since the last checkpoint), never lead.
    let head = dbHead(db);
    if (head) {
      const atJournal = scan.entries[head.seq];
      if (!atJournal || atJournal.hash !== head.hash) {
        warnings.push(
          `The database checkpoint (seq ${head.seq}, ${head.hash}) does not match the journal (${atJournal ? `hash ${atJournal.hash}` : `which ends at seq ${scan.entries.length - 1}`}); its entries were rebuilt from the journal.`,
        );
        db.run('DELETE FROM entries; DELETE FROM ceremonies;');
        head = null;
        database = 'rebuilt';
      }
    }
    const from = head ? head.seq + 1 : 0;
    db.run('BEGIN');
    for (let i = from; i < scan.entries.length; i += 1) insertEntry(db, scan.entries[i] as Entry);
    db.run('COMMIT');
    const last = scan.entries.at(-1);
    const store = new TranscriptStore(
      dir,
      journal,
      db,
      last ? linkOf(last) : null,
      scan.entries.length,
      options.clock ?? (() => new Date()),
      options.checkpointEvery ?? 1000,
      lock,
    );
    const replayed = scan.entries.length - from;
    if (lock && (replayed > 0 || database !== 'loaded')) await store.checkpointNow();
    const report: OpenReport = { entries: scan.entries.length, head: store.head(), database, replayed, warnings };
    if (tailRepair) report.tailRepair = tailRepair;
    return { store, report };
  }

  /** The last entry's seq, hash and time, or null for an empty store. */
  head(): ChainHead | null {
    return this.headLink ? { ...this.headLink } : null;
  }

  get size(): number {
    return this.count;
  }

  /**
   * Append the genesis entry: the first entry of a token's history, recording the token and the audit key.
   */
  appendGenesis(ceremonyId: string, actor: string, token: GenesisData['token'], auditSpkiDer: Uint8Array, step = 'genesis'): Promise<Entry> {
    return this.append({ ceremonyId, step, kind: KINDS.genesis, actor, data: genesisData(token, auditSpkiDer) as unknown as Entry['data'] });
  }

  /** Append one entry. Resolves once it is on stable storage (fdatasync); the entry then survives kill -9. */
  append(input: EntryInput): Promise<Entry> {
    return this.queue.run(async () => {
      this.assertUsable();
      const before = this.headLink;
      const time = this.clock().toISOString();
      if (before && time < before.time) {
        throw new TranscriptError(
          TranscriptErrorCodes.CLOCK_BEHIND,
          `The system clock (${time}) is behind the last transcript entry (seq ${before.seq}, ${before.time}); entry times must not go backwards.`,
          "Set this computer's clock to the correct UTC time, then retry.",
        );
      }
      const parsed = parseEntryBody({ ...input, seq: before ? before.seq + 1 : 0, time, prev: before ? before.hash : GENESIS_PREV });
      if (!parsed.ok) throw new TranscriptError(TranscriptErrorCodes.ENTRY_INVALID, `The transcript entry was refused: ${parsed.error}.`, 'Fix the caller; nothing was written.');
      const entry = sealEntry(parsed.value);
      await this.writeChecked(entry);
      return entry;
    });
  }

  /**
   * Append entries that were sealed elsewhere (another laptop's bundle for this token), exactly as they are:
   * each must continue the chain (seq, prev, hash, time). Used by the bundle import, after verification.
   */
  importEntries(entries: readonly Entry[]): Promise<number> {
    return this.queue.run(async () => {
      this.assertUsable();
      for (const entry of entries) await this.writeChecked(entry);
      return entries.length;
    });
  }

  /** Check one sealed entry against the head, write it durably, and only then make it the head. */
  private async writeChecked(entry: Entry): Promise<void> {
    const before = this.headLink;
    const problem =
      entryProblem(entry) ??
      (before ? linkProblem(before, entry) : entry.seq !== 0 || entry.prev !== GENESIS_PREV ? `the first entry of a store must have seq 0 and prev ${GENESIS_PREV}` : undefined);
    if (problem) {
      const notGenesis = entry.seq === 0 && entry.kind !== KINDS.genesis;
      const remedy = notGenesis ? 'The first entry of a store must be the genesis entry: use appendGenesis.' : 'Fix the caller; nothing was written.';
      throw new TranscriptError(notGenesis ? TranscriptErrorCodes.NOT_GENESIS : TranscriptErrorCodes.ENTRY_INVALID, `The transcript entry was refused: ${problem}.`, remedy);
    }
    await this.lock?.assertHeld();
    try {
      await (this.journal as Journal).append(entryLine(entry));
    } catch (error) {
      // The journal may now end in a partial record: refuse further appends; the next open cuts it off.
      this.failed = error as Error;
      throw new TranscriptError(
        TranscriptErrorCodes.JOURNAL_DAMAGED,
        `Writing transcript entry seq ${entry.seq} failed: ${(error as Error).message}. The entry is not recorded.`,
        'Check the disk, then close and reopen the transcript store; the open report will say what was cut off.',
      );
    }
    this.headLink = linkOf(entry);
    this.count += 1;
    insertEntry(this.db, entry);
    this.sinceCheckpoint += 1;
    if (this.sinceCheckpoint >= Math.max(this.checkpointEvery, Math.floor(this.count / 4))) await this.checkpointNow();
  }

  entryAt(seq: number): Entry | undefined {
    this.assertOpen();
    const r = this.db.exec('SELECT * FROM entries WHERE seq = ?', [seq]);
    const row = r[0];
    if (!row?.values[0]) return undefined;
    return rowToEntry(Object.fromEntries(row.columns.map((c, i) => [c, row.values[0]?.[i]])));
  }

  hashAt(seq: number): string | undefined {
    this.assertOpen();
    return hashAt(this.db, seq);
  }

  /** Entries with first <= seq <= last, in order. */
  entries(first: number, last: number): Entry[] {
    this.assertOpen();
    const out: Entry[] = [];
    const stmt = this.db.prepare('SELECT * FROM entries WHERE seq BETWEEN ? AND ? ORDER BY seq');
    try {
      stmt.bind([first, last]);
      while (stmt.step()) out.push(rowToEntry(stmt.getAsObject()));
    } finally {
      stmt.free();
    }
    return out;
  }

  /** The last `n` entries, oldest first (the ceremony screen's live tail). */
  tail(n: number): Entry[] {
    const head = this.headLink;
    if (!head) return [];
    return this.entries(Math.max(0, head.seq - n + 1), head.seq);
  }

  ceremonies(): CeremonySummary[] {
    this.assertOpen();
    const r = this.db.exec('SELECT ceremony_id, first_seq, last_seq, started_at, last_at, entry_count FROM ceremonies ORDER BY first_seq');
    return (r[0]?.values ?? []).map((v) => ({
      ceremonyId: String(v[0]),
      firstSeq: Number(v[1]),
      lastSeq: Number(v[2]),
      startedAt: String(v[3]),
      lastAt: String(v[4]),
      entryCount: Number(v[5]),
    }));
  }

  /** Record a completed export and checkpoint at once: the record is durable when this resolves. */
  recordExport(record: ExportRecord): Promise<void> {
    return this.queue.run(async () => {
      this.assertUsable();
      this.db.run('INSERT INTO exports (path, ceremony_id, first_seq, last_seq, head_hash, manifest_sha256, exported_at) VALUES (?,?,?,?,?,?,?)', [
        record.path,
        record.ceremonyId,
        record.firstSeq,
        record.lastSeq,
        record.headHash,
        record.manifestSha256,
        record.exportedAt,
      ]);
      await this.checkpointNow();
    });
  }

  exports(): ExportRecord[] {
    this.assertOpen();
    const r = this.db.exec('SELECT path, ceremony_id, first_seq, last_seq, head_hash, manifest_sha256, exported_at FROM exports ORDER BY id');
    return (r[0]?.values ?? []).map((v) => ({
      path: String(v[0]),
      ceremonyId: v[1] === null ? null : String(v[1]),
      firstSeq: Number(v[2]),
      lastSeq: Number(v[3]),
      headHash: String(v[4]),
      manifestSha256: String(v[5]),
      exportedAt: String(v[6]),
    }));
  }

  /** Write the database file now (atomically). */
  checkpoint(): Promise<void> {
    return this.queue.run(async () => {
      this.assertUsable();
      await this.checkpointNow();
    });
  }

  close(): Promise<void> {
    return this.queue.run(async () => {
      if (this.closed) return;
      try {
        if (this.lock && !this.failed && this.sinceCheckpoint > 0) await this.checkpointNow();
      } finally {
        this.closed = true;
        await this.journal?.close();
        this.db.close();
        await this.lock?.release();
      }
    });
  }

  private async checkpointNow(): Promise<void> {
    const head = this.headLink;
    setMeta(this.db, 'checkpoint_seq', head ? String(head.seq) : '-1');
    await writeFileAtomic(join(this.dir, DATABASE_FILE), this.db.export());
    this.sinceCheckpoint = 0;
  }

  private assertOpen(): void {
    if (this.closed) throw new TranscriptError(TranscriptErrorCodes.STORE_CLOSED, 'The transcript store is closed.', 'Open it again.');
  }

  private assertUsable(): void {
    this.assertOpen();
    if (!this.lock) throw new TranscriptError(TranscriptErrorCodes.STORE_CLOSED, `The transcript ${this.dir} was opened only to read it; nothing was written.`, 'Open it for writing (this is a bug in the caller).');
    if (this.failed) {
      throw new TranscriptError(
        TranscriptErrorCodes.JOURNAL_DAMAGED,
        `The transcript store refuses further appends after a failed write (${this.failed.message}).`,
        'Close and reopen the transcript store; the open report will say what was cut off.',
      );
    }
  }
}

/** Keep what was cut off the journal, as evidence, in a new file beside it. */
async function saveDamagedTail(dir: string, bytes: Uint8Array, offset: number): Promise<string> {
  for (let n = 0; ; n += 1) {
    const path = join(dir, `${JOURNAL_FILE}.cut-at-${offset}${n === 0 ? '' : `-${n}`}`);
    let handle;
    try {
      handle = await openFile(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    try {
      await writeAll(handle, bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsyncDirectory(dir);
    return path;
  }
}
