import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { exportFromStore } from '../../src-main/transcript/export.js';
import { importBundles } from '../../src-main/transcript/import.js';

const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '0001', label: 't' };
let dir: string;
let signer: NodeAuditSigner;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-import-'));
  signer = NodeAuditSigner.generate();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Laptop A: genesis + ceremony c1, exported; then ceremony c2, exported. */
async function laptopA() {
  const { store } = await TranscriptStore.open(join(dir, 'a'));
  await store.appendGenesis('c1', 'admin', token, signer.spkiDer());
  await store.append({ ceremonyId: 'c1', step: 's', kind: 'result', actor: 'admin', data: { n: 1 } });
  const b1 = await exportFromStore(store, signer, { parentDir: dir, range: { ceremonyId: 'c1' }, appVersion: 't' });
  await store.append({ ceremonyId: 'c2', step: 's', kind: 'result', actor: 'admin', data: { n: 2 } });
  await store.append({ ceremonyId: 'c2', step: 't', kind: 'result', actor: 'admin', data: { n: 3 } });
  const b2 = await exportFromStore(store, signer, { parentDir: dir, range: { ceremonyId: 'c2' }, appVersion: 't' });
  const head = store.head();
  await store.append({ ceremonyId: 'c3', step: 's', kind: 'result', actor: 'admin', data: { n: 4 } });
  const b3 = await exportFromStore(store, signer, { parentDir: dir, range: { ceremonyId: 'c3' }, appVersion: 't' });
  await store.close();
  return { b1: b1.path, b2: b2.path, b3: b3.path, head };
}

describe('importBundles', () => {
  it('brings an empty store up to the token history, then only what is new', async () => {
    const { b1, b2, head } = await laptopA();
    const { store } = await TranscriptStore.open(join(dir, 'b'));
    expect(await importBundles(store, [b1])).toEqual({ imported: 2, alreadyHeld: 0, head: expect.objectContaining({ seq: 1 }) });
    expect(await importBundles(store, [b1, b2])).toEqual({ imported: 2, alreadyHeld: 2, head: expect.objectContaining({ seq: 3, hash: head!.hash }) });
    await store.close();
    // What was imported survives a reopen exactly.
    const again = await TranscriptStore.open(join(dir, 'b'));
    expect(again.store.head()?.hash).toBe(head!.hash);
    expect(again.report.warnings).toEqual([]);
    await again.store.close();
  });

  it('refuses a gap, naming the missing entries', async () => {
    const { b1, b3 } = await laptopA();
    const { store } = await TranscriptStore.open(join(dir, 'b'));
    await expect(importBundles(store, [b3])).rejects.toThrow('The bundles do not verify: the audit key is not anchored');
    await importBundles(store, [b1]);
    await expect(importBundles(store, [b3])).rejects.toThrow('The bundles continue at entry 4, but the local transcript ends at entry 1: entries 2-3 are missing. Nothing was imported.');
    expect(store.head()?.seq).toBe(1);
    await store.close();
  });

  it('refuses a diverged history and imports nothing', async () => {
    const { b1, b2 } = await laptopA();
    const { store } = await TranscriptStore.open(join(dir, 'b'));
    await importBundles(store, [b1]);
    await store.append({ ceremonyId: 'other', step: 's', kind: 'result', actor: 'admin', data: { n: 99 } });
    await expect(importBundles(store, [b1, b2])).rejects.toThrow('Entry 2 of the bundles');
    expect(store.head()?.seq).toBe(2);
    await store.close();
  });

  it('refuses bundles signed by another audit key than the store genesis names', async () => {
    const { b1 } = await laptopA();
    const { store } = await TranscriptStore.open(join(dir, 'b'));
    await store.appendGenesis('x', 'admin', token, NodeAuditSigner.generate().spkiDer());
    await expect(importBundles(store, [b1])).rejects.toThrow('The bundles do not verify');
    expect(store.head()?.seq).toBe(0);
    await store.close();
  });
});
