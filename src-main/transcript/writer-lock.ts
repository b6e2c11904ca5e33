// One writer per chain, across processes (the app, the CLI, a second CLI): whoever opens a chain's store to
// write it holds DIR/writer.lock until it closes the store. A second writer is refused at once, in words.
//
// The lock file is made complete first (a private temporary file, fsynced) and then hard-linked to
// writer.lock: link() fails with EEXIST when the lock exists, so creating it is atomic (O_EXCL) and nobody
// ever reads a half-written lock. It names the holder: pid, the process start time from /proc/PID/stat
// (so a pid the kernel gave to another process since is not mistaken for the holder), the hostname, when
// and by which command.
//
// A lock whose holder is dead (no such pid, or the pid now belongs to a process started at another time) is
// taken over. Two processes can find the same stale lock at once; takeovers are therefore serialised by a
// second link()-created file, writer.lock.takeover: its holder re-reads writer.lock, removes it only if it
// is still the very file (inode and bytes) judged stale, and links its own. A plain acquisition never
// removes anything, so it cannot displace a live lock. The holder also checks, before each append, that
// writer.lock is still its own file (`assertHeld`), so a lock lost in any way stops the writer before it
// writes.
import { link, lstat, open, rename, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeAll } from './fs-durable.js';
import { TranscriptError } from './errors.js';

export const WRITER_LOCK_FILE = 'writer.lock';
export const CHAIN_IN_USE = 'TRANSCRIPT_CHAIN_IN_USE';

export interface LockHolder {
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks after boot), or null where /proc is not available. */
  startTime: string | null;
  hostname: string;
  since: string;
  command: string;
}

/** The start time of a process as the kernel reports it, or null (no /proc, or no such process). */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or ')': split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Is the holder still running? Unknown (another host) counts as alive: only a person can judge it. */
export function holderAlive(h: LockHolder): boolean {
  if (h.hostname !== hostname()) return true;
  if (!pidExists(h.pid)) return false;
  if (h.startTime === null) return true;
  const now = processStartTime(h.pid);
  return now === null || now === h.startTime;
}

function parseHolder(bytes: Buffer): LockHolder | null {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as Partial<LockHolder>;
    if (!Number.isSafeInteger(v.pid) || typeof v.hostname !== 'string' || typeof v.since !== 'string') return null;
    return { pid: v.pid as number, startTime: typeof v.startTime === 'string' ? v.startTime : null, hostname: v.hostname, since: v.since, command: typeof v.command === 'string' ? v.command : '' };
  } catch {
    return null;
  }
}

function describe(h: LockHolder): string {
  const who = h.pid === process.pid && h.hostname === hostname() ? `this process (${h.pid})` : `process ${h.pid}${h.hostname === hostname() ? '' : ` on ${h.hostname}`}`;
  return `in use by ${who} since ${h.since}, command ${h.command || '(unknown)'}`;
}

function inUse(dir: string, h: LockHolder): TranscriptError {
  const elsewhere = h.hostname !== hostname();
  return new TranscriptError(
    CHAIN_IN_USE,
    `The transcript ${dir} is ${describe(h)}; one writer at a time, so nothing was written.`,
    elsewhere
      ? `Finish or stop the ceremony on ${h.hostname} first. If that computer no longer runs it, delete ${join(dir, WRITER_LOCK_FILE)} by hand and try again.`
      : 'Finish or stop that ceremony (or close that app or command) first, then try again; a lock left by a process that died is taken over by itself.',
  );
}

