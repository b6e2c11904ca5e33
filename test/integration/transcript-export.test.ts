// Export bundles to disk and check them with independent tools: openssl, sha256sum, and the Python recipe in
// VERIFY.md; and with `keyceremony verify`.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src-main/cli/main.js';
import { exportFromStore } from '../../src-main/transcript/export.js';
import { NodeAuditSigner, type AuditSigner } from '../../src-main/transcript/signer.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';

const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '1234abcd', label: 'Zürich ✓' };
const signer = NodeAuditSigner.generate();
let dir: string;
let out: string;
let store: TranscriptStore;

function capture() {
  let stdout = '';
  let stderr = '';
  return { out: { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } }, text: () => ({ stdout, stderr }) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kc-export-'));
  out = join(dir, 'usb');
  await mkdir(out);
  ({ store } = await TranscriptStore.open(join(dir, 'store')));
  await store.appendGenesis('c1', 'administrator', token, signer.spkiDer());
  await store.append({ ceremonyId: 'c1', step: 'generate', kind: 'intent', actor: 'administrator', data: { label: 'kms "key"\n', emoji: '🔑', bits: 256, nested: { z: [1, null, true], a: 'é' } } });
  await store.append({ ceremonyId: 'c1', step: 'generate', kind: 'result', actor: 'token', data: { ok: true } });
  await store.append({ ceremonyId: 'c2', step: 'wrap', kind: 'intent', actor: 'administrator', data: {} });
  await store.append({ ceremonyId: 'c2', step: 'wrap', kind: 'result', actor: 'token', data: { bytes: -40 } });
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('export bundle', () => {
  let b1: string;
  let b2: string;
  it('writes a complete bundle that openssl, sha256sum and the VERIFY.md Python recipe accept', async () => {
    const r = await exportFromStore(store, signer, { parentDir: out, range: { ceremonyId: 'c1' }, appVersion: '0.1.0' });
    b1 = r.path;
    expect(b1).toBe(join(out, 'keyceremony-transcript-c1-000000-000002'));
    expect((await readdir(out)).sort()).toEqual(['keyceremony-transcript-c1-000000-000002']);
    expect((await readdir(b1)).sort()).toEqual(['VERIFY.md', 'audit-public-key.pem', 'manifest.json', 'transcript.jsonl', 'transcript.jsonl.sig']);

    const ossl = spawnSync('openssl', ['dgst', '-sha384', '-verify', 'audit-public-key.pem', '-signature', 'transcript.jsonl.sig', 'transcript.jsonl'], { cwd: b1, encoding: 'utf8' });
    expect(ossl.stdout.trim()).toBe('Verified OK');
    expect(ossl.status).toBe(0);

    const manifest = JSON.parse(await readFile(join(b1, 'manifest.json'), 'utf8'));
    const fp = spawnSync('sh', ['-c', 'openssl pkey -pubin -in audit-public-key.pem -outform DER | sha256sum'], { cwd: b1, encoding: 'utf8' });
    expect(fp.stdout.split(' ')[0]).toBe(manifest.auditKey.spkiSha256);
    const sums = spawnSync('sha256sum', ['transcript.jsonl', 'transcript.jsonl.sig', 'audit-public-key.pem', 'VERIFY.md'], { cwd: b1, encoding: 'utf8' });
    for (const line of sums.stdout.trim().split('\n')) {
      const [sum, file] = line.split(/\s+/);
      expect(manifest.files[file as string].sha256).toBe(sum);
    }

    const md = await readFile(join(b1, 'VERIFY.md'), 'utf8');
    const script = /```sh\n([\s\S]*?)```/.exec(md)?.[1];
    expect(script).toBeDefined();
    const py = spawnSync('sh', ['-c', script as string], { cwd: b1, encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect(py.stdout.trim()).toBe(`chain OK, head ${manifest.head}`);
    expect(store.exports()).toMatchObject([{ path: b1, ceremonyId: 'c1', firstSeq: 0, lastSeq: 2, headHash: manifest.head }]);
  });

  it('links consecutive bundles through prev, and keyceremony verify checks them together', async () => {
    b2 = (await exportFromStore(store, signer, { parentDir: out, range: { ceremonyId: 'c2' }, appVersion: '0.1.0' })).path;
    const m1 = JSON.parse(await readFile(join(b1, 'manifest.json'), 'utf8'));
    const m2 = JSON.parse(await readFile(join(b2, 'manifest.json'), 'utf8'));
    expect(m2.prev).toBe(m1.head);
    const pem = join(dir, 'trusted.pem');
    await writeFile(pem, await readFile(join(b1, 'audit-public-key.pem')));

    const c = capture();
    expect(await runCli(['verify', b2, b1, '--expect-audit-key', pem], c.out)).toBe(0);
    expect(c.text().stdout).toContain(`OK: 5 entries verified, head seq 4 ${m2.head}.`);
    expect(c.text().stdout).not.toContain('Note:');

    const alone = capture();
    expect(await runCli(['verify', b2], alone.out)).toBe(1);
    expect(alone.text().stdout).toContain("FAILED: check 'audit-key': the audit key is not anchored: no bundle holds the genesis entry (seq 0) and no --expect-audit-key was given");

    const json = capture();
    expect(await runCli(['verify', '--json', b1], json.out)).toBe(0);
    const report = JSON.parse(json.text().stdout);
    expect(report.ok).toBe(true);
    expect(report.entries).toHaveLength(3);
  });

  it('names the first broken entry when a bundle was tampered with', async () => {
    const copy = join(dir, 'tampered');
    await mkdir(copy);
    for (const f of await readdir(b1)) await writeFile(join(copy, f), await readFile(join(b1, f)));
    const t = await readFile(join(copy, 'transcript.jsonl'), 'utf8');
    await writeFile(join(copy, 'transcript.jsonl'), t.replace('"bits":256', '"bits":128'));
    const c = capture();
    expect(await runCli(['verify', copy], c.out)).toBe(1);
    expect(c.text().stdout).toMatch(/FAILED: entry seq 1 in .*tampered: transcript.jsonl line 2 \(seq 1\): hash [0-9a-f]{64} does not match the entry's content, which hashes to [0-9a-f]{64}\n$/);
  });

  it('never overwrites, and leaves nothing behind when signing fails', async () => {
    await expect(exportFromStore(store, signer, { parentDir: out, range: { ceremonyId: 'c1' }, appVersion: '0.1.0' })).rejects.toMatchObject({ code: 'TRANSCRIPT_EXPORT_EXISTS' });
    const broken: AuditSigner = { spkiDer: () => signer.spkiDer(), sign: async () => new Uint8Array([0x30, 0x00]) };
    await expect(exportFromStore(store, broken, { parentDir: out, range: { first: 1, last: 3 }, appVersion: '0.1.0' })).rejects.toThrow('The audit key returned a signature that does not verify over transcript.jsonl.');
    const foreign = NodeAuditSigner.generate();
    await expect(exportFromStore(store, foreign, { parentDir: out, range: { first: 1, last: 3 }, appVersion: '0.1.0' })).rejects.toThrow('The audit key offered for signing is not the audit key recorded in the genesis entry.');
    await mkdir(join(out, 'keyceremony-transcript-range-000001-000003.partial'));
    await expect(exportFromStore(store, signer, { parentDir: out, range: { first: 1, last: 3 }, appVersion: '0.1.0' })).rejects.toMatchObject({ code: 'TRANSCRIPT_EXPORT_EXISTS' });
    await rm(join(out, 'keyceremony-transcript-range-000001-000003.partial'), { recursive: true });
    expect((await readdir(out)).sort()).toEqual(['keyceremony-transcript-c1-000000-000002', 'keyceremony-transcript-c2-000003-000004']);
    await expect(exportFromStore(store, signer, { parentDir: out, range: { first: 3, last: 9 }, appVersion: '0.1.0' })).rejects.toThrow('The range 3-9 is not within the transcript (seq 0-4).');
  });

  it('rejects bad command lines with exit 2 and a message naming the problem', async () => {
    const cases: [string[], string][] = [
      [['verify'], 'keyceremony verify: name at least one bundle folder, e.g. keyceremony verify ./keyceremony-transcript-c1-000000-000041\n'],
      [['verify', '--bogus', 'x'], "keyceremony verify: Unknown option '--bogus'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--bogus\"\n"],
      [['verify', 'x', '--expect-audit-key', join(dir, 'nope.pem')], `keyceremony verify: --expect-audit-key ${join(dir, 'nope.pem')}: ${join(dir, 'nope.pem')} cannot be read (ENOENT).\n  Name the audit-public-key.pem of the token (PEM).\n`],
    ];
    for (const [argv, message] of cases) {
      const c = capture();
      expect(await runCli(argv, c.out)).toBe(2);
      expect(c.text().stderr.startsWith(message)).toBe(true);
    }
    const missing = capture();
    expect(await runCli(['verify', join(dir, 'absent')], missing.out)).toBe(1);
    expect(missing.text().stdout).toContain(`FAILED: check 'files' in ${join(dir, 'absent')}: ${join(dir, 'absent')} does not exist`);
  });
});
