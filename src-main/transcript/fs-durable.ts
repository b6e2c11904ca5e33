// Durable file primitives: fsync of files and directories, atomic replace, exclusive create with read-back.
import { constants } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { sha256Hex } from './canonical.js';

export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Write every byte of `data` to an open handle, however many write calls it takes. */
export async function writeAll(handle: import('node:fs/promises').FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    offset += bytesWritten;
  }
}

/** Replace `path` with `data` so that a crash leaves either the old file or the new one, never a mix. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const handle = await open(temp, 'w', 0o600);
  try {
    await writeAll(handle, data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, path);
  await fsyncDirectory(dirname(path));
}

/**
 * Create a new file (O_EXCL: never overwrite), write it, fsync it, read it back and compare SHA-256.
 * Returns the SHA-256 (hex) of what is on disk. On any failure after the file was created it is removed, so
 * nothing half-written is left looking complete. The caller fsyncs the directory.
 */
export async function writeNewFileVerified(path: string, data: Uint8Array, mode = 0o644): Promise<string> {
  const handle = await open(path, 'wx', mode);
  try {
    try {
      await writeAll(handle, data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const expected = sha256Hex(data);
    const actual = sha256Hex(await readFile(path));
    if (actual !== expected) throw new Error(`read-back of ${path} has SHA-256 ${actual}, expected ${expected}`);
    return actual;
  } catch (error) {
    await rm(path, { force: true }).catch(() => undefined);
    throw error;
  }
}