/** The process's own command line, short and without paths to node itself. */
function ownCommand(): string {
  const args = process.argv.slice(1).map((a, i) => (i === 0 ? a.split('/').slice(-2).join('/') : a));
  const text = args.join(' ');
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** Write a complete, fsynced file at a unique temporary name and return that name. */
async function completeFile(dir: string, tag: string, bytes: Uint8Array): Promise<string> {
  const temp = join(dir, `.${tag}.${process.pid}.${randomBytes(6).toString('hex')}`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await writeAll(handle, bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

/** Link `temp` to `path` (atomic: fails with EEXIST), then drop the temporary name. True when linked. */
async function linkExclusive(temp: string, path: string): Promise<boolean> {
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function readLock(path: string): Promise<{ bytes: Buffer; ino: number; holder: LockHolder | null } | null> {
  try {
    const handle = await open(path, 'r');
    try {
      const [bytes, st] = await Promise.all([handle.readFile(), handle.stat()]);
      return { bytes, ino: st.ino, holder: parseHolder(bytes) };
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export class WriterLock {
  private released = false;
  private constructor(
    readonly dir: string,
    readonly holder: LockHolder,
    private readonly ino: number,
  ) {}

  get path(): string {
    return join(this.dir, WRITER_LOCK_FILE);
  }

  /** Take the lock of `dir`, or throw CHAIN_IN_USE naming the live holder. */
  static async acquire(dir: string, options: { command?: string } = {}): Promise<WriterLock> {
    const holder: LockHolder = { pid: process.pid, startTime: processStartTime(process.pid), hostname: hostname(), since: new Date().toISOString(), command: options.command ?? ownCommand() };
    const bytes = Buffer.from(`${JSON.stringify(holder)}\n`, 'utf8');
    const path = join(dir, WRITER_LOCK_FILE);
    // Rounds: a lock can vanish (released) or be in the middle of another process's takeover; wait a moment
    // then (a takeover takes milliseconds), never longer than about two seconds in all.
    for (let round = 0; round < 40; round += 1) {
      if (round > 0) await new Promise((r) => setTimeout(r, 10 + Math.floor(Math.random() * 40)));
      if (await linkExclusive(await completeFile(dir, WRITER_LOCK_FILE, bytes), path)) return new WriterLock(dir, holder, (await lstat(path)).ino);
      const current = await readLock(path);
      if (!current) continue;
      if (current.holder && holderAlive(current.holder)) throw inUse(dir, current.holder);
      // Dead holder (or an unreadable lock, which no writer of ours leaves): take it over, one taker at a time.
      const taken = await takeOver(dir, current, bytes);
      if (taken) return new WriterLock(dir, holder, taken);
    }
    const last = await readLock(path);
    if (last?.holder && holderAlive(last.holder)) throw inUse(dir, last.holder);
    throw new TranscriptError(CHAIN_IN_USE, `The transcript ${dir} could not be locked for writing: its lock keeps changing hands.`, 'Another program is writing it: stop it, then try again.');
  }

  /** Throw unless writer.lock is still this lock's own file (checked before every append). */
  async assertHeld(): Promise<void> {
    let ino: number | undefined;
    try {
      ino = (await lstat(this.path)).ino;
    } catch {
      ino = undefined;
    }
    if (this.released || ino !== this.ino) {
      const now = await readLock(this.path).catch(() => null);
      throw new TranscriptError(
        CHAIN_IN_USE,
        `The transcript ${this.dir} is no longer locked by this process${now?.holder ? ` (it is ${describe(now.holder)})` : ''}; nothing was written.`,
        'Stop here and find out which program took the transcript over; compare the journal with the exported bundles before going on.',
      );
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const current = await readLock(this.path).catch(() => null);
    if (current && current.ino === this.ino) await unlink(this.path).catch(() => undefined);
  }
}

/**
 * Replace a stale lock by ours, serialised by writer.lock.takeover. Returns the new lock's inode, or null
 * when the lock changed meanwhile (the caller looks again). A takeover guard left by a dead taker is
 * itself removed, by rename and an inode check, so two cleaners cannot both remove a fresh guard.
 */
async function takeOver(dir: string, stale: { bytes: Buffer; ino: number }, ours: Uint8Array): Promise<number | null> {
  const path = join(dir, WRITER_LOCK_FILE);
  const guardPath = `${path}.takeover`;
  const guardBytes = Buffer.from(`${JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid), hostname: hostname(), since: new Date().toISOString(), command: 'takeover' })}\n`);
  if (!(await linkExclusive(await completeFile(dir, 'takeover', guardBytes), guardPath))) {
    const guard = await readLock(guardPath);
    if (guard?.holder && holderAlive(guard.holder)) return null;
    if (guard) {
      const aside = `${guardPath}.dead.${process.pid}.${randomBytes(4).toString('hex')}`;
      await rename(guardPath, aside).catch(() => undefined);
      const moved = await lstat(aside).catch(() => null);
      // Moved someone else's fresh guard: put it back (if the name is still free) and retry later.
      if (moved && moved.ino !== guard.ino) await link(aside, guardPath).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
    }
    return null;
  }
  const guardIno = (await lstat(guardPath)).ino;
  try {
    const again = await readLock(path);
    if (!again) return null;
    if (again.ino !== stale.ino || !again.bytes.equals(stale.bytes)) return null;
    await unlink(path);
    if (!(await linkExclusive(await completeFile(dir, WRITER_LOCK_FILE, ours), path))) return null;
    return (await lstat(path)).ino;
  } finally {
    const g = await lstat(guardPath).catch(() => null);
    if (g && g.ino === guardIno) await unlink(guardPath).catch(() => undefined);
  }
}

/** Who holds `dir`'s lock now, if anyone alive does (for listings: a chain another process is writing). */
export async function liveHolder(dir: string): Promise<LockHolder | null> {
  const current = await readLock(join(dir, WRITER_LOCK_FILE)).catch(() => null);
  return current?.holder && holderAlive(current.holder) ? current.holder : null;
}
