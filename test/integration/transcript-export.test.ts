// Export bundles to disk and check them with independent tools: the openssl recipe and the Python recipes in
// VERIFY.md, run as written; and with `keyceremony verify` (exit 0 production, 3 not production, 1 broken).
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src-main/cli/main.js';
import { exportFromStore } from '../../src-main/transcript/export.js';
import { NodeAuditSigner, type AuditSigner } from '../../src-main/transcript/signer.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ceremonyStart, scriptBytes, sha256 } from '../helpers/ceremony-records.js';

const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '1234abcd', label: 'Zürich ✓' };
const signer = NodeAuditSigner.generate();
const INIT = sha256(scriptBytes('init-token'));
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
  for (const e of ceremonyStart({ ceremonyId: 'c1', kind: 'pre-genesis', script: { name: 'init-token', sha256: INIT }, rehearsal: false, offline: true })) await store.append(e);
  await store.append({ ceremonyId: 'c1', step: 'generate', kind: 'intent', actor: 'administrator', data: { label: 'kms "key"\n', emoji: '🔑', bits: 256, nested: { z: [1, null, true], a: 'é' } } });
  await store.append({ ceremonyId: 'c1', step: 'generate', kind: 'result', actor: 'token', data: { ok: true } });
  for (const e of ceremonyStart({ ceremonyId: 'c2', kind: 'pre-chain', script: { name: 'kms-import', sha256: sha256(scriptBytes('kms-import')) }, rehearsal: true, offline: false, airGapIn: 'chain' })) await store.append(e);
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
  /** The indented command lines of VERIFY.md's openssl section, as a reader would copy them. */
  const opensslRecipe = (md: string) => {
    const section = md.slice(md.indexOf('## 2. With openssl alone'), md.indexOf('## 3.'));
    return section.split('\n').filter((l) => l.startsWith('    openssl ')).map((l) => l.trim());
  };
  const shBlocks = (md: string) => [...md.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);

  it('writes a complete bundle; the openssl recipe in VERIFY.md, run with real openssl, checks the whole of it', async () => {
    const r = await exportFromStore(store, signer, { parentDir: out, range: { ceremonyId: 'c1' }, appVersion: '0.1.0' });
    b1 = r.path;
    expect(b1).toBe(join(out, 'keyceremony-transcript-c1-000000-000003'));
    expect((await readdir(out)).sort()).toEqual(['keyceremony-transcript-c1-000000-000003']);
    expect((await readdir(b1)).sort()).toEqual(['VERIFY.md', 'audit-public-key.pem', 'manifest.json', 'manifest.json.sig', 'transcript.jsonl', 'transcript.jsonl.sig']);

    const manifest = JSON.parse(await readFile(join(b1, 'manifest.json'), 'utf8'));
    expect(manifest.format).toBe('keyceremony-transcript-bundle/2');
    expect(Object.keys(manifest.files).sort()).toEqual(['VERIFY.md', 'audit-public-key.pem', 'transcript.jsonl', 'transcript.jsonl.sig']);
    const md = await readFile(join(b1, 'VERIFY.md'), 'utf8');
    const recipe = opensslRecipe(md);
    expect(recipe).toEqual([
      'openssl dgst -sha384 -verify audit-public-key.pem -signature manifest.json.sig manifest.json',
      'openssl dgst -sha256 transcript.jsonl transcript.jsonl.sig audit-public-key.pem VERIFY.md',
      'openssl dgst -sha384 -verify audit-public-key.pem -signature transcript.jsonl.sig transcript.jsonl',
      'openssl pkey -pubin -in audit-public-key.pem -outform DER | openssl dgst -sha256',
    ]);
    const run = (cmd: string, cwd = b1) => spawnSync('sh', ['-c', cmd], { cwd, encoding: 'utf8' });
    const [manifestSig, digests, transcriptSig, fingerprint] = recipe.map((cmd) => run(cmd));
    expect(manifestSig?.stdout.trim()).toBe('Verified OK');
    expect(manifestSig?.status).toBe(0);
    expect(transcriptSig?.stdout.trim()).toBe('Verified OK');
    const lines = (digests?.stdout.trim() ?? '').split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      const m = /^SHA2?-256\((.+)\)= ([0-9a-f]{64})$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(manifest.files[m?.[1] as string].sha256).toBe(m?.[2]);
    }
    expect(fingerprint?.stdout.trim().split('= ')[1]).toBe(manifest.auditKey.spkiSha256);
    expect(md).toContain(`script \`init-token\`, SHA-256 \`${INIT}\` (shipped with keyceremony 0.1.0); recorded as a production ceremony; air gap: offline. Recorded in entry seq 1.`);

    // The script hash, checked the way VERIFY.md tells: openssl over the released script, and the transcript's record.
    const scriptDigest = spawnSync('openssl', ['dgst', '-sha256', join(import.meta.dirname, '../../ceremonies/init-token.yaml')], { encoding: 'utf8' });
    expect(scriptDigest.stdout.trim().endsWith(`= ${INIT}`)).toBe(true);
    const [printRecorded, chainCheck] = shBlocks(md);
    const recorded = run(printRecorded as string);
    expect(recorded.stderr).toBe('');
    expect(recorded.stdout).toBe(`1 c1 init-token ${INIT} production 0.1.0\n1 c1 air gap offline: True\n`);
    const py = run(chainCheck as string);
    expect(py.stderr).toBe('');
    expect(py.stdout.trim()).toBe(`chain OK, head ${manifest.head}`);
    expect(store.exports()).toMatchObject([{ path: b1, ceremonyId: 'c1', firstSeq: 0, lastSeq: 3, headHash: manifest.head }]);
  });

  it('a changed VERIFY.md with its digest updated in manifest.json fails the openssl recipe and keyceremony verify', async () => {
    const copy = join(dir, 'recipe-tampered');
    await mkdir(copy);
    for (const f of await readdir(b1)) await writeFile(join(copy, f), await readFile(join(b1, f)));
    const md = (await readFile(join(copy, 'VERIFY.md'), 'utf8')).replace('which must print', 'which may print anything, e.g.');
    await writeFile(join(copy, 'VERIFY.md'), md);
    const manifest = JSON.parse(await readFile(join(copy, 'manifest.json'), 'utf8'));
    manifest.files['VERIFY.md'] = { sha256: sha256(md), bytes: Buffer.byteLength(md) };
    await writeFile(join(copy, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const [manifestSig] = opensslRecipe(md).map((cmd) => spawnSync('sh', ['-c', cmd], { cwd: copy, encoding: 'utf8' }));
    expect(manifestSig?.stdout.trim()).toBe('Verification failure');
    expect(manifestSig?.status).toBe(1);
    const c = capture();
    expect(await runCli(['verify', copy], c.out)).toBe(1);
    expect(c.text().stdout).toContain(`FAILED: check 'manifest-signature' in ${copy}: manifest.json.sig is not a valid ECDSA-SHA384 signature of manifest.json by audit-public-key.pem`);
  });

  it('links consecutive bundles through prev, and keyceremony verify checks them together', async () => {
    b2 = (await exportFromStore(store, signer, { parentDir: out, range: { ceremonyId: 'c2' }, appVersion: '0.1.0' })).path;
    const m1 = JSON.parse(await readFile(join(b1, 'manifest.json'), 'utf8'));
    const m2 = JSON.parse(await readFile(join(b2, 'manifest.json'), 'utf8'));
    expect(m2.prev).toBe(m1.head);
    const pem = join(dir, 'trusted.pem');
    await writeFile(pem, await readFile(join(b1, 'audit-public-key.pem')));

    // c2 is a rehearsal recorded online: integrity holds, policy does not (exit 3), unless rehearsals are allowed.
    const c = capture();
    expect(await runCli(['verify', b2, b1, '--expect-audit-key', pem], c.out)).toBe(3);
    expect(c.text().stdout).toContain(`INTEGRITY OK, BUT NOT A PRODUCTION CEREMONY: 8 entries verified, head seq 7 ${m2.head}; policy does not hold:\n  - ceremony c2: it is a rehearsal, not a production ceremony (pass --allow-rehearsal to accept rehearsals)\n`);
    expect(c.text().stdout).toContain(`    script init-token v1 SHA-256 ${INIT}: shipped with keyceremony 0.1.0\n    production; air gap: offline; app version 0.1.0\n`);
    expect(c.text().stdout).toContain('    REHEARSAL; air gap: online; app version 0.1.0\n');
    expect(c.text().stdout).not.toContain('Note:');
    const allowed = capture();
    expect(await runCli(['verify', b2, b1, '--expect-audit-key', pem, '--allow-rehearsal'], allowed.out)).toBe(0);
    expect(allowed.text().stdout).toContain(`OK: production ceremonies c1, c2; integrity and policy hold; 8 entries verified, head seq 7 ${m2.head}.`);
    const first = capture();
    expect(await runCli(['verify', b1], first.out)).toBe(0);
    expect(first.text().stdout).toContain('OK: production ceremony c1; integrity and policy hold; 4 entries verified');
    expect(first.text().stdout).toContain('Note: the audit key was checked against the genesis entry in these bundles only');

    const alone = capture();
    expect(await runCli(['verify', b2], alone.out)).toBe(1);
    expect(alone.text().stdout).toContain("FAILED: check 'audit-key': the audit key is not anchored: no bundle holds the genesis entry (seq 0) and no --expect-audit-key was given");

    const json = capture();
    expect(await runCli(['verify', '--json', b1, b2, '--expect-audit-key', pem], json.out)).toBe(3);
    const report = JSON.parse(json.text().stdout);
    expect(report.ok).toBe(true);
    expect(report.exitStatus).toBe(3);
    expect(report.verdict).toEqual({ status: 'not-production', reasons: ['ceremony c2: it is a rehearsal, not a production ceremony (pass --allow-rehearsal to accept rehearsals)'] });
    expect(report.ceremonies.map((x: { ceremonyId: string; rehearsal: boolean; airGap: string }) => [x.ceremonyId, x.rehearsal, x.airGap])).toEqual([['c1', false, 'offline'], ['c2', true, 'online']]);
    expect(report.entries).toHaveLength(8);
  });

  it('names the first broken entry when a bundle was tampered with', async () => {
    const copy = join(dir, 'tampered');
    await mkdir(copy);
    for (const f of await readdir(b1)) await writeFile(join(copy, f), await readFile(join(b1, f)));
    const t = await readFile(join(copy, 'transcript.jsonl'), 'utf8');
    await writeFile(join(copy, 'transcript.jsonl'), t.replace('"bits":256', '"bits":128'));
    const c = capture();
    expect(await runCli(['verify', copy], c.out)).toBe(1);
    expect(c.text().stdout).toMatch(/FAILED: entry seq 2 in .*tampered: transcript.jsonl line 3 \(seq 2\): hash [0-9a-f]{64} does not match the entry's content, which hashes to [0-9a-f]{64}\n$/);
  });

  it('never overwrites, and leaves nothing behind when signing fails', async () => {
    await expect(exportFromStore(store, signer, { parentDir: out, range: { ceremonyId: 'c1' }, appVersion: '0.1.0' })).rejects.toMatchObject({ code: 'TRANSCRIPT_EXPORT_EXISTS' });
    const broken: AuditSigner = { spkiDer: () => signer.spkiDer(), sign: async () => new Uint8Array([0x30, 0x00]) };
    await expect(exportFromStore(store, broken, { parentDir: out, range: { first: 1, last: 3 }, appVersion: '0.1.0' })).rejects.toThrow('The audit key returned a signature that does not verify over transcript.jsonl.');
    let calls = 0;
    const brokenSecond: AuditSigner = { spkiDer: () => signer.spkiDer(), sign: async (d) => ((calls += 1) === 2 ? new Uint8Array([0x30, 0x00]) : signer.sign(d)) };
    await expect(exportFromStore(store, brokenSecond, { parentDir: out, range: { first: 1, last: 3 }, appVersion: '0.1.0' })).rejects.toThrow('The audit key returned a signature that does not verify over manifest.json.');
    const foreign = NodeAuditSigner.generate();
    await expect(exportFromStore(store, foreign, { parentDir: out, range: { first: 1, last: 3 }, appVersion: '0.1.0' })).rejects.toThrow('The audit key offered for signing is not the audit key recorded in the genesis entry.');
    await mkdir(join(out, 'keyceremony-transcript-range-000001-000003.partial'));
    await expect(exportFromStore(store, signer, { parentDir: out, range: { first: 1, last: 3 }, appVersion: '0.1.0' })).rejects.toMatchObject({ code: 'TRANSCRIPT_EXPORT_EXISTS' });
    await rm(join(out, 'keyceremony-transcript-range-000001-000003.partial'), { recursive: true });
    expect((await readdir(out)).sort()).toEqual(['keyceremony-transcript-c1-000000-000003', 'keyceremony-transcript-c2-000004-000007']);
    await expect(exportFromStore(store, signer, { parentDir: out, range: { first: 3, last: 9 }, appVersion: '0.1.0' })).rejects.toThrow('The range 3-9 is not within the transcript (seq 0-7).');
  });

  it('rejects bad command lines with exit 2 and a message naming the problem', async () => {
    const cases: [string[], string][] = [
      [['verify'], 'keyceremony verify: name at least one bundle folder, e.g. keyceremony verify ./keyceremony-transcript-c1-000000-000041\n'],
      [['verify', '--bogus', 'x'], "keyceremony verify: Unknown option '--bogus'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--bogus\"\n"],
      [['verify', 'x', '--expect-audit-key', join(dir, 'nope.pem')], `keyceremony verify: --expect-audit-key ${join(dir, 'nope.pem')}: ${join(dir, 'nope.pem')} cannot be read (ENOENT).\n  Name the audit-public-key.pem of the token (PEM).\n`],
      [['verify', 'x', '--allow-script', 'abc'], 'keyceremony verify: --allow-script abc: expected the SHA-256 of a script file, 64 hexadecimal digits (openssl dgst -sha256 SCRIPT.yaml)\n'],
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
