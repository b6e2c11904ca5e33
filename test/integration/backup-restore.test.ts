// backup-key and restore-key on real SoftHSM tokens: token A (a new domain) generates an AES-256 and an
// HMAC-256 key with kms-import; token B joins A's domain. backup-key writes a folder whose wrapped key Python
// `cryptography` unwraps (RFC 5649) with the backup key rebuilt here from two share files, to material whose
// check value (computed here) is the recorded one. restore-key puts it into B; kms-rewrap on B then exports
// the same material (same check value, same bytes unwrapped independently). Hostile: a tampered wrapped
// file, a manifest whose check value was changed (the restored object is destroyed), a token of another
// domain, a label already present: each refused in words, and the token holds nothing new afterwards.
import { constants, privateDecrypt } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { checkRecovered, independentUnwrap, kmsLikeKey, pythonKwpUnwrap, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { Room } from '../helpers/key-backup.js';

let env: SoftHsmEnv;
let room: Room;
let kms: KmsLikeKey;
let idA: string;
const A = ['--token', 'pkcs11:token=bk-a'];
const B = ['--token', 'pkcs11:token=bk-b'];
const C = ['--token', 'pkcs11:token=bk-c'];
const checkValues: Record<string, { value: string; method: string }> = {};
const bundles: string[] = [];
let aesBackup: string;
let hmacBackup: string;

/** Objects with this label in the token, counted without the app (a user login with the PIN is not needed: public count). */
async function objectsLabelled(tokenLabel: string, keyLabel: string): Promise<number> {
  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE }]);
  try {
    const { session } = await layer.openSession({ uri: `pkcs11:token=${tokenLabel}` }, { readWrite: false });
    // Private objects are invisible without a login: the count goes through the domain's user PIN.
    const { derivePins, combineShares, openShareFile } = await import('../../src-main/ceremony/quorum/index.js');
    const { enrolmentOfChain } = await import('../../src-main/ceremony/actions/quorum-login.js');
    const { TranscriptStore } = await import('../../src-main/transcript/store.js');
    const { readdir } = await import('node:fs/promises');
    let pinsId: string | undefined;
    let origin: string | undefined;
    for (const name of await readdir(room.dir('data/chains'))) {
      const { store } = await TranscriptStore.open(join(room.dir('data/chains'), name), { readOnly: true });
      const genesis = store.entryAt(0);
      const r = enrolmentOfChain(store);
      await store.close();
      if ((genesis?.data as { token?: { label?: string } })?.token?.label === tokenLabel && r) {
        pinsId = r.pinsCeremonyId ?? r.enrolment.ceremonyId;
        origin = r.enrolment.ceremonyId;
      }
    }
    const usb = tokenLabel === 'bk-c' ? 'usb-other' : 'usb';
    const shares = await Promise.all((['alice', 'carol'] as const).map(async (c) => (await openShareFile(await readFile(room.shareFile(c, usb)), c === 'alice' ? 'alice passphrase 1' : 'carol passphrase 333', { ceremonyId: origin as string })).share));
    const secret = await combineShares(shares, 2);
    await layer.login(session, 'user', derivePins(secret, pinsId as string).userPin);
    const n = (await layer.findAll(session, { label: keyLabel })).length;
    await layer.logout(session);
    await layer.closeSession(session);
    return n;
  } finally {
    await layer.close();
  }
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  room = new Room(await mkdtemp(join(tmpdir(), 'kc-backup-')));
  await room.setUp();
  kms = kmsLikeKey(2048);
  idA = await room.initToken('bk-a');
  await room.joinToken('bk-b', ['alice', 'carol']);
  for (const [spec, label] of [['SYMMETRIC_DEFAULT', 'aes-key'], ['HMAC_256', 'hmac-key']] as const) {
    const r = await room.kms('kms-import', A, kms, spec, label);
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
    checkValues[label] = r.result?.checkValue as { value: string; method: string };
  }
}, 180_000);

afterAll(async () => {
  env?.cleanup();
  if (room) await rm(room.work, { recursive: true, force: true });
});

