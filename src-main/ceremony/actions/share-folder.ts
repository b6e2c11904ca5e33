// Before a share file is written (and so before the token is touched: init-token writes and proves every
// share first), its folder is checked: it exists, is a folder, is writable, has room, and does not already
// hold a file of the name about to be written. The CLI checks every custodian's folder this way before it
// starts; the app checks each custodian's stick when they come to the laptop.
import { constants } from 'node:fs';
import { access, lstat, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../errors.js';
import { SHARE_FILE_EXTENSION } from '../quorum/index.js';

/** Room asked for per share file: an encrypted share file is well under 2 KiB; the rest is margin. */
export const SHARE_FILE_ROOM = 64 * 1024;

export const shareFileName = (custodian: string) => `${custodian}${SHARE_FILE_EXTENSION}`;

/**
 * Refuse (AppError naming `field`, the folder and the remedy) unless `names` can be created in `dir`: an
 * existing, writable folder with `room` bytes free that holds none of them.
 */
export async function checkOutputFolder(dir: string, names: readonly string[], field: string, room: number): Promise<void> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new AppError('output-folder-missing', `${field}: ${dir} is not an existing folder`, 'Insert the USB stick and choose a folder on it. Nothing was written and the token is untouched.');
  try {
    await access(dir, constants.W_OK);
  } catch (error) {
    throw new AppError('output-folder-read-only', `${field}: ${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'Use a writable USB stick (check its write-protect switch) or another folder. Nothing was written and the token is untouched.');
  }
  const taken: string[] = [];
  for (const name of names) {
    try {
      await lstat(join(dir, name));
      taken.push(name);
    } catch {
      // Absent, as it must be.
    }
  }
  if (taken.length > 0) {
    throw new AppError(
      'share-file-exists',
      `${field}: ${dir} already holds ${taken.join(', ')}; a share file is never overwritten`,
      'Use an empty folder, or move the old file away first if it is from an earlier attempt (keep it: the shares of an interrupted or aborted attempt rebuild the SO PIN of the token it initialized). Nothing was written and the token is untouched.',
    );
  }
  const fs = await statfs(dir);
  const free = Number(fs.bavail) * Number(fs.bsize);
  if (free < room) throw new AppError('output-folder-full', `${field}: ${dir} has ${free} bytes free; ${room} are needed`, 'Use a USB stick with free space. Nothing was written and the token is untouched.');
}

/** The share files of `custodians` can be written into `dir` (see checkOutputFolder). */
export function checkShareFolder(dir: string, custodians: readonly string[], field = 'destinationDir'): Promise<void> {
  return checkOutputFolder(dir, custodians.map(shareFileName), field, SHARE_FILE_ROOM * custodians.length);
}
