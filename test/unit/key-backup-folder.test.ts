// The backup folder: written exclusively (never over an existing folder, never leaving a .partial that looks
// complete), read back with every hash compared; a changed file or manifest is refused by name before
// anything could reach a token. And the command-line flags of a token joining a domain.
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKUP_FORMAT, BACKUP_TAMPERED, readBackupFolder, WRAP_FORMAT_RSA_AES, writeBackupFolder, type BackupManifest } from '../../src-main/backup/folder.js';
import { joinDomainFlags } from '../../src-main/cli/ceremony-flags.js';
import { purposesFor } from '../../src-main/ceremony-handlers.js';
import { chooseBackupMechanism } from '../../src-main/backup/mechanism.js';
import type { TokenLayer } from '../../hsm/token.js';

let dir: string;
const wrapped = Buffer.from('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677', 'hex');
const described: Omit<BackupManifest, 'files'> = {
  format: BACKUP_FORMAT,
  ceremonyId: 'backup-key-20261206T000000Z-abcdef',
  createdAt: '2026-12-06T00:00:00.000Z',
  domainId: '0123456789abcdef0123456789abcdef',
  key: { keySpec: 'SYMMETRIC_DEFAULT', label: 'k1', id: 'a1b2', checkValue: { value: 'ABC123', method: 'AES-CMAC-ZERO-BLOCK' }, generatedBy: { ceremonyId: 'kms-import-x', seq: 40, hash: 'a'.repeat(64) } },
  sourceToken: { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '1234', label: 'a', chain: 'init-token-x' },
  wrap: { format: 'RFC 5649 (AES key wrap with padding) under the domain backup key', mechanism: 'CKM_AES_KEY_WRAP_PAD' },
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kc-backup-folder-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('backup folder', () => {
  it('writes three files, and reads back what it wrote with the manifest digest', async () => {
    const written = await writeBackupFolder(dir, 'backup-k1', wrapped, described);
    expect((await readdir(written.dir)).sort()).toEqual(['RESTORE.md', 'backup-manifest.json', 'wrapped-key.bin']);
    expect(await readdir(dir)).toEqual(['backup-k1']);
    const back = await readBackupFolder(written.dir);
    expect(back.wrapped.equals(wrapped)).toBe(true);
    expect(back.manifest.key).toEqual(described.key);
    expect(back.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await readFile(join(written.dir, 'RESTORE.md'), 'utf8')).toContain('0123456789abcdef0123456789abcdef');
  });

  it('never writes over an existing folder, and refuses a leftover .partial', async () => {
    await mkdir(join(dir, 'backup-k1'));
    await expect(writeBackupFolder(dir, 'backup-k1', wrapped, described)).rejects.toThrow(/already exists; a backup is never overwritten/);
    await mkdir(join(dir, 'backup-k2.partial'));
    await expect(writeBackupFolder(dir, 'backup-k2', wrapped, described)).rejects.toThrow(/an earlier backup was interrupted/);
  });

  it('refuses a wrapped key file that does not match the manifest', async () => {
    const { dir: d } = await writeBackupFolder(dir, 'backup-k1', wrapped, described);
    const changed = Buffer.from(wrapped);
    changed[0] = 0xff;
    await writeFile(join(d, 'wrapped-key.bin'), changed);
    await expect(readBackupFolder(d)).rejects.toMatchObject({ code: BACKUP_TAMPERED, message: expect.stringContaining('wrapped-key.bin does not match the manifest') });
  });

  it('writes and reads the RSA-wrapped copy for a YubiHSM, hash-checked; a manifest naming one without the other is refused', async () => {
    const rsa = Buffer.alloc(424, 7);
    const withRsa = { ...described, wrapRsa: { format: WRAP_FORMAT_RSA_AES, mechanism: 'composed: AES_KEY_WRAP_PAD + RSA-OAEP', rsaModulusBits: 3072 } } as const;
    const written = await writeBackupFolder(dir, 'backup-rsa', wrapped, withRsa, rsa);
    expect((await readdir(written.dir)).sort()).toEqual(['RESTORE.md', 'backup-manifest.json', 'wrapped-key-rsa.bin', 'wrapped-key.bin']);
    const back = await readBackupFolder(written.dir);
    expect(back.wrappedRsa?.equals(rsa)).toBe(true);
    expect(await readFile(join(written.dir, 'RESTORE.md'), 'utf8')).toContain('UNWRAP_KEY_RSA');
    await writeFile(join(written.dir, 'wrapped-key-rsa.bin'), Buffer.alloc(424, 8));
    await expect(readBackupFolder(written.dir)).rejects.toThrow(/wrapped-key-rsa.bin does not match the manifest/);
    const m = JSON.parse(await readFile(join(written.dir, 'backup-manifest.json'), 'utf8')) as Record<string, unknown>;
    delete m.wrapRsa;
    await writeFile(join(written.dir, 'backup-manifest.json'), JSON.stringify(m));
    await expect(readBackupFolder(written.dir)).rejects.toMatchObject({ code: BACKUP_TAMPERED });
    // The old shape (no RSA copy) still reads.
    const old = await writeBackupFolder(dir, 'backup-old', wrapped, described);
    expect((await readBackupFolder(old.dir)).wrappedRsa).toBeUndefined();
  });

  it('refuses a manifest with a field this app does not write', async () => {
    const { dir: d } = await writeBackupFolder(dir, 'backup-k1', wrapped, described);
    const m = JSON.parse(await readFile(join(d, 'backup-manifest.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(d, 'backup-manifest.json'), JSON.stringify({ ...m, extra: 1 }));
    await expect(readBackupFolder(d)).rejects.toMatchObject({ code: BACKUP_TAMPERED, message: expect.stringContaining('is not a backup manifest this app wrote') });
  });

  it('a destination field of write-backup takes only a folder chosen for the backup, check-backup only a backup folder', () => {
    expect(purposesFor('write-backup', 'destinationDir')).toEqual(['backup-destination']);
    expect(purposesFor('check-backup', 'backupDir')).toEqual(['key-backup']);
    expect(purposesFor('export-bundle', 'backupDir')).toEqual([]);
  });
});

describe('--join-domain-share', () => {
  it('is absent unless given', () => {
    expect(joinDomainFlags({})).toBeUndefined();
  });
  it.each(['custodians', 'threshold', 'passphrase-file', 'insecure-plain-shares', 'shares-out'])('refuses --%s beside it', (flag) => {
    expect(() => joinDomainFlags({ 'join-domain-share': ['/a.share:/a.pass'], [flag]: 'x' })).toThrow(`--${flag} cannot be given with --join-domain-share`);
  });
  it('splits FILE:PASSPHRASE_FILE and refuses the same file twice', () => {
    expect(joinDomainFlags({ 'join-domain-share': ['/s/a.share:/p/a.pass', '/s/b.share'] })?.shares).toEqual([{ file: '/s/a.share', passphraseFile: '/p/a.pass' }, { file: '/s/b.share' }]);
    expect(() => joinDomainFlags({ 'join-domain-share': ['/s/a.share', '/s/a.share:/p'] })).toThrow('given twice');
  });
});

describe('backup mechanism', () => {
  it('gives a YubiHSM 2 its own wrap (EXPORT/IMPORT WRAPPED) without asking the device anything', async () => {
    // Any device call on this layer would fail the test: only the presence of the two methods is looked at.
    const asked: string[] = [];
    const untouched = new Proxy({}, { get: (_t, name) => (name === 'exportUnderDomainWrapKey' || name === 'importUnderDomainWrapKey' ? () => asked.push(String(name)) : () => { throw new Error(`the layer was asked ${String(name)}`); }) }) as unknown as TokenLayer;
    const slot = { moduleId: 'yubihsm:http://127.0.0.1:12345', slotId: '0' };
    expect(await chooseBackupMechanism(untouched, slot, 's', 'SYMMETRIC_DEFAULT', 'wrap')).toMatchObject({ format: 'yubihsm-wrapped', name: 'YUBIHSM_EXPORT_WRAPPED' });
    expect(await chooseBackupMechanism(untouched, slot, 's', 'ECC_NIST_P256', 'unwrap')).toMatchObject({ format: 'yubihsm-wrapped', name: 'YUBIHSM_IMPORT_WRAPPED' });
    expect(asked).toEqual([]);
  });
  it('refuses a YubiHSM driver without the wrap commands in words', async () => {
    const bare = new Proxy({}, { get: (_t, name) => (name === 'exportUnderDomainWrapKey' || name === 'importUnderDomainWrapKey' ? undefined : () => { throw new Error(`the layer was asked ${String(name)}`); }) }) as unknown as TokenLayer;
    await expect(chooseBackupMechanism(bare, { moduleId: 'yubihsm:http://127.0.0.1:12345', slotId: '0' }, 's', 'SYMMETRIC_DEFAULT', 'wrap')).rejects.toThrow('this YubiHSM driver cannot export or import under a wrap key');
  });
});

describe('backup manifest wrap format', () => {
  it('names the model that can read it in RESTORE.md, and refuses a format it does not know', async () => {
    const { backupManifestSchema, restoreInstructions, WRAP_FORMAT_RFC5649, WRAP_FORMAT_YUBIHSM } = await import('../../src-main/backup/folder.js');
    const base = {
      format: 'keyceremony-key-backup/1' as const,
      ceremonyId: 'c1',
      createdAt: '2026-12-07T00:00:00Z',
      domainId: 'a'.repeat(32),
      key: { keySpec: 'SYMMETRIC_DEFAULT' as const, label: 'k', id: '0102', checkValue: { value: 'ABCDEF', method: 'AES-CMAC-ZERO-BLOCK' as const }, generatedBy: { ceremonyId: 'g', seq: 3, hash: '0'.repeat(64) } },
      sourceToken: { manufacturer: 'Yubico', model: 'YubiHSM 2', serial: '7', label: 'y', chain: 'x' },
    };
    const yubi = restoreInstructions({ ...base, wrap: { format: WRAP_FORMAT_YUBIHSM, mechanism: 'YUBIHSM_EXPORT_WRAPPED' } });
    expect(yubi).toContain('a PKCS#11 token cannot read it');
    expect(yubi).toContain('AES-256-CCM');
    expect(restoreInstructions({ ...base, wrap: { format: WRAP_FORMAT_RFC5649, mechanism: 'CKM_AES_KEY_WRAP_KWP' } })).toContain('a YubiHSM 2 cannot read it');
    const files = { 'wrapped-key.bin': { bytes: 1, sha256: '0'.repeat(64) }, 'RESTORE.md': { bytes: 1, sha256: '0'.repeat(64) } };
    expect(backupManifestSchema.safeParse({ ...base, wrap: { format: WRAP_FORMAT_YUBIHSM, mechanism: 'm' }, files }).success).toBe(true);
    expect(backupManifestSchema.safeParse({ ...base, wrap: { format: 'AES-GCM of our own', mechanism: 'm' }, files }).success).toBe(false);
  });
});

describe('sign-off summary of a backup and a restore', () => {
  it('shows the key, the check value the token computed now, the domain and the backup folder', async () => {
    const { summarizeRecords } = await import('../../src-main/ceremony/summary.js');
    const r = (step: string, data: Record<string, unknown>) => ({ time: 't', step, kind: 'result', actor: 'erin', data: data as never, hash: 'h' });
    const backup = summarizeRecords('b', [
      r('find', { action: 'find-backup-key', key: { label: 'k1', keySpec: 'SYMMETRIC_DEFAULT', id: 'a1' }, checkValue: { recorded: { value: 'ABC123', method: 'AES-CMAC-ZERO-BLOCK' }, now: { value: 'ABC123', method: 'AES-CMAC-ZERO-BLOCK' } }, mechanism: { name: 'CKM_AES_KEY_WRAP_PAD' } }),
      r('wrap', { action: 'backup-wrap', domainId: '0123456789abcdef0123456789abcdef' }),
      r('write', { action: 'write-backup', folder: '/media/b/backup-k1-x', manifestSha256: 'f'.repeat(64), files: { 'wrapped-key.bin': { bytes: 40, sha256: 'e'.repeat(64) }, 'RESTORE.md': { bytes: 900, sha256: 'd'.repeat(64) } } }),
    ]);
    expect(backup.backup).toEqual({ label: 'k1', keySpec: 'SYMMETRIC_DEFAULT', id: 'a1', checkValue: { value: 'ABC123', method: 'AES-CMAC-ZERO-BLOCK' }, mechanism: 'CKM_AES_KEY_WRAP_PAD', domainId: '0123456789abcdef0123456789abcdef', manifestSha256: 'f'.repeat(64) });
    expect(backup.files.map((f) => `${f.kind}:${f.name}`)).toEqual(['key-backup:wrapped-key.bin', 'key-backup:RESTORE.md', 'key-backup:backup-manifest.json']);
    const restore = summarizeRecords('r', [
      r('check', { action: 'check-backup', key: { label: 'k1', keySpec: 'SYMMETRIC_DEFAULT', id: 'a1', checkValue: { value: 'ABC123', method: 'AES-CMAC-ZERO-BLOCK' } }, domainId: '0123456789abcdef0123456789abcdef', backup: { manifestSha256: 'f'.repeat(64) }, mechanism: { name: 'CKM_AES_KEY_WRAP_KWP' } }),
      r('unwrap', { action: 'restore-unwrap', key: { label: 'k1', keySpec: 'SYMMETRIC_DEFAULT', id: 'a1' }, checkValue: { value: 'ABC123', method: 'AES-CMAC-ZERO-BLOCK', recordedInBackup: 'ABC123' }, domainId: '0123456789abcdef0123456789abcdef', mechanism: 'CKM_AES_KEY_WRAP_KWP' }),
    ]);
    expect(restore.backup).toMatchObject({ label: 'k1', checkValue: { value: 'ABC123' }, domainId: '0123456789abcdef0123456789abcdef', mechanism: 'CKM_AES_KEY_WRAP_KWP', manifestSha256: 'f'.repeat(64) });
  });
});
