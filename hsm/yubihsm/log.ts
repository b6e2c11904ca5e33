// The device's audit log: 32-byte entries chained by a truncated SHA-256.
// digest(n) = SHA-256(entry(n) without its digest || digest(n-1))[0..16]
import { createHash } from 'node:crypto';
import { concat, equalBytes, hex, Reader, u16, u32, u8 } from './bytes.js';
import { commandName } from './constants.js';
import { YubiHsmErrorCodes, protocolError } from './errors.js';

export const LOG_ENTRY_LENGTH = 32;
export const LOG_DIGEST_LENGTH = 16;

export interface LogEntry {
  number: number;
  command: number;
  /** Length of the command's payload. */
  length: number;
  /** Authentication key of the session, 0xFFFF outside a session. */
  sessionKey: number;
  targetKey: number;
  secondKey: number;
  /** The response command byte (command | 0x80, or 0x7F on error). */
  result: number;
  /** Device system tick when the command ran. */
  tick: number;
  digest: Uint8Array;
}

export interface LogData {
  unloggedBoot: number;
  unloggedAuth: number;
  entries: LogEntry[];
}

export function logEntryData(e: Omit<LogEntry, 'digest'>): Uint8Array {
  return concat(u16(e.number), u8(e.command), u16(e.length), u16(e.sessionKey), u16(e.targetKey), u16(e.secondKey), u8(e.result), u32(e.tick));
}

export function encodeLogEntry(e: LogEntry): Uint8Array {
  return concat(logEntryData(e), e.digest);
}

export function chainDigest(entryData: Uint8Array, previousDigest: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(entryData).update(previousDigest).digest().subarray(0, LOG_DIGEST_LENGTH));
}

export function parseLogEntry(bytes: Uint8Array): LogEntry {
  const r = new Reader(bytes);
  return {
    number: r.u16(),
    command: r.u8(),
    length: r.u16(),
    sessionKey: r.u16(),
    targetKey: r.u16(),
    secondKey: r.u16(),
    result: r.u8(),
    tick: r.u32(),
    digest: new Uint8Array(r.bytes(LOG_DIGEST_LENGTH)),
  };
}

export function parseLogData(payload: Uint8Array): LogData {
  const r = new Reader(payload);
  const unloggedBoot = r.u16();
  const unloggedAuth = r.u16();
  const count = r.u8();
  if (r.remaining !== count * LOG_ENTRY_LENGTH) throw new RangeError(`log answer announces ${count} entries but carries ${r.remaining} bytes`);
  const entries: LogEntry[] = [];
  for (let i = 0; i < count; i++) entries.push(parseLogEntry(r.bytes(LOG_ENTRY_LENGTH)));
  return { unloggedBoot, unloggedAuth, entries };
}

/**
 * Check each entry's digest against the one before it. The first entry is the anchor unless `previous`
 * (an entry the caller already trusts, e.g. the last one recorded in a transcript) is given.
 */
export function verifyLogChain(entries: readonly LogEntry[], previous?: LogEntry): void {
  let prev = previous;
  for (const e of entries) {
    if (prev) {
      if (((e.number - prev.number) & 0xffff) !== 1)
        throw protocolError(
          YubiHsmErrorCodes.LOG_CHAIN_BROKEN,
          `The YubiHSM audit log skips from entry ${prev.number} to entry ${e.number}: entries are missing.`,
          'Keep the log as it is for the auditors and report it; do not continue the ceremony on this device.',
        );
      const expected = chainDigest(logEntryData(e), prev.digest);
      if (!equalBytes(expected, e.digest))
        throw protocolError(
          YubiHsmErrorCodes.LOG_CHAIN_BROKEN,
          `The YubiHSM audit log entry ${e.number} (${commandName(e.command)}) does not chain to entry ${prev.number}: digest ${hex(e.digest)}, expected ${hex(expected)}.`,
          'Keep the log as it is for the auditors and report it; do not continue the ceremony on this device.',
        );
    }
    prev = e;
  }
}
