// The pre-genesis log: what a ceremony records before its transcript chain exists. Genesis needs the audit
// key, which exists only after the token was initialized, its PINs set and the key generated, so those steps
// are written here first: one canonical JSON record per line, fsynced before the call returns, each with its
// own SHA-256 and the previous record's hash. Right after genesis the whole log is copied verbatim into one
// `pre-genesis` entry of the chain. A crash before genesis leaves this file as the record of the attempt.
import { open, readFile, mkdir, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError } from '../../errors.js';
import { canonicalJson, GENESIS_PREV, sha256Hex } from '../../transcript/canonical.js';
import { fsyncDirectory, writeAll } from '../../transcript/fs-durable.js';
import { jsonProblem, type JsonObject } from '../../transcript/json-value.js';

export const PRE_GENESIS_FILE = 'pre-genesis.jsonl';

export interface PreGenesisRecord {
  /** 0-based position in the log. */
  n: number;
  time: string;
  ceremonyId: string;
  step: string;
  kind: string;
  actor: string;
  data: JsonObject;
  /** The previous record's hash; 64 zeros for the first. */
  prev: string;
  /** SHA-256 of the canonical JSON of this record without `hash`. */
  hash: string;
}

export type PreGenesisInput = Pick<PreGenesisRecord, 'ceremonyId' | 'step' | 'kind' | 'actor' | 'data'>;

export function preGenesisHash(record: Omit<PreGenesisRecord, 'hash'> | PreGenesisRecord): string {
  const { hash: _h, ...rest } = record as PreGenesisRecord;
  return sha256Hex(canonicalJson(rest));
}

export class PreGenesisLog {
  private closed = false;
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly records: PreGenesisRecord[],
    private readonly clock: () => Date,
  ) {}

  /** Create a new log (never overwrites an existing one). */
  static async create(path: string, clock: () => Date = () => new Date()): Promise<PreGenesisLog> {
    await mkdir(dirname(path), { recursive: true });
    let handle: FileHandle;
    try {
      handle = await open(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST')
        throw new AppError('ceremony-log-exists', `${path} already exists; a ceremony id is used once.`, 'Start the ceremony again; it gets a new id.');
      throw error;
    }
    await fsyncDirectory(dirname(path));
    return new PreGenesisLog(path, handle, [], clock);
  }

  /** Reopen an existing log to append to it (recovery records an interruption in it). */
  static async reopen(path: string, clock: () => Date = () => new Date()): Promise<PreGenesisLog> {
    const { records, torn } = await readPreGenesisLog(path);
    if (torn) {
      // Keep the torn tail as evidence beside the log, then cut it so new records follow a whole line.
      const bytes = await readFile(path);
      const valid = records.reduce((n, r) => n + Buffer.byteLength(`${canonicalJson(r)}\n`, 'utf8'), 0);
      const keep = await open(`${path}.torn-at-${valid}`, 'w', 0o600);
      await writeAll(keep, bytes.subarray(valid));
      await keep.sync();
      await keep.close();
      await truncate(path, valid);
    }
    const handle = await open(path, 'a', 0o600);
    return new PreGenesisLog(path, handle, records, clock);
  }

  all(): PreGenesisRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  get length(): number {
    return this.records.length;
  }

  /** Append one record; resolves once it is on stable storage. */
  async append(input: PreGenesisInput): Promise<PreGenesisRecord> {
    if (this.closed) throw new AppError('ceremony-log-closed', `The pre-genesis log ${this.path} is closed.`, 'This is a bug; the ceremony must be restarted.');
    const problem = jsonProblem(input.data, 'data');
    if (problem) throw new AppError('ceremony-log-invalid', `The pre-genesis record was refused: ${problem}.`, 'Fix the caller; nothing was written.');
    const last = this.records.at(-1);
    let time = this.clock().toISOString();
    if (last && time < last.time) time = last.time;
    const body = { n: this.records.length, time, ceremonyId: input.ceremonyId, step: input.step, kind: input.kind, actor: input.actor, data: input.data, prev: last ? last.hash : GENESIS_PREV };
    const record: PreGenesisRecord = { ...body, hash: preGenesisHash(body) };
    await writeAll(this.handle, Buffer.from(`${canonicalJson(record)}\n`, 'utf8'));
    await this.handle.datasync();
    this.records.push(record);
    return { ...record };
  }

  /** SHA-256 of the log file's bytes as written so far. */
  async sha256(): Promise<string> {
    return sha256Hex(await readFile(this.path));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

export interface PreGenesisRead {
  records: PreGenesisRecord[];
  /** A damaged or torn last line (a crash mid-write), ignored. */
  torn?: string;
  sha256: string;
}

/** Read a log: every complete, correctly chained record; a torn last line is reported, never used. */
export async function readPreGenesisLog(path: string): Promise<PreGenesisRead> {
  const bytes = await readFile(path);
  const text = bytes.toString('utf8');
  const lines = text.split('\n');
  const records: PreGenesisRecord[] = [];
  let torn: string | undefined;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] as string;
    if (line === '' && i === lines.length - 1) break;
    let record: PreGenesisRecord | undefined;
    try {
      record = JSON.parse(line) as PreGenesisRecord;
    } catch {
      record = undefined;
    }
    const prev = records.at(-1)?.hash ?? GENESIS_PREV;
    const ok = record !== undefined && record.n === records.length && record.prev === prev && record.hash === preGenesisHash(record) && canonicalJson(record) === line;
    if (!ok) {
      if (i >= lines.length - 2) {
        torn = `line ${i + 1} is incomplete or damaged (a crash while writing it); it was ignored`;
        break;
      }
      throw new AppError('ceremony-log-damaged', `${path}: line ${i + 1} is not a valid pre-genesis record.`, 'Keep the file as evidence and do not continue this ceremony; start a new one.');
    }
    records.push(record as PreGenesisRecord);
  }
  const out: PreGenesisRead = { records, sha256: sha256Hex(bytes) };
  if (torn) out.torn = torn;
  return out;
}
