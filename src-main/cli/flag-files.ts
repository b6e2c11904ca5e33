// Files named on the command line (share, passphrase, PIN and key files) are read through the bounded
// reader before any ceremony starts; a refusal is a usage error (exit 2) that opens with the flag as typed.
import { AppError } from '../errors.js';
import { FILE_CAPS, readBounded, readSecretText, type FileKind } from '../files/read-bounded.js';
import { UsageError } from './args.js';

export const PASSPHRASE_FILE: FileKind = {
  what: 'passphrase file',
  cap: FILE_CAPS.secretFile,
  remedy: 'Name a small text file holding the passphrase alone on one line.',
  code: 'usage',
};

export const PIN_FILE: FileKind = { what: 'PIN file', cap: FILE_CAPS.secretFile, remedy: 'Name a small text file holding the PIN alone on one line.', code: 'usage' };

async function asUsage<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof AppError) throw new UsageError(`${error.message}${error.remedy ? `\n  ${error.remedy}` : ''}`);
    throw error;
  }
}

/** `flag` is the option as typed (`--share a.share:a.pass`); the refusal starts with it. */
export function readFlagFile(flag: string, path: string, kind: FileKind): Promise<Buffer> {
  return asUsage(() => readBounded(path, { ...kind, field: flag }));
}

/** A passphrase or PIN: the file's text without its final line break. */
export function readFlagSecret(flag: string, path: string, kind: FileKind): Promise<string> {
  return asUsage(() => readSecretText(path, { ...kind, field: flag }));
}
