// Bundles on disk beyond what a verifier reads: a line over the line cap, a transcript over the file cap
// (set low here through the caps option; the defaults are 4 MiB a line and 2 GiB a transcript), an oversized
// small file, a folder of many files, a symbolic link to /dev/zero, an endless line. Each is refused in words,
// by `keyceremony verify` and by import, without reading the file whole.
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src-main/cli/main.js';
import { exportFromStore } from '../../src-main/transcript/export.js';
import { importBundles } from '../../src-main/transcript/import.js';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';

const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '1234abcd', label: 'caps' };
const signer = NodeAuditSigner.generate();
let dir: string;
let bundle: string;

async function copyOf(name: string): Promise<string> {
  const copy = join(dir, name);
  await mkdir(copy);
  for (const f of await readdir(bundle)) await writeFile(join(copy, f), await readFile(join(bundle, f)));
  return copy;
}
const failure = async (path: string, caps = {}) => (await verifyBundles([path], { caps })).firstFailure;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kc-caps-'));
  const { store } = await TranscriptStore.open(join(dir, 'store'));
  await store.appendGenesis('c1', 'administrator', token, signer.spkiDer());
  await store.append({ ceremonyId: 'c1', step: 'note', kind: 'note', actor: 'administrator', data: { text: 'short' } });
  await store.append({ ceremonyId: 'c1', step: 'note', kind: 'note', actor: 'administrator', data: { text: 'x'.repeat(20_000) } });
  bundle = (await exportFromStore(store, signer, { parentDir: dir, range: { ceremonyId: 'c1' }, appVersion: '0.1.0' })).path;
  await store.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bundle caps', () => {
  it('the bundle verifies within the default caps', async () => {
    const r = await verifyBundles([bundle]);
    expect(r.ok).toBe(true);
    expect(r.entryCount).toBe(3);
  });

  it('a line over the line cap is refused, naming the line and the limit', async () => {
    expect(await failure(bundle, { lineBytes: 16 * 1024 })).toMatchObject({
      id: 'entries',
      seq: 2,
      detail: 'transcript.jsonl line 3 (expected seq 2) is longer than 16 KiB, the limit for one entry',
    });
  });

  it('a transcript over the file cap is not read', async () => {
    const f = await failure(bundle, { transcriptBytes: 8 * 1024 });
    expect(f?.id).toBe('files');
    expect(f?.detail).toMatch(/^transcript\.jsonl is \d+ bytes, more than the 8 KiB a transcript may hold$/);
  });

  it('an oversized VERIFY.md, a symbolic link to /dev/zero and a folder of many files are refused', async () => {
    const big = await copyOf('big-verify-md');
    await writeFile(join(big, 'VERIFY.md'), Buffer.alloc(300 * 1024, 0x61));
    expect((await failure(big))?.detail).toBe('VERIFY.md is 307200 bytes, more than the 256 KiB this file may hold');

    const zero = await copyOf('zero');
    await rm(join(zero, 'transcript.jsonl'));
    await symlink('/dev/zero', join(zero, 'transcript.jsonl'));
    expect((await failure(zero))?.detail).toBe('transcript.jsonl is not a regular file (a symbolic link, folder, FIFO or device is never read)');
    expect((await verifyBundles([zero])).checks[0]).toMatchObject({ id: 'files', status: 'fail' });

    const crowded = await copyOf('crowded');
    for (let i = 0; i < 70; i += 1) await writeFile(join(crowded, `.junk-${i}`), '');
    expect((await failure(crowded))?.detail).toBe(`${crowded} holds more than 64 files; a bundle holds 6. Choose the bundle folder itself`);
  });

  it('more bundles than a verifier takes at once are refused before any is read', async () => {
    const r = await verifyBundles(Array.from({ length: 257 }, () => join(dir, 'absent')));
    expect(r.verdict.status).toBe('broken');
    expect(r.firstFailure?.detail).toBe('257 bundles were given; at most 256 are verified together. Verify consecutive groups, each with --expect-audit-key');
  });

  it('an endless line (6 MiB without a newline) is refused without assembling it', async () => {
    const endless = await copyOf('endless');
    const out = createWriteStream(join(endless, 'transcript.jsonl'));
    const chunk = Buffer.alloc(1024 * 1024, 0x7b);
    for (let i = 0; i < 6; i += 1) out.write(chunk);
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    expect(await failure(endless)).toMatchObject({ id: 'entries', detail: 'transcript.jsonl line 1 is longer than 4 MiB, the limit for one entry' });
  });

  it('keyceremony verify exits 1 naming the cap; import refuses and imports nothing', async () => {
    const big = join(dir, 'big-verify-md');
    let stdout = '';
    const out = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => true } };
    expect(await runCli(['verify', big], out)).toBe(1);
    expect(stdout).toContain(`FAILED: check 'files' in ${big}: VERIFY.md is 307200 bytes, more than the 256 KiB this file may hold`);

    const { store } = await TranscriptStore.open(join(dir, 'laptop-b'));
    try {
      await expect(importBundles(store, [bundle], { lineBytes: 16 * 1024 })).rejects.toThrow(
        'The bundles do not verify: entry 2: transcript.jsonl line 3 (expected seq 2) is longer than 16 KiB, the limit for one entry. Nothing was imported.',
      );
      expect(store.head()).toBeNull();
      expect(await importBundles(store, [bundle])).toMatchObject({ imported: 3, alreadyHeld: 0 });
    } finally {
      await store.close();
    }
  });
});
