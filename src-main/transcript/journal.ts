// The append-only journal: one canonical entry per line, appended through an O_APPEND descriptor and
// fdatasync'ed before an append is acknowledged. Each line carries its own SHA-256 (the entry hash) and the
// previous entry's hash, so a torn or damaged record cannot be read back as a valid entry.
import { open, readFile, stat, truncate, type FileHandle } from 'node:fs/promises';
import { linkOf, linkProblem, type ChainLink } from './chain.js';
import type { Entry } from './entry.js';
import { parseEntryLine } from './line.js';
import { TranscriptError, TranscriptErrorCodes } from './errors.js';
import { fsyncDirectory, writeAll } from './fs-durable.js';
import { dirname } from 'node:path';

/** What was cut from the end of the journal on open, and why. */
export interface TailRepair {
  /** Byte offset the journal was cut back to (the end of the last valid entry). */
  offset: number;
  droppedBytes: number;
  /** seq of the last valid entry kept, or null when none was. */
  lastValidSeq: number | null;
  reason: string;
}

export interface JournalScan {
  entries: Entry[];
  /** Byte length of the valid part. */
  validBytes: number;
  repair?: TailRepair;
}

/** Why one journal line is not a valid continuation of the chain; undefined when it is. */
function lineProblem(text: string, before: ChainLink | null, lineNo: number): { problem?: string; entry?: Entry } {
  const r = parseEntryLine(text, `line ${lineNo}`);
  if (!r.ok) return { problem: r.problem };
  const entry = r.entry;
  if (before === null) {
    if (entry.seq !== 0) return { problem: `line ${lineNo}: the first entry has seq ${entry.seq}; expected seq 0` };
  } else {
    const link = linkProblem(before, entry);
    if (link) return { problem: `line ${lineNo} (seq ${entry.seq}): ${link}` };
  }
  return { entry };
}

/**
 * Read and check the whole journal. A damaged record at the very end (a torn write, or a last line that does
 * not chain) is reported in `repair` and left out; damage followed by further records is not what a crash
 * leaves behind, so it is refused rather than cut.
 */
export function scanJournal(bytes: Uint8Array, file: string): JournalScan {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: Entry[] = [];
  let before: ChainLink | null = null;
  let offset = 0;
  let lineNo = 0;
  while (offset < buffer.length) {
    const newline = buffer.indexOf(0x0a, offset);
    lineNo += 1;
    const lastSeq: number | null = before === null ? null : (before as ChainLink).seq;
    if (newline === -1) {
      return {
        entries,
        validBytes: offset,
        repair: { offset, droppedBytes: buffer.length - offset, lastValidSeq: lastSeq, reason: `line ${lineNo} is incomplete (${buffer.length - offset} bytes without a newline): a write torn by a crash` },
      };
    }
    const text = buffer.toString('utf8', offset, newline);
    const { problem, entry } = lineProblem(text, before, lineNo);
    if (problem !== undefined || entry === undefined) {
      if (newline + 1 === buffer.length) {
        return {
          entries,
          validBytes: offset,
          repair: { offset, droppedBytes: buffer.length - offset, lastValidSeq: lastSeq, reason: `the last line is damaged: ${problem ?? 'invalid'}` },
        };
      }
      throw new TranscriptError(
        TranscriptErrorCodes.JOURNAL_DAMAGED,
        `The transcript journal ${file} is damaged${lastSeq === null ? '' : ` after seq ${lastSeq}`}: ${problem ?? `line ${lineNo} is invalid`}; further records follow, which a crash cannot cause.`,
        'Keep the file for investigation; do not run a ceremony on this store. Restore the transcript from its exported bundles, or start a new store and import them.',
      );
    }
    entries.push(entry);
    before = linkOf(entry);
    offset = newline + 1;
  }
  return { entries, validBytes: offset };
}

export class Journal {
  private constructor(
    readonly path: string,
    private handle: FileHandle,
    private size: number,
  ) {}

  /** Open (creating if needed) for appending, after cutting the file back to `validBytes`. */
  static async open(path: string, validBytes: number): Promise<Journal> {
    let existed = true;
    try {
      const s = await stat(path);
      if (s.size !== validBytes) {
        await truncate(path, validBytes);
        const h = await open(path, 'r+');
        try {
          await h.sync();
        } finally {
          await h.close();
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      existed = false;
    }
    const handle = await open(path, 'a', 0o600);
    if (!existed) {
      await handle.sync();
      await fsyncDirectory(dirname(path));
    }
    return new Journal(path, handle, validBytes);
  }

  static async read(path: string): Promise<Uint8Array> {
    try {
      return await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Uint8Array(0);
      throw error;
    }
  }

  get bytes(): number {
    return this.size;
  }

  /** Append one record and make it durable (fdatasync) before resolving. */
  async append(line: string): Promise<void> {
    const data = Buffer.from(line, 'utf8');
    await writeAll(this.handle, data);
    await this.handle.datasync();
    this.size += data.length;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
