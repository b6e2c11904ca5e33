// backup-key and restore-key between two YubiHSM 2s of one security domain, through the command line: two
// simulators behind their own connector (HTTP, as yubihsm-connector serves them), A initialized as a new
// domain, B joined to it with init-token --join-domain-share. kms-import makes an AES-256 key (and a P-256 one) on A; backup-key
// writes a YubiHSM wrapped object whose AES-256-CCM the test opens itself (node:crypto, with the wrap key
// rebuilt here from two share files) to the very material AWS would get; restore-key imports it on B (the
// wrap key left on neither device); kms-rewrap on B exports material that unwraps independently (OpenSSL +
// Python) to the same bytes as A's kms-import. Hostile: a manifest whose check value was changed (the
// imported object is deleted), the same key twice, a YubiHSM backup offered to a PKCS#11 token of the domain
// and an RFC 5649-only backup (as older versions wrote it) offered to the YubiHSM: each refused in words, and nothing new is left. A restore
// killed (SIGKILL, a child process) after IMPORT WRAPPED acted is resumed: the object is found, its check
// value recomputed in the device, and it is kept, recorded as found.
import { spawn } from 'node:child_process';
import { createDecipheriv, createPrivateKey } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditTokenCommand } from '../../src-main/cli/audit-token-command.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { kmsRewrapCommand } from '../../src-main/cli/kms-rewrap-command.js';
import { combineShares, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { domainYubihsmWrapKey } from '../../src-main/ceremony/quorum/domain.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { ObjectType } from '../../hsm/yubihsm/constants.js';
import { startConnectorServer, type ConnectorServer } from '../yubihsm-sim/http-server.js';
import { YubiHsmSimulator } from '../yubihsm-sim/index.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, type SoftHsmEnv } from '../helpers/softhsm.js';
import { io, offline, PASS, Room, SCRYPT, type Custodian } from '../helpers/key-backup.js';

const SERIAL_A = 7000001;
const SERIAL_B = 7000002;
let a: ConnectorServer;
let b: ConnectorServer;
let env: SoftHsmEnv;
let room: Room;
let kms: KmsLikeKey;
let idA: string;
let checkValue: { value: string; method: string };
let importedMaterial: Buffer;
let backupDir: string;
const bundles: Record<'A' | 'B', string[]> = { A: [], B: [] };

const moduleOf = (s: ConnectorServer) => `yubihsm:${s.url}`;
const slotOf = (s: ConnectorServer) => ['--slot', String(s.device.serial)];
const keysOn = (s: ConnectorServer, label: string) => s.device.listObjectsForTest().filter((o) => o.label === label);
const wrapKeysOn = (s: ConnectorServer) => s.device.listObjectsForTest().filter((o) => o.type === ObjectType.WRAP_KEY);

async function initYubiHsm(s: ConnectorServer, label: string, joining?: Custodian[]): Promise<{ ceremonyId: string; bundle: { path: string } }> {
  const { o, out } = io();
  const who = joining
    ? joining.flatMap((c) => ['--join-domain-share', room.share(c)])
    : ['--custodians', 'alice,bob,carol', '--threshold', '2', '--shares-out', room.dir('usb'), ...Object.keys(PASS).flatMap((c) => ['--passphrase-file', `${c}=${room.dir(`secrets/${c}`)}`])];
  const code = await initTokenCommand(['--module', moduleOf(s), ...slotOf(s), '--token-label', label, ...who, '--out', room.dir('out'), '--witness', 'wendy', '--data-dir', room.dir('data'), '--json'], out, { scrypt: SCRYPT, airGap: offline });
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  return JSON.parse(o.stdout) as { ceremonyId: string; bundle: { path: string } };
}

async function kmsRun(command: 'kms-import' | 'kms-rewrap', s: ConnectorServer, label: string, cs: Custodian[], keySpec = 'SYMMETRIC_DEFAULT') {
  const params = join(room.dir('stick'), `${command}-${s.device.serial}-${label}.json`);
  await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from(`token-${command}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  const { o, out } = io();
  const run = command === 'kms-import' ? kmsImportCommand : kmsRewrapCommand;
  const code = await run(
    ['--module', moduleOf(s), ...slotOf(s), '--params', params, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_256', '--key-spec', keySpec, '--key-label', label, '--out', room.dir('kms-out'), ...room.base(), ...room.shares(cs)],
    out,
    { airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  return JSON.parse(o.stdout) as { checkValue: { value: string; method: string }; importBundle: { path: string }; bundle: { path: string } };
}

/** The domain wrap key rebuilt here from two share files: the test's own way into a YubiHSM backup. */
async function wrapKeyFromShares(cs: Custodian[]): Promise<Buffer> {
  const opened = await Promise.all(cs.map(async (c) => (await openShareFile(await readFile(room.shareFile(c)), PASS[c], { ceremonyId: idA })).share));
  const secret = await combineShares(opened, 2);
  try {
    return domainYubihsmWrapKey(secret);
  } finally {
    wipe(secret, ...opened);
  }
}

/** The chain folder whose journal holds this ceremony's entries. */
async function chainOf(ceremonyId: string): Promise<string | undefined> {
  const { readdir } = await import('node:fs/promises');
  for (const name of await readdir(room.dir('data/chains'))) {
    if ((await readFile(join(room.dir('data/chains'), name, 'journal.jsonl'), 'utf8')).includes(ceremonyId)) return name;
  }
  return undefined;
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  room = new Room(await mkdtemp(join(tmpdir(), 'kc-backup-yubihsm-')));
  await room.setUp();
  kms = kmsLikeKey(2048);
  a = await startConnectorServer({ device: new YubiHsmSimulator({ serial: SERIAL_A }) });
  b = await startConnectorServer({ device: new YubiHsmSimulator({ serial: SERIAL_B }) });
  const initA = await initYubiHsm(a, 'yubi-a');
  idA = initA.ceremonyId;
  bundles.A.push(initA.bundle.path);
  bundles.B.push((await initYubiHsm(b, 'yubi-b', ['alice', 'carol'])).bundle.path);
  const imported = await kmsRun('kms-import', a, 'cmk-2026', ['alice', 'bob']);
  bundles.A.push(imported.bundle.path);
  checkValue = imported.checkValue;
  importedMaterial = independentUnwrap(kms, 'RSA_AES_KEY_WRAP_SHA_256', await readFile(join(imported.importBundle.path, 'EncryptedKeyMaterial.bin')));
  checkRecovered('SYMMETRIC_DEFAULT', importedMaterial, checkValue as never);
}, 240_000);

afterAll(async () => {
  await Promise.allSettled([a?.close(), b?.close()]);
  env?.cleanup();
  if (room) await rm(room.work, { recursive: true, force: true });
});

describe('backup-key on a YubiHSM 2', () => {
  it('writes the key exported under the domain wrap key: AES-256-CCM that opens (here) to the imported material', async () => {
    const r = await room.backup(['--slot', String(SERIAL_A)], 'cmk-2026', ['bob', 'carol'], moduleOf(a));
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
    bundles.A.push(r.result?.bundle.path as string);
    backupDir = r.result?.backup.path as string;
    expect(wrapKeysOn(a)).toEqual([]);
    const manifest = JSON.parse(await readFile(join(backupDir, 'backup-manifest.json'), 'utf8')) as { key: { label: string; id: string; checkValue: unknown }; wrap: { format: string; mechanism: string } };
    expect(manifest.wrap).toEqual({ format: 'YubiHSM 2 wrapped object (EXPORT WRAPPED, AES-256-CCM) under the domain wrap key', mechanism: 'YUBIHSM_EXPORT_WRAPPED' });
    expect(manifest.key).toMatchObject({ label: 'cmk-2026', checkValue: { value: checkValue.value, method: checkValue.method } });
    expect(manifest.key.id).toMatch(/^[0-9a-f]{4}$/);
    expect(await readFile(join(backupDir, 'RESTORE.md'), 'utf8')).toContain('only inside another YubiHSM 2 of the same security domain');
    // Yubico's wrapped object: 13-byte nonce || AES-CCM ciphertext || 16-byte MAC; the key body ends the plaintext.
    const wrapped = await readFile(join(backupDir, 'wrapped-key.bin'));
    const d = createDecipheriv('aes-256-ccm', await wrapKeyFromShares(['alice', 'bob']), wrapped.subarray(0, 13), { authTagLength: 16 });
    d.setAuthTag(wrapped.subarray(wrapped.length - 16));
    d.setAAD(Buffer.alloc(0), { plaintextLength: wrapped.length - 29 });
    const plain = Buffer.concat([d.update(wrapped.subarray(13, wrapped.length - 16)), d.final()]);
    expect(plain.subarray(plain.length - 32).equals(importedMaterial)).toBe(true);
  }, 120_000);
});

describe('restore-key on a YubiHSM 2', () => {
  it('deletes the imported object when its check value is not the recorded one', async () => {
    const copy = room.dir('backups/tampered-check');
    await cp(backupDir, copy, { recursive: true });
    const manifest = JSON.parse(await readFile(join(copy, 'backup-manifest.json'), 'utf8')) as { key: { checkValue: { value: string } } };
    manifest.key.checkValue.value = manifest.key.checkValue.value === '000000' ? '000001' : '000000';
    await writeFile(join(copy, 'backup-manifest.json'), JSON.stringify(manifest, null, 2));
    const r = await room.restore(['--slot', String(SERIAL_B)], copy, ['alice', 'bob'], 'usb', moduleOf(b));
    expect(r.code).toBe(1);
    expect(r.o.stderr).toContain('the restored key failed its check in the device');
    expect(r.o.stderr).toContain('the restored object was deleted');
    expect(keysOn(b, 'cmk-2026')).toEqual([]);
    expect(wrapKeysOn(b)).toEqual([]);
  }, 120_000);

  it('imports the backup on B, and kms-rewrap on B exports the same material', async () => {
    const r = await room.restore(['--slot', String(SERIAL_B)], backupDir, ['carol', 'bob'], 'usb', moduleOf(b));
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
    bundles.B.push(r.result?.bundle.path as string);
    expect(keysOn(b, 'cmk-2026').map((o) => o.type)).toEqual([ObjectType.SYMMETRIC_KEY]);
    expect(keysOn(b, 'cmk-2026')[0]?.id).toBe(keysOn(a, 'cmk-2026')[0]?.id);
    expect(wrapKeysOn(b)).toEqual([]);
    const rewrap = await kmsRun('kms-rewrap', b, 'cmk-2026', ['alice', 'carol']);
    bundles.B.push(rewrap.bundle.path);
    expect(rewrap.checkValue).toMatchObject(checkValue);
    const material = independentUnwrap(kms, 'RSA_AES_KEY_WRAP_SHA_256', await readFile(join(rewrap.importBundle.path, 'EncryptedKeyMaterial.bin')));
    expect(material.equals(importedMaterial)).toBe(true);
  }, 180_000);

  it('an ECC P-256 key: backed up on A, restored on B (public key recomputed there), kms-rewrap on B exports the same private key', async () => {
    const imported = await kmsRun('kms-import', a, 'ec-2026', ['alice', 'bob'], 'ECC_NIST_P256');
    bundles.A.push(imported.bundle.path);
    const bk = await room.backup(['--slot', String(SERIAL_A)], 'ec-2026', ['bob', 'carol'], moduleOf(a));
    expect(bk.o.stderr).toBe('');
    expect(bk.code).toBe(0);
    bundles.A.push(bk.result?.bundle.path as string);
    const r = await room.restore(['--slot', String(SERIAL_B)], bk.result?.backup.path as string, ['alice', 'carol'], 'usb', moduleOf(b));
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
    bundles.B.push(r.result?.bundle.path as string);
    expect(keysOn(b, 'ec-2026').map((o) => o.type)).toEqual([ObjectType.ASYMMETRIC_KEY]);
    expect(wrapKeysOn(b)).toEqual([]);
    const rewrap = await kmsRun('kms-rewrap', b, 'ec-2026', ['bob', 'alice'], 'ECC_NIST_P256');
    bundles.B.push(rewrap.bundle.path);
    expect(rewrap.checkValue).toMatchObject({ value: imported.checkValue.value, method: 'SHA256-SPKI' });
    const pkcs8 = async (dir: string) => createPrivateKey({ key: independentUnwrap(kms, 'RSA_AES_KEY_WRAP_SHA_256', await readFile(join(dir, 'EncryptedKeyMaterial.bin'))), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
    const fromA = await pkcs8(imported.importBundle.path);
    expect(fromA.d).toBeTruthy();
    expect(await pkcs8(rewrap.importBundle.path)).toEqual(fromA);
  }, 180_000);

  it('refuses the same key twice, before anything changes', async () => {
    const r = await room.restore(['--slot', String(SERIAL_B)], backupDir, ['alice', 'bob'], 'usb', moduleOf(b));
    expect(r.code).toBe(1);
    expect(r.o.stderr).toContain("already holds 1 object with the label 'cmk-2026'");
    expect(keysOn(b, 'cmk-2026').length).toBe(1);
  }, 120_000);

  it('refuses a YubiHSM backup on a PKCS#11 token of the domain, and an RFC 5649-only backup on the YubiHSM, in words', async () => {
    await room.joinToken('soft-d', ['alice', 'carol']);
    const D = ['--token', 'pkcs11:token=soft-d'];
    const onSoft = await room.restore(D, backupDir);
    expect(onSoft.code).toBe(1);
    expect(onSoft.o.stderr).toContain("is a YubiHSM 2 wrapped object (EXPORT WRAPPED, AES-CCM under the domain wrap key), which only a YubiHSM 2 can import, and token 'soft-d' is a PKCS#11 token");

    const made = await room.kms('kms-import', D, kms, 'SYMMETRIC_DEFAULT', 'soft-key');
    expect(made.code).toBe(0);
    const soft = await room.backup(D, 'soft-key');
    expect(soft.o.stderr).toBe('');
    expect(soft.code).toBe(0);
    // A backup as versions before wrapped-key-rsa.bin wrote it: RFC 5649 only, which a YubiHSM 2 cannot unwrap.
    const old = room.dir('backups/rfc5649-only');
    await cp(soft.result?.backup.path as string, old, { recursive: true });
    const manifest = JSON.parse(await readFile(join(old, 'backup-manifest.json'), 'utf8')) as { wrapRsa?: unknown; files: Record<string, unknown> };
    delete manifest.wrapRsa;
    delete manifest.files['wrapped-key-rsa.bin'];
    await writeFile(join(old, 'backup-manifest.json'), JSON.stringify(manifest, null, 2));
    await rm(join(old, 'wrapped-key-rsa.bin'));
    const onYubi = await room.restore(['--slot', String(SERIAL_B)], old, ['alice', 'bob'], 'usb', moduleOf(b));
    expect(onYubi.code).toBe(1);
    expect(onYubi.o.stderr).toContain('is RFC 5649 only (wrapped by a PKCS#11 token, CKM_AES_KEY_WRAP_PAD) and has no wrapped-key-rsa.bin');
    expect(onYubi.o.stderr).toContain('take a new backup with backup-key of this version');
    expect(keysOn(b, 'soft-key')).toEqual([]);
    expect(wrapKeysOn(b)).toEqual([]);
  }, 240_000);

  it('a restore killed after IMPORT WRAPPED acted is resumed: the object is found, proved by its check value and kept', async () => {
    const outDir = resolve('node_modules/.cache/keyceremony-restore-key-crash-child-yubihsm');
    await build({
      configFile: false,
      logLevel: 'silent',
      ssr: { noExternal: ['zod'] },
      build: { ssr: resolve('test/integration/restore-key-crash-child.ts'), outDir, emptyOutDir: true, target: 'node20', rollupOptions: { output: { entryFileNames: 'child.mjs', format: 'es' } } },
    });
    const imported = await kmsRun('kms-import', a, 'cmk-crash', ['alice', 'bob']);
    bundles.A.push(imported.bundle.path);
    const bk = await room.backup(['--slot', String(SERIAL_A)], 'cmk-crash', ['alice', 'bob'], moduleOf(a));
    expect(bk.code).toBe(0);
    bundles.A.push(bk.result?.bundle.path as string);
    const args = { module: moduleOf(b), dataDir: room.dir('data'), token: { moduleId: moduleOf(b), slotId: String(SERIAL_B) }, backupDir: bk.result?.backup.path, shares: (['alice', 'bob'] as const).map((c) => ({ shareFile: room.shareFile(c), passphrase: PASS[c] })), out: room.dir('out') };
    const runChild = (extra: Record<string, unknown>) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((done, reject) => {
        const p = spawn(process.execPath, [join(outDir, 'child.mjs'), JSON.stringify({ ...args, ...extra })], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
        let stdout = '';
        let stderr = '';
        p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
        p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
        p.on('error', reject);
        p.on('exit', (code, signal) => done({ code, signal, stdout, stderr }));
      });
    const crashed = await runChild({ mode: 'crash', crashAt: 'unwrap:performed' });
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
    expect(keysOn(b, 'cmk-crash').length).toBe(1);
    const ceremonyId = /^ceremony (\S+) at /m.exec(crashed.stdout)?.[1] as string;
    const resumed = await runChild({ mode: 'resume', ceremonyId });
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const view = JSON.parse(resumed.stdout.trim().split('\n').at(-1) as string) as CeremonyView;
    expect(view.status).toBe('completed');
    bundles.B.push(view.outputs.find((o) => o.kind === 'bundle')?.path as string);
    expect(keysOn(b, 'cmk-crash').length).toBe(1);
    expect(wrapKeysOn(b)).toEqual([]);
    const journal = (await readFile(join(room.dir('data/chains'), String(await chainOf(ceremonyId)), 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
    const result = journal.filter((e) => e.ceremonyId === ceremonyId && e.step === 'unwrap' && e.kind === 'result').map((e) => e.data as { recovered?: string; checkValue: { value: string } });
    expect(result.length).toBe(1);
    expect(result[0]?.recovered).toContain('its check value, computed in the device now, is the recorded one');
    expect(result[0]?.checkValue.value).toBe(imported.checkValue.value);
  }, 240_000);

  it('audit-token on B recognises the restored keys (restore-unwrap, origin imported-wrapped) and finds nothing else', async () => {
    const { o, out } = io();
    const code = await auditTokenCommand(['--module', moduleOf(b), '--slot', String(SERIAL_B), ...room.shares(['alice', 'carol']), ...room.base()], out, { airGap: offline });
    const res = JSON.parse(o.stdout) as { audit: { clean: boolean; findings: string[] }; bundle: { path: string } };
    expect(res.audit.findings).toEqual([]);
    expect(code).toBe(0);
    bundles.B.push(res.bundle.path);
    const lines = (await readFile(join(res.bundle.path, 'transcript.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: { action?: string; deviceObjects?: { label: string; origin: string; role: string }[] } });
    const listed = lines.find((e) => e.kind === 'result' && e.data.action === 'audit-objects')?.data.deviceObjects ?? [];
    const restored = listed.find((d) => d.label === 'cmk-2026');
    expect(restored?.origin).toContain('imported-wrapped');
    expect(restored?.role).toMatch(/^key 'cmk-2026' \(restore-unwrap, ceremony restore-key-/);
    expect(listed.length).toBe(b.device.listObjectsForTest().length);
  }, 120_000);

  it("both devices' bundles verify from their genesis, approvals included", async () => {
    for (const list of [bundles.A, bundles.B]) {
      const report = await verifyBundles(list);
      expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
      expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
    }
  });
});
