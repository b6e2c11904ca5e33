// restore-key of a SoftHSM token's backup onto a YubiHSM 2 of the same security domain (issue #14), through
// the command line: SoftHSM token A starts the domain, a YubiHSM simulator B (behind its own connector, HTTP)
// joins it with init-token --join-domain-share. kms-import makes an AES-256 key on A; backup-key writes
// wrapped-key.bin (RFC 5649) and wrapped-key-rsa.bin (CKM_RSA_AES_KEY_WRAP under the domain RSA wrap key),
// which the test opens itself with keys rebuilt here from two share files (node:crypto RSA-OAEP, Python
// RFC 5649) to the same material. restore-key imports it on B (UNWRAP_KEY_RSA; no wrap key left on B);
// kms-rewrap on B exports material that unwraps independently to the same bytes. Hostile: a manifest whose
// check value was changed (the imported object is deleted, nothing left), an HMAC backup (no RSA copy:
// refused in words naming what to do). A restore killed (SIGKILL, a child process) after UNWRAP_KEY_RSA acted
// is resumed and the object kept, proved by its check value. audit-token on B finds nothing unexplained, and
// every bundle verifies.
import { spawn } from 'node:child_process';
import { constants, privateDecrypt } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditTokenCommand } from '../../src-main/cli/audit-token-command.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsRewrapCommand } from '../../src-main/cli/kms-rewrap-command.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ObjectType } from '../../hsm/yubihsm/constants.js';
import { startConnectorServer, type ConnectorServer } from '../yubihsm-sim/http-server.js';
import { YubiHsmSimulator } from '../yubihsm-sim/index.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, pythonKwpUnwrap, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, type SoftHsmEnv } from '../helpers/softhsm.js';
import { io, offline, PASS, Room, SCRYPT, type Custodian } from '../helpers/key-backup.js';

const SERIAL_B = 7100002;
const A = ['--token', 'pkcs11:token=soft-a'];
let b: ConnectorServer;
let env: SoftHsmEnv;
let room: Room;
let kms: KmsLikeKey;
let idA: string;
let checkValue: { value: string; method: string };
let material: Buffer;
let backupDir: string;
const bundles: { B: string[] } = { B: [] };

const moduleOf = (s: ConnectorServer) => `yubihsm:${s.url}`;
const onB = ['--slot', String(SERIAL_B)];
const keysOn = (s: ConnectorServer, label: string) => s.device.listObjectsForTest().filter((o) => o.label === label);
const wrapKeysOn = (s: ConnectorServer) => s.device.listObjectsForTest().filter((o) => o.type === ObjectType.WRAP_KEY);

