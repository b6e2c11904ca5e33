import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { JOURNAL_FILE, TranscriptStore } from '../../src-main/transcript/store.js';

const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '1234abcd', label: 'test' };
let dir: string;
let now: number;
const clock = () => new Date(now++);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kc-store-'));
  now = Date.parse('2026-01-31T12:00:00.000Z');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function filled(n: number) {
  const { store } = await TranscriptStore.open(dir, { clock });
  await store.appendGenesis('c1', 'administrator', token, NodeAuditSigner.generate().spkiDer());
  for (let i = 1; i < n; i += 1) await store.append({ ceremonyId: 'c1', step: `s${i}`, kind: 'intent', actor: 'administrator', data: { i } });
  return store;
}

describe('TranscriptStore', () => {
  it('appends, survives reopen, and answers queries', async () => {
    const store = await filled(10);
    const head = store.head();
    await store.close();
    const { store: again, report } = await TranscriptStore.open(dir, { clock });
    expect(report).toMatchObject({ entries: 10, head, database: 'loaded', replayed: 0, warnings: [] });
    expect(report.tailRepair).toBeUndefined();
    expect(again.entries(3, 5).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(again.entryAt(9)?.hash).toBe(head?.hash);
    expect(again.ceremonies()).toEqual([{ ceremonyId: 'c1', firstSeq: 0, lastSeq: 9, startedAt: '2026-01-31T12:00:00.000Z', lastAt: expect.any(String), entryCount: 10 }]);
    expect(again.tail(2).map((e) => e.seq)).toEqual([8, 9]);
    await again.close();
  });

  it('refuses a first entry that is not genesis', async () => {
    const { store } = await TranscriptStore.open(dir, { clock });
    await expect(store.append({ ceremonyId: 'c1', step: 's', kind: 'intent', actor: 'a', data: {} })).rejects.toThrow(
      "The transcript entry was refused: seq 0 must be the genesis entry (kind 'genesis'), not kind 'intent'.",
    );
    await store.close();
  });

  it('refuses a genesis entry without the token and audit key', async () => {
    const { store } = await TranscriptStore.open(dir, { clock });
    await expect(store.append({ ceremonyId: 'c1', step: 'genesis', kind: 'genesis', actor: 'a', data: { format: 'keyceremony-transcript/1' } })).rejects.toMatchObject({
      code: 'TRANSCRIPT_ENTRY_INVALID',
      message: "The transcript entry was refused: genesis field 'data.token' is missing or not an object.",
    });
    expect(store.size).toBe(0);
    await store.close();
  });

  it('refuses bad input naming the field, and writes nothing', async () => {
    const store = await filled(2);
    await expect(store.append({ ceremonyId: 'c1', step: 's', kind: 'intent', actor: '', data: {} })).rejects.toThrow(
      "The transcript entry was refused: field 'actor' must be a non-empty string of at most 256 characters.",
    );
    await expect(store.append({ ceremonyId: 'c1', step: 's', kind: 'genesis', actor: 'a', data: {} })).rejects.toThrow(
      "The transcript entry was refused: kind 'genesis' is only allowed at seq 0.",
    );
    expect(store.size).toBe(2);
    await store.close();
  });

  it('refuses to go back in time', async () => {
    const store = await filled(2);
    now -= 10_000;
    await expect(store.append({ ceremonyId: 'c1', step: 's', kind: 'intent', actor: 'a', data: {} })).rejects.toMatchObject({ code: 'TRANSCRIPT_CLOCK_BEHIND' });
    await store.close();
  });

  it('cuts a torn last record, reports it and keeps it as evidence', async () => {
    const store = await filled(5);
    await store.close();
    await appendFile(join(dir, JOURNAL_FILE), '{"actor":"adminis');
    const { store: again, report } = await TranscriptStore.open(dir, { clock });
    expect(report.entries).toBe(5);
    expect(report.tailRepair).toMatchObject({ droppedBytes: 17, lastValidSeq: 4, reason: 'line 6 is incomplete (17 bytes without a newline): a write torn by a crash' });
    expect(await readFile(report.tailRepair!.savedTo, 'utf8')).toBe('{"actor":"adminis');
    const next = await again.append({ ceremonyId: 'c1', step: 'after', kind: 'intent', actor: 'a', data: {} });
    expect(next.seq).toBe(5);
    await again.close();
    const third = await TranscriptStore.open(dir, { clock });
    expect(third.report.tailRepair).toBeUndefined();
    expect(third.report.entries).toBe(6);
    await third.store.close();
  });

  it('cuts a last line that does not chain', async () => {
    const store = await filled(3);
    await store.close();
    const lines = (await readFile(join(dir, JOURNAL_FILE), 'utf8')).split('\n');
    await appendFile(join(dir, JOURNAL_FILE), `${lines[1]}\n`);
    const { store: again, report } = await TranscriptStore.open(dir, { clock });
    expect(report.tailRepair?.reason).toBe('the last line is damaged: line 4 (seq 1): seq 1 follows seq 2; expected seq 3');
    await again.close();
  });

  it('refuses damage in the middle of the journal', async () => {
    const store = await filled(5);
    await store.close();
    const path = join(dir, JOURNAL_FILE);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace('"step":"s2"', '"step":"s9"'));
    await expect(TranscriptStore.open(dir, { clock })).rejects.toMatchObject({ code: 'TRANSCRIPT_JOURNAL_DAMAGED' });
    await expect(TranscriptStore.open(dir, { clock })).rejects.toThrow(/is damaged after seq 1: line 3 \(seq 2\): hash [0-9a-f]{64} does not match the entry's content, which hashes to [0-9a-f]{64}; further records follow, which a crash cannot cause\.$/);
  });

  it('rebuilds a database that does not match the journal', async () => {
    const store = await filled(4);
    await store.close();
    await writeFile(join(dir, 'transcript.sqlite'), 'not a database');
    const { store: again, report } = await TranscriptStore.open(dir, { clock });
    expect(report.database).toBe('rebuilt');
    expect(report.warnings[0]).toMatch(/could not be read/);
    expect(again.entries(0, 10)).toHaveLength(4);
    await again.close();
  });
});