describe('backup-key', () => {
  it('writes a backup folder whose wrapped key unwraps independently to the recorded material', async () => {
    const r = await room.backup(A, 'aes-key', ['bob', 'carol']);
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
    aesBackup = r.result?.backup.path as string;
    bundles.push(r.result?.bundle.path as string);
    const manifest = JSON.parse(await readFile(join(aesBackup, 'backup-manifest.json'), 'utf8')) as { key: { label: string; keySpec: string; id: string; checkValue: { value: string; method: string } }; domainId: string; wrap: { mechanism: string } };
    expect(manifest.key).toMatchObject({ label: 'aes-key', keySpec: 'SYMMETRIC_DEFAULT', checkValue: { value: checkValues['aes-key']?.value, method: checkValues['aes-key']?.method } });
    expect(manifest.key.id).toMatch(/^[0-9a-f]{32}$/);
    expect(manifest.wrap.mechanism).toBe('CKM_AES_KEY_WRAP_PAD');
    const wrapped = await readFile(join(aesBackup, 'wrapped-key.bin'));
    expect(wrapped.length).toBe(40);
    const material = pythonKwpUnwrap(await room.backupKeyFromShares(idA), wrapped);
    checkRecovered('SYMMETRIC_DEFAULT', material, { ...(checkValues['aes-key'] as { value: string; method: 'AES-CMAC-ZERO-BLOCK' }), description: '' });
    expect(await readFile(join(aesBackup, 'RESTORE.md'), 'utf8')).toContain(`keyceremony restore-key`);
    // The copy for a YubiHSM 2: RSA-OAEP (SHA-1, this side: node:crypto) of an AES-256 key || RFC 5649 (Python).
    const m = manifest as unknown as { wrapRsa?: { format: string; rsaModulusBits: number }; files: Record<string, { bytes: number; sha256: string }> };
    expect(m.wrapRsa?.rsaModulusBits).toBe(3072);
    expect(m.wrapRsa?.format).toContain('CKM_RSA_AES_KEY_WRAP');
    const rsaWrapped = await readFile(join(aesBackup, 'wrapped-key-rsa.bin'));
    expect(m.files['wrapped-key-rsa.bin']?.bytes).toBe(rsaWrapped.length);
    expect(rsaWrapped.length).toBe(384 + 40);
    const rsaKey = await room.rsaWrapKeyFromShares(idA);
    const aesKey = privateDecrypt({ key: rsaKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, rsaWrapped.subarray(0, 384));
    expect(aesKey.length).toBe(32);
    expect(pythonKwpUnwrap(aesKey, rsaWrapped.subarray(384)).equals(material)).toBe(true);
    expect(await readFile(join(aesBackup, 'RESTORE.md'), 'utf8')).toContain('wrapped-key-rsa.bin');
  }, 120_000);

  it('backs up the HMAC key too', async () => {
    const r = await room.backup(A, 'hmac-key');
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
    hmacBackup = r.result?.backup.path as string;
    const material = pythonKwpUnwrap(await room.backupKeyFromShares(idA), await readFile(join(hmacBackup, 'wrapped-key.bin')));
    checkRecovered('HMAC_256', material, { ...(checkValues['hmac-key'] as { value: string; method: 'HMAC-SHA256-ZERO-BLOCK' }), description: '' });
    // A YubiHSM 2 cannot import an HMAC key by UNWRAP_KEY_RSA: no second wrap, and the manifest says none.
    const manifest = JSON.parse(await readFile(join(hmacBackup, 'backup-manifest.json'), 'utf8')) as { wrapRsa?: unknown; files: Record<string, unknown> };
    expect(manifest.wrapRsa).toBeUndefined();
    expect(Object.keys(manifest.files).sort()).toEqual(['RESTORE.md', 'wrapped-key.bin']);
  }, 120_000);

  it('refuses a label no ceremony recorded', async () => {
    const r = await room.backup(A, 'no-such-key');
    expect(r.code).toBe(1);
    expect(r.o.stderr).toContain("records no key generated or restored with the label 'no-such-key'");
  }, 60_000);
});

describe('restore-key', () => {
  it('refuses a tampered wrapped key file before anything changes', async () => {
    const copy = room.dir('backups/tampered-wrapped');
    await cp(aesBackup, copy, { recursive: true });
    const w = await readFile(join(copy, 'wrapped-key.bin'));
    w[5] = (w[5] as number) ^ 1;
    await writeFile(join(copy, 'wrapped-key.bin'), w);
    const r = await room.restore(B, copy);
    expect(r.code).toBe(1);
    expect(r.o.stderr).toContain('wrapped-key.bin does not match the manifest');
    expect(await objectsLabelled('bk-b', 'aes-key')).toBe(0);
  }, 60_000);

  it('destroys the restored object when its check value is not the recorded one', async () => {
    const copy = room.dir('backups/tampered-check');
    await cp(hmacBackup, copy, { recursive: true });
    const manifest = JSON.parse(await readFile(join(copy, 'backup-manifest.json'), 'utf8')) as { key: { checkValue: { value: string } } };
    manifest.key.checkValue.value = manifest.key.checkValue.value === '000000' ? '000001' : '000000';
    await writeFile(join(copy, 'backup-manifest.json'), JSON.stringify(manifest, null, 2));
    const r = await room.restore(B, copy);
    expect(r.code).toBe(1);
    expect(r.o.stderr).toContain('the restored key failed its check in the token');
    expect(r.o.stderr).toContain('the restored object was destroyed');
    expect(await objectsLabelled('bk-b', 'hmac-key')).toBe(0);
  }, 60_000);

  it('restores onto B, and kms-rewrap on B exports the same material', async () => {
    const r = await room.restore(B, aesBackup, ['bob', 'alice']);
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
    bundles.push(r.result?.bundle.path as string);
    expect(await objectsLabelled('bk-b', 'aes-key')).toBe(1);
    const rewrap = await room.kms('kms-rewrap', B, kms, 'SYMMETRIC_DEFAULT', 'aes-key', ['carol', 'bob']);
    expect(rewrap.o.stderr).toBe('');
    expect(rewrap.code).toBe(0);
    expect(rewrap.result?.checkValue).toMatchObject({ value: checkValues['aes-key']?.value, method: checkValues['aes-key']?.method });
    const material = independentUnwrap(kms, 'RSAES_OAEP_SHA_1', await readFile(join(rewrap.result?.importBundle.path as string, 'EncryptedKeyMaterial.bin')));
    expect(material.equals(pythonKwpUnwrap(await room.backupKeyFromShares(idA), await readFile(join(aesBackup, 'wrapped-key.bin'))))).toBe(true);
    const h = await room.restore(B, hmacBackup);
    expect(h.o.stderr).toBe('');
    expect(h.code).toBe(0);
  }, 180_000);

  it('refuses a label the target already holds', async () => {
    const r = await room.restore(B, aesBackup);
    expect(r.code).toBe(1);
    expect(r.o.stderr).toContain("already holds 1 object with the label 'aes-key'");
    expect(await objectsLabelled('bk-b', 'aes-key')).toBe(1);
  }, 60_000);

  it('refuses a token of another domain in words, before anything changes', async () => {
    await room.initToken('bk-c', 'usb-other');
    // The shares of C's own domain open C; the backup names A's domain.
    const r = await room.restore(C, aesBackup, ['alice', 'bob'], 'usb-other');
    expect(r.code).toBe(1);
    expect(r.o.stderr).toMatch(/is of security domain [0-9a-f]{32}, and token 'bk-c' belongs to domain [0-9a-f]{32}: it cannot unwrap it/);
    expect(await objectsLabelled('bk-c', 'aes-key')).toBe(0);
  }, 120_000);

  it("every token's bundles verify from its genesis, approvals included", async () => {
    expect(bundles.length).toBe(2);
    for (const token of ['bk-a', 'bk-b']) {
      const list = room.bundles[token] ?? [];
      for (const b of bundles) if (b.includes('backup-key') && token === 'bk-a') expect(list).toContain(b);
      const report = await verifyBundles(list);
      expect(report.checks.filter((c) => c.status === 'fail'), token).toEqual([]);
      expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
    }
  });
});
