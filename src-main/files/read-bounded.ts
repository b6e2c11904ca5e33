// Every file the app reads as input (share files, passphrase and PIN files, import parameters, settings,
// ceremony scripts, ...) goes through here: it must be a regular file (not /dev/zero, a FIFO, a directory,
// nor a link to one), and no larger than what a genuine file of its kind can be. The size is checked on the
// opened descriptor and at most cap + 1 bytes are ever read, so a hostile or mistaken path costs a few
// kilobytes of memory, never the whole file; the refusal names the file, the cap and what to do instead.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { lstat, open, stat, type FileHandle } from 'node:fs/promises';
import { AppError } from '../errors.js';

export interface FileKind {
  /** What the file is, in the room's words: "share file", "import parameters file". */
  what: string;
  /** The most bytes a genuine file of this kind can have. */
  cap: number;
  /** What to do instead, for every refusal. */
  remedy: string;
  /** The code of the AppError thrown. */
  code: string;
  /** The input field the path came from, to open the message with ("shareFile"). */
  field?: string;
}

export interface ReadOptions {
  /** Refuse a symbolic link itself instead of reading what it points to. */
  noFollow?: boolean;
}

const KIB = 1024;

/** Caps per kind: a few times the largest genuine file, far below anything that strains memory. */
export const FILE_CAPS = {
  /** An encrypted share file is about 600 bytes of JSON. */
  shareFile: 16 * KIB,
  /** A passphrase is at most 1024 characters (4 bytes each in UTF-8) and a line break. */
  secretFile: 8 * KIB,
  /** The CLI's JSON: an import token of at most 6144 bytes and an RSA-4096 public key, in base64. */
  importParametersJson: 64 * KIB,
  /** One part of the parameters as its own file (public key, import token: DER, PEM or base64). */
  importParametersPart: 64 * KIB,
  /** The console's zip: the two parts and a README. */
  importParametersZip: 256 * KIB,
  settings: 256 * KIB,
  yubihsmLabels: 256 * KIB,
  ceremonyScript: 256 * KIB,
  /** An audit public key in PEM. */
  publicKeyPem: 16 * KIB,
  /** import-manifest.json this app wrote and reads back. */
  importManifest: 64 * KIB,
} as const;

/** "16 KiB (16384 bytes)". */
export function describeCap(cap: number): string {
  const unit = cap % (KIB * KIB) === 0 ? `${cap / (KIB * KIB)} MiB` : cap % KIB === 0 ? `${cap / KIB} KiB` : undefined;
  return unit ? `${unit} (${cap} bytes)` : `${cap} bytes`;
}

function typeOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

const article = (what: string) => (/^[aeiou]/i.test(what) ? `an ${what}` : `a ${what}`);

function refuse(kind: FileKind, message: string): AppError {
  return new AppError(kind.code, kind.field ? `${kind.field}: ${message}` : message, kind.remedy);
}

function unreadable(path: string, kind: FileKind, error: unknown): AppError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return refuse(kind, `${path} is a symbolic link; ${article(kind.what)} is read only as the file itself.`);
  return refuse(kind, `${path} cannot be read (${code ?? String(error)}).`);
}

/** Refuse `length` bytes over the cap of `kind` (also for what turned out, once read, to be a narrower kind). */
export function checkLength(path: string, length: number, kind: FileKind): void {
  if (length > kind.cap) throw refuse(kind, `${path} is ${length} bytes; ${article(kind.what)} is at most ${describeCap(kind.cap)}.`);
}

function checkStats(path: string, st: Stats, kind: FileKind): void {
  if (!st.isFile()) {
    throw refuse(kind, `${path} is ${typeOf(st)}, not a regular file; ${article(kind.what)} is a regular file of at most ${describeCap(kind.cap)}.`);
  }
  checkLength(path, st.size, kind);
}

function checkSame(path: string, before: Stats, after: Stats, kind: FileKind): void {
  checkStats(path, after, kind);
  if (before.dev !== after.dev || before.ino !== after.ino) throw refuse(kind, `${path} was replaced while it was being opened.`);
}

function grew(path: string, kind: FileKind): AppError {
  return refuse(kind, `${path} grew past ${describeCap(kind.cap)} while being read; ${article(kind.what)} is at most that.`);
}

// O_NONBLOCK: opening a FIFO that slipped past the first check must not wait for a writer. O_NOCTTY: a
// terminal never becomes ours. Both are 0 (absent) on Windows, where neither applies.
function openFlags(options: ReadOptions): number {
  return constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0) | (options.noFollow ? (constants.O_NOFOLLOW ?? 0) : 0);
}

/** Read a small input file, refusing anything that is not a regular file of at most `kind.cap` bytes. */
export async function readBounded(path: string, kind: FileKind, options: ReadOptions = {}): Promise<Buffer> {
  // Checked by path first, so a device or FIFO is refused without ever being opened.
  let before: Stats;
  try {
    before = options.noFollow ? await lstat(path) : await stat(path);
  } catch (error) {
    throw unreadable(path, kind, error);
  }
  checkStats(path, before, kind);
  let h: FileHandle;
  try {
    h = await open(path, openFlags(options));
  } catch (error) {
    throw unreadable(path, kind, error);
  }
  try {
    checkSame(path, before, await h.stat(), kind);
    const buf = Buffer.alloc(kind.cap + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await h.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > kind.cap) throw grew(path, kind);
    }
    return buf.subarray(0, n);
  } finally {
    await h.close();
  }
}

/** The same for the few synchronous readers (settings, remembered device labels). */
export function readBoundedSync(path: string, kind: FileKind, options: ReadOptions = {}): Buffer {
  let before: Stats;
  try {
    before = options.noFollow ? lstatSync(path) : statSync(path);
  } catch (error) {
    throw unreadable(path, kind, error);
  }
  checkStats(path, before, kind);
  let fd: number;
  try {
    fd = openSync(path, openFlags(options));
  } catch (error) {
    throw unreadable(path, kind, error);
  }
  try {
    checkSame(path, before, fstatSync(fd), kind);
    const buf = Buffer.alloc(kind.cap + 1);
    let n = 0;
    for (;;) {
      const bytesRead = readSync(fd, buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > kind.cap) throw grew(path, kind);
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** A text file of one secret (passphrase, PIN): UTF-8, one final line break dropped. */
export async function readSecretText(path: string, kind: FileKind): Promise<string> {
  const bytes = await readBounded(path, kind);
  try {
    return bytes.toString('utf8').replace(/\r?\n$/, '');
  } finally {
    bytes.fill(0);
  }
}
