// Which of the entries the device returns are new since the transcript's cursor, with the digest chain
// verified across the cursor: the device returns every entry not yet marked consumed, which may include
// entries already copied (when consuming failed) or may start later than the cursor (the log wrapped).
import type { DeviceLogCursor, DeviceLogEntryData } from '../device-log.js';
import { hex } from './bytes.js';
import { commandName } from './constants.js';
import { YubiHsmErrorCodes, protocolError } from './errors.js';
import { verifyLogChain, type LogEntry } from './log.js';

export interface NewEntries {
  entries: LogEntry[];
  gap?: { after: number; resumesAt: number };
}

const after = (a: number, b: number) => ((a - b) & 0xffff) !== 0 && ((a - b) & 0xffff) < 0x8000;

/** `entries` (chain already verified among themselves) after `cursor`. */
export function entriesSince(entries: readonly LogEntry[], cursor: DeviceLogCursor | null): NewEntries {
  if (!cursor) return { entries: [...entries] };
  const at = entries.findIndex((e) => e.number === cursor.number);
  if (at >= 0) {
    const seen = entries[at] as LogEntry;
    if (hex(seen.digest) !== cursor.digestHex)
      throw protocolError(
        YubiHsmErrorCodes.LOG_CHAIN_BROKEN,
        `The YubiHSM audit log entry ${cursor.number} now has digest ${hex(seen.digest)}, but the transcript recorded ${cursor.digestHex}: the device's log is not the one recorded.`,
        'Keep the device and the transcript as they are for the auditors; do not continue the ceremony on this device.',
      );
    return { entries: entries.slice(at + 1) };
  }
  const fresh = entries.filter((e) => after(e.number, cursor.number));
  const first = fresh[0];
  if (!first) return { entries: [] };
  if (((first.number - cursor.number) & 0xffff) === 1) {
    // verifyLogChain reads only the previous entry's number and digest, which is what the cursor keeps.
    const previous = { number: cursor.number, digest: new Uint8Array(Buffer.from(cursor.digestHex, 'hex')) } as unknown as LogEntry;
    verifyLogChain([first], previous);
    return { entries: fresh };
  }
  return { entries: fresh, gap: { after: cursor.number, resumesAt: first.number } };
}

export function entryData(e: LogEntry): DeviceLogEntryData {
  return {
    number: e.number,
    command: e.command,
    commandName: e.command === 0xff ? 'RESET' : e.command === 0 ? 'BOOT' : commandName(e.command),
    length: e.length,
    sessionKey: e.sessionKey,
    targetKey: e.targetKey,
    secondKey: e.secondKey,
    result: e.result,
    tick: e.tick,
    digestHex: hex(e.digest),
  };
}