beforeAll(async () => {
  env = createSoftHsmEnv();
  room = new Room(await mkdtemp(join(tmpdir(), 'kc-soft-to-yubi-')));
  await room.setUp();
  kms = kmsLikeKey(2048);
  idA = await room.initToken('soft-a');
  b = await startConnectorServer({ device: new YubiHsmSimulator({ serial: SERIAL_B }) });
  const { o, out } = io();
  const code = await initTokenCommand(
    ['--module', moduleOf(b), ...onB, '--token-label', 'yubi-b', ...(['alice', 'carol'] as const).flatMap((c) => ['--join-domain-share', room.share(c)]), '--out', room.dir('out'), '--witness', 'wendy', '--data-dir', room.dir('data'), '--json'],
    out,
    { scrypt: SCRYPT, airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  bundles.B.push((JSON.parse(o.stdout) as { bundle: { path: string } }).bundle.path);
  const imported = await room.kms('kms-import', A, kms, 'SYMMETRIC_DEFAULT', 'cmk-soft');
  expect(imported.o.stderr).toBe('');
  expect(imported.code).toBe(0);
  checkValue = imported.result?.checkValue as { value: string; method: string };
}, 240_000);

afterAll(async () => {
  await Promise.allSettled([b?.close()]);
  env?.cleanup();
  if (room) await rm(room.work, { recursive: true, force: true });
});

describe('SoftHSM -> YubiHSM 2', () => {
  it('backup-key on the SoftHSM token writes both wraps, and both open here to the same material', async () => {
    const r = await room.backup(A, 'cmk-soft', ['bob', 'carol']);
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
    backupDir = r.result?.backup.path as string;
    material = pythonKwpUnwrap(await room.backupKeyFromShares(idA), await readFile(join(backupDir, 'wrapped-key.bin')));
    checkRecovered('SYMMETRIC_DEFAULT', material, { ...(checkValue as { value: string; method: 'AES-CMAC-ZERO-BLOCK' }), description: '' });
    const rsaWrapped = await readFile(join(backupDir, 'wrapped-key-rsa.bin'));
    const aesKey = privateDecrypt({ key: await room.rsaWrapKeyFromShares(idA, ['alice', 'bob']), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, rsaWrapped.subarray(0, 384));
    expect(pythonKwpUnwrap(aesKey, rsaWrapped.subarray(384)).equals(material)).toBe(true);
  }, 120_000);

  it('deletes the imported object when its check value is not the recorded one, and leaves no wrap key', async () => {
    const copy = room.dir('backups/tampered-check');
    await cp(backupDir, copy, { recursive: true });
    const manifest = JSON.parse(await readFile(join(copy, 'backup-manifest.json'), 'utf8')) as { key: { checkValue: { value: string } } };
    manifest.key.checkValue.value = manifest.key.checkValue.value === '000000' ? '000001' : '000000';
    await writeFile(join(copy, 'backup-manifest.json'), JSON.stringify(manifest, null, 2));
    const r = await room.restore(onB, copy, ['alice', 'bob'], 'usb', moduleOf(b));
    expect(r.code).toBe(1);
    expect(r.o.stderr).toContain('the restored key failed its check in the device');
    expect(r.o.stderr).toContain('the restored object was deleted');
    expect(keysOn(b, 'cmk-soft')).toEqual([]);
    expect(wrapKeysOn(b)).toEqual([]);
  }, 120_000);

  it('restore-key imports it on B (UNWRAP_KEY_RSA), and kms-rewrap on B exports the same material', async () => {
    const r = await room.restore(onB, backupDir, ['carol', 'bob'], 'usb', moduleOf(b));
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
    bundles.B.push(r.result?.bundle.path as string);
    expect(keysOn(b, 'cmk-soft').map((o) => o.type)).toEqual([ObjectType.SYMMETRIC_KEY]);
    expect(wrapKeysOn(b)).toEqual([]);
    const params = join(room.dir('stick'), 'kms-rewrap-b.json');
    await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('token-rewrap').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
    const { o, out } = io();
    const code = await kmsRewrapCommand(
      ['--module', moduleOf(b), ...onB, '--params', params, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_256', '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', 'cmk-soft', '--out', room.dir('kms-out'), ...room.base(), ...room.shares(['alice', 'carol'] as Custodian[])],
      out,
      { airGap: offline },
    );
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const rewrap = JSON.parse(o.stdout) as { checkValue: { value: string; method: string }; importBundle: { path: string }; bundle: { path: string } };
    bundles.B.push(rewrap.bundle.path);
    expect(rewrap.checkValue).toMatchObject(checkValue);
    const exported = independentUnwrap(kms, 'RSA_AES_KEY_WRAP_SHA_256', await readFile(join(rewrap.importBundle.path, 'EncryptedKeyMaterial.bin')));
    expect(exported.equals(material)).toBe(true);
  }, 180_000);

  it('refuses an HMAC backup (no RSA-wrapped copy) on B in words naming what to do', async () => {
    const made = await room.kms('kms-import', A, kms, 'HMAC_256', 'hmac-soft');
    expect(made.code).toBe(0);
    const bk = await room.backup(A, 'hmac-soft');
    expect(bk.code).toBe(0);
    const r = await room.restore(onB, bk.result?.backup.path as string, ['alice', 'bob'], 'usb', moduleOf(b));
    expect(r.code).toBe(1);
    expect(r.o.stderr).toContain('has no wrapped-key-rsa.bin');
    expect(r.o.stderr).toContain('take a new backup with backup-key of this version');
    expect(keysOn(b, 'hmac-soft')).toEqual([]);
    expect(wrapKeysOn(b)).toEqual([]);
  }, 180_000);

  it('a restore killed after UNWRAP_KEY_RSA acted is resumed: the object is found by its label, proved by its check value and kept', async () => {
    const outDir = resolve('node_modules/.cache/keyceremony-restore-key-crash-child-soft-to-yubi');
    await build({
      configFile: false,
      logLevel: 'silent',
      ssr: { noExternal: ['zod'] },
      build: { ssr: resolve('test/integration/restore-key-crash-child.ts'), outDir, emptyOutDir: true, target: 'node20', rollupOptions: { output: { entryFileNames: 'child.mjs', format: 'es' } } },
    });
    const imported = await room.kms('kms-import', A, kms, 'SYMMETRIC_DEFAULT', 'cmk-crash');
    expect(imported.code).toBe(0);
    const bk = await room.backup(A, 'cmk-crash');
    expect(bk.code).toBe(0);
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
    // Kept as found (not deleted and imported again): the unwrap result says so, with the recorded check value.
    const { readdir } = await import('node:fs/promises');
    let journal = '';
    for (const name of await readdir(room.dir('data/chains'))) {
      const text = await readFile(join(room.dir('data/chains'), name, 'journal.jsonl'), 'utf8');
      if (text.includes(ceremonyId)) journal = text;
    }
    const results = journal.trim().split('\n').map((l) => JSON.parse(l) as { ceremonyId: string; step: string; kind: string; data: { recovered?: string; checkValue?: { value: string } } }).filter((e) => e.ceremonyId === ceremonyId && e.step === 'unwrap' && e.kind === 'result');
    expect(results.length).toBe(1);
    expect(results[0]?.data.recovered).toContain('its check value, computed in the device now, is the recorded one');
    expect(results[0]?.data.checkValue?.value).toBe(imported.result?.checkValue.value);
  }, 240_000);

  it('audit-token on B recognises the restored keys and finds nothing else', async () => {
    const { o, out } = io();
    const code = await auditTokenCommand(['--module', moduleOf(b), ...onB, ...room.shares(['alice', 'carol']), ...room.base()], out, { airGap: offline });
    const res = JSON.parse(o.stdout) as { audit: { clean: boolean; findings: string[] }; bundle: { path: string } };
    expect(res.audit.findings).toEqual([]);
    expect(code).toBe(0);
    bundles.B.push(res.bundle.path);
  }, 120_000);

  it("both tokens' bundles verify from their genesis, approvals included", async () => {
    // A's bundles as the room kept them (init-token first); B's as this file collected them.
    for (const list of [room.bundles['soft-a'] ?? [], bundles.B]) {
      expect(list.length).toBeGreaterThan(2);
      const report = await verifyBundles(list);
      expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
      expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
    }
  });
});
