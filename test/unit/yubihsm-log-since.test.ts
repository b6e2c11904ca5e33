// Which device log entries are new since the transcript's cursor (hsm/yubihsm/log-since.ts): entries
// already copied are dropped, the chain is checked across the cursor, a rewritten entry is refused, and
// entries the device no longer holds are reported as a gap. The chain is built here with node:crypto.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { entriesSince, entryData } from '../../hsm/yubihsm/log-since.js';
import type { LogEntry } from '../../hsm/yubihsm/log.js';
import { resolveStepInput } from '../../src-main/ceremony-handlers.js';
import { ModuleIds } from '../../src-main/settings/module-ids.js';
import { Selections } from '../../src-main/files/selections.js';

/** Entries 1..n chained from a zero anchor, as the device computes them. */
function chain(n: number): LogEntry[] {
  const out: LogEntry[] = [];
  let prev = Buffer.alloc(16);
  for (let number = 1; number <= n; number++) {
    const b = Buffer.alloc(16);
    b.writeUInt16BE(number, 0);
    b.writeUInt8(0x6e, 2); // GENERATE_SYMMETRIC_KEY
    b.writeUInt16BE(5, 3);
    b.writeUInt16BE(3, 5);
    b.writeUInt16BE(number * 7, 7);
    b.writeUInt16BE(0xffff, 9);
    b.writeUInt8(0xca, 11);
    b.writeUInt32BE(1000 + number, 12);
    const digest = createHash('sha256').update(b).update(prev).digest().subarray(0, 16);
    out.push({ number, command: 0x6e, length: 5, sessionKey: 3, targetKey: number * 7, secondKey: 0xffff, result: 0xca, tick: 1000 + number, digest: new Uint8Array(digest) });
    prev = digest;
  }
  return out;
}
const cursorAt = (e: LogEntry) => ({ serial: '1', number: e.number, digestHex: Buffer.from(e.digest).toString('hex') });

describe('entriesSince', () => {
  const all = chain(10);

  it('returns everything without a cursor, and only what follows the cursor when it is still held', () => {
    expect(entriesSince(all, null).entries.map((e) => e.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(entriesSince(all, cursorAt(all[3]!)).entries.map((e) => e.number)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(entriesSince(all, cursorAt(all[9]!)).entries).toEqual([]);
  });

  it('checks the chain across the cursor when the device consumed it (the usual case)', () => {
    expect(entriesSince(all.slice(4), cursorAt(all[3]!)).entries.map((e) => e.number)).toEqual([5, 6, 7, 8, 9, 10]);
    const forged = { ...cursorAt(all[3]!), digestHex: '00'.repeat(16) };
    expect(() => entriesSince(all.slice(4), forged)).toThrow('entry 5 (GENERATE_SYMMETRIC_KEY) does not chain to entry 4');
  });

  it('refuses a held entry whose digest is not the recorded one', () => {
    expect(() => entriesSince(all, { ...cursorAt(all[3]!), digestHex: 'ab'.repeat(16) })).toThrow(`entry 4 now has digest ${Buffer.from(all[3]!.digest).toString('hex')}, but the transcript recorded ${'ab'.repeat(16)}`);
  });

  it('reports entries the device no longer holds as a gap', () => {
    const r = entriesSince(all.slice(6), cursorAt(all[2]!));
    expect(r.gap).toEqual({ after: 3, resumesAt: 7 });
    expect(r.entries.map((e) => e.number)).toEqual([7, 8, 9, 10]);
  });

  it('turns entries into plain data with names', () => {
    expect(entryData(all[0]!)).toMatchObject({ number: 1, commandName: 'GENERATE_SYMMETRIC_KEY', digestHex: Buffer.from(all[0]!.digest).toString('hex') });
    expect(entryData({ ...all[0]!, command: 0xff }).commandName).toBe('RESET');
    expect(entryData({ ...all[0]!, command: 0 }).commandName).toBe('BOOT');
  });
});

describe('ceremony handlers and YubiHSM module ids', () => {
  it('map an opaque module id to a yubihsm: module, and still refuse a typed path', () => {
    const ids = new ModuleIds();
    const listed = (p: string) => p === 'yubihsm:http://127.0.0.1:12345';
    const ctx = { action: 'select-token', selections: new Selections(), modulePath: (id: string, field: string) => ids.pathFor(id, listed, field) };
    const id = ids.idFor('yubihsm:http://127.0.0.1:12345');
    expect(resolveStepInput({ moduleId: id, slotId: '1234567' }, ctx)).toEqual({ moduleId: 'yubihsm:http://127.0.0.1:12345', slotId: '1234567' });
    expect(() => resolveStepInput({ moduleId: 'yubihsm:usb', slotId: '1' }, ctx)).toThrow('input.moduleId: that module is not in the module list');
    expect(() => resolveStepInput({ destinationDir: '/tmp/x' }, ctx)).toThrow('input.destinationDir: a file or folder must be chosen in the dialog, not typed.');
  });
});
