// Reading a bundle folder without trusting its size: the folder's listing, each small file and
// transcript.jsonl have caps, transcript.jsonl is read as a stream of lines (each line capped), so memory
// stays bounded whatever the folder holds. Anything beyond a cap is refused in words, never read whole.
import { constants, createReadStream } from 'node:fs';
import { lstat, open, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLE_FILES, FILES } from './manifest.js';

export interface BundleCaps {
  /** transcript.jsonl, in bytes. */
  transcriptBytes: number;
  /** One line of transcript.jsonl (one entry), in bytes. */
  lineBytes: number;
  /** Each of the other bundle files (manifest, signatures, public key, VERIFY.md), in bytes. */
  smallFileBytes: number;
  /** Names in a bundle folder, hidden ones included. */
  folderEntries: number;
}

export const DEFAULT_CAPS: BundleCaps = {
  transcriptBytes: 2 * 1024 ** 3,
  lineBytes: 4 * 1024 ** 2,
  smallFileBytes: 256 * 1024,
  folderEntries: 64,
};

const MIB = 1024 * 1024;
/** A size in words: "4 MiB", "1536 bytes". */
export function sizeText(bytes: number): string {
  return bytes >= MIB && bytes % MIB === 0 ? `${bytes / MIB} MiB` : bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}

export interface LoadedBundle {
  path: string;
  /** The small files, read whole (and transcript.jsonl too when the bundle is built in memory). */
  files: Map<string, Uint8Array>;
  /** transcript.jsonl on disk, read as a stream (absent for bundles built in memory). */
  transcriptFile?: string;
  /** Names in the folder that are not bundle files (hidden ones excepted). */
  unexpected: string[];
  /** Bundle files that were not read, in words: beyond their cap, or not regular files. */
  refused?: string[];
  /** Why the folder could not be read at all. */
  error?: string;
}

/** Never follow a link or wait on a FIFO swapped in after lstat looked. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

async function readCapped(path: string, cap: number): Promise<Uint8Array | number | 'not-regular'> {
  const handle = await open(path, OPEN_FLAGS);
  try {
    const info = await handle.stat();
    if (!info.isFile()) return 'not-regular';
    const size = info.size;
    if (size > cap) return size;
    const buffer = Buffer.alloc(cap + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > cap) return length;
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/**
 * Open a bundle folder: list it (at most caps.folderEntries names), read the small bundle files whole within
 * their cap, and note transcript.jsonl for streaming. Hidden files are ignored; a bundle file name that is
 * not a regular file (symbolic link, folder, FIFO, device) is refused, never opened.
 */
export async function loadBundle(path: string, capsIn: Partial<BundleCaps> = {}): Promise<LoadedBundle> {
  const caps = { ...DEFAULT_CAPS, ...capsIn };
  const refused: string[] = [];
  const bundle: LoadedBundle = { path, files: new Map(), unexpected: [], refused };
  const names: string[] = [];
  try {
    const dir = await opendir(path);
    for await (const dirent of dir) {
      names.push(dirent.name);
      if (names.length > caps.folderEntries) {
        bundle.error = `${path} holds more than ${caps.folderEntries} files; a bundle holds ${BUNDLE_FILES.length}. Choose the bundle folder itself`;
        return bundle;
      }
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : `cannot be read (${code ?? (error as Error).message})`;
    bundle.error = `${path} ${why}`;
    return bundle;
  }
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const full = join(path, name);
    if (!(BUNDLE_FILES as readonly string[]).includes(name)) {
      bundle.unexpected.push(name);
      continue;
    }
    if (!(await lstat(full)).isFile()) {
      refused.push(`${name} is not a regular file (a symbolic link, folder, FIFO or device is never read)`);
      continue;
    }
    if (name === FILES.transcript) {
      const size = (await lstat(full)).size;
      if (size > caps.transcriptBytes) refused.push(`${name} is ${size} bytes, more than the ${sizeText(caps.transcriptBytes)} a transcript may hold`);
      else bundle.transcriptFile = full;
      continue;
    }
    const read = await readCapped(full, caps.smallFileBytes).catch(() => 'not-regular' as const);
    if (read === 'not-regular') refused.push(`${name} is not a regular file (a symbolic link, folder, FIFO or device is never read)`);
    else if (typeof read === 'number') refused.push(`${name} is ${read} bytes, more than the ${sizeText(caps.smallFileBytes)} this file may hold`);
    else bundle.files.set(name, read);
  }
  return bundle;
}

export function hasTranscript(bundle: LoadedBundle): boolean {
  return bundle.transcriptFile !== undefined || bundle.files.has(FILES.transcript);
}

/** transcript.jsonl as chunks: streamed from disk, or the bytes of a bundle built in memory. */
export async function* transcriptChunks(bundle: LoadedBundle, maxBytes: number): AsyncGenerator<Uint8Array> {
  if (bundle.transcriptFile === undefined) {
    const bytes = bundle.files.get(FILES.transcript);
    if (bytes) yield bytes;
    return;
  }
  let total = 0;
  const handle = await open(bundle.transcriptFile, OPEN_FLAGS);
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new Error(`${FILES.transcript} is not a regular file`);
  }
  for await (const chunk of createReadStream('', { fd: handle, highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    total += chunk.length;
    // The file may grow while it is read: the cap holds for what is read, not only for what lstat saw.
    if (total > maxBytes) throw new Error(`${FILES.transcript} grew beyond ${sizeText(maxBytes)} while it was read`);
    yield chunk;
  }
}

export type Line = { n: number; text: string } | { n: number; tooLong: true };

/**
 * Split chunks into lines (without their "\n"), each decoded as UTF-8. A line longer than maxLineBytes is
 * reported, not assembled. `onChunk` sees every chunk (for digests). After the last line, `end` says whether
 * the input was empty and whether it ended with "\n".
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>, maxLineBytes: number, onChunk: (chunk: Uint8Array) => void, end: { newline: boolean; empty: boolean }): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let length = 0;
  let n = 0;
  let tooLong = false;
  let empty = true;
  for await (const raw of chunks) {
    onChunk(raw);
    const chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (chunk.length > 0) empty = false;
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      const piece = chunk.subarray(from, nl < 0 ? chunk.length : nl);
      if (!tooLong) {
        if (length + piece.length > maxLineBytes) {
          tooLong = true;
          parts = [];
        } else {
          parts.push(piece);
        }
      }
      length += piece.length;
      if (nl < 0) break;
      n += 1;
      // Most lines lie within one chunk: decode that slice without copying it first.
      yield tooLong ? { n, tooLong: true } : { n, text: (parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, length)).toString('utf8') };
      parts = [];
      length = 0;
      tooLong = false;
      from = nl + 1;
    }
  }
  end.empty = empty;
  // A last line without its "\n" is not yielded (the caller reports the missing newline), unless it is
  // already over the cap: that is the first thing wrong with it.
  end.newline = length === 0 && !tooLong;
  if (tooLong) yield { n: n + 1, tooLong: true };
}
