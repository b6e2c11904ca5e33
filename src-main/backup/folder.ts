// The backup folder a backup-key ceremony writes to the custodians' sticks, and restore-key reads: the key
// material wrapped (RFC 5649) under the domain's backup key, or a YubiHSM 2's own wrapped object (AES-CCM)
// under the domain's wrap key, both derived from the secret only M custodians together can rebuild,
// a manifest saying what it is (key spec, label, CKA_ID, check value, source token, domain), and RESTORE.md.
// Created exclusively as NAME.partial, every file written with O_EXCL, fsynced and read back, then renamed;
// read back once more as a whole and its hashes compared before the ceremony records it. Reading refuses a
// folder whose files do not match the manifest's hashes, before anything touches a token.
import { lstat, mkdir, rename, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { readBounded, type FileKind } from '../files/read-bounded.js';
import { fsyncDirectory, writeNewFileVerified } from '../transcript/fs-durable.js';
import { KMS_KEY_SPECS, type KmsKeySpec } from '../kms/types.js';
import { DOMAIN_ID_PATTERN } from '../ceremony/quorum/domain.js';

export const BACKUP_FORMAT = 'keyceremony-key-backup/1';
export const WRAPPED_FILE = 'wrapped-key.bin';
/**
 * The same key wrapped a second way by a PKCS#11 token, for a YubiHSM 2 of the domain (UNWRAP_KEY_RSA):
 * RSA-OAEP (SHA-1) of a fresh AES-256 key || RFC 5649 of the material under it, under the domain RSA wrap key.
 * Optional: backups written before it existed have only wrapped-key.bin.
 */
export const WRAPPED_RSA_FILE = 'wrapped-key-rsa.bin';
export const MANIFEST_FILE = 'backup-manifest.json';
export const RESTORE_FILE = 'RESTORE.md';
export const BACKUP_ERROR = 'backup-folder';
export const BACKUP_TAMPERED = 'backup-tampered';

/** What wrapped-key.bin is, as the manifest says it: a PKCS#11 token's RFC 5649, or a YubiHSM 2's own wrapped object. */
export const WRAP_FORMAT_RFC5649 = 'RFC 5649 (AES key wrap with padding) under the domain backup key';
export const WRAP_FORMAT_YUBIHSM = 'YubiHSM 2 wrapped object (EXPORT WRAPPED, AES-256-CCM) under the domain wrap key';
export type WrapFormat = typeof WRAP_FORMAT_RFC5649 | typeof WRAP_FORMAT_YUBIHSM;
export const WRAP_FORMAT_RSA_AES = 'CKM_RSA_AES_KEY_WRAP (RSA-OAEP SHA-1 of an ephemeral AES-256 key, then RFC 5649) under the domain RSA wrap key';

const KIB = 1024;
const MANIFEST_KIND: FileKind = { what: 'backup manifest', cap: 64 * KIB, remedy: 'Choose the backup folder a backup-key ceremony wrote (it holds backup-manifest.json).', code: BACKUP_ERROR, field: 'backupDir' };
const WRAPPED_KIND: FileKind = { what: 'wrapped key file', cap: 16 * KIB, remedy: 'Choose the backup folder a backup-key ceremony wrote (it holds wrapped-key.bin).', code: BACKUP_ERROR, field: 'backupDir' };

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));
const fileRecord = z.strictObject({ bytes: z.int().min(0), sha256: hex(64) });

export const backupManifestSchema = z.strictObject({
  format: z.literal(BACKUP_FORMAT),
  ceremonyId: z.string().min(1).max(128),
  createdAt: z.string().min(1).max(64),
  domainId: z.string().regex(DOMAIN_ID_PATTERN),
  key: z.strictObject({
    keySpec: z.enum(KMS_KEY_SPECS as unknown as [KmsKeySpec, ...KmsKeySpec[]]),
    label: z.string().min(1).max(64),
    id: z.string().regex(/^([0-9a-f]{2}){0,64}$/),
    checkValue: z.strictObject({ value: z.string().regex(/^[0-9A-F]{6}([0-9A-F]{58})?$/), method: z.enum(['AES-CMAC-ZERO-BLOCK', 'AES-ECB-ZERO-BLOCK', 'HMAC-SHA256-ZERO-BLOCK', 'SHA256-SPKI']) }),
    generatedBy: z.strictObject({ ceremonyId: z.string().min(1).max(128), seq: z.int().min(0), hash: hex(64) }),
    /** RSA and ECC keys: the DER SubjectPublicKeyInfo, base64 (its SHA-256 is the check value). */
    publicKeySpki: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/).max(4096).optional(),
  }),
  sourceToken: z.strictObject({ manufacturer: z.string().max(64), model: z.string().max(64), serial: z.string().max(64), label: z.string().max(64), chain: z.string().max(128) }),
  wrap: z.strictObject({ format: z.enum([WRAP_FORMAT_RFC5649, WRAP_FORMAT_YUBIHSM]), mechanism: z.string().max(64) }),
  /** The second wrap in wrapped-key-rsa.bin, when the source token wrote one (restorable onto a YubiHSM 2). */
  wrapRsa: z.strictObject({ format: z.literal(WRAP_FORMAT_RSA_AES), mechanism: z.string().max(128), rsaModulusBits: z.int().min(2048).max(4096) }).optional(),
  transcriptHead: z.strictObject({ seq: z.int().min(0), hash: hex(64) }).optional(),
  files: z.strictObject({ [WRAPPED_FILE]: fileRecord, [RESTORE_FILE]: fileRecord, [WRAPPED_RSA_FILE]: fileRecord.optional() }),
});
export type BackupManifest = z.infer<typeof backupManifestSchema>;

export interface BackupFolder {
  dir: string;
  manifest: BackupManifest;
  /** SHA-256 of backup-manifest.json as on the medium: what the transcript records. */
  manifestSha256: string;
  wrapped: Buffer;
  /** wrapped-key-rsa.bin, when the manifest lists it (checked against its hash like every file). */
  wrappedRsa?: Buffer;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function ioError(e: unknown, where: string): AppError {
  if (e instanceof AppError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const remedy: Record<string, string> = {
    ENOSPC: 'The stick is full: free space or use another stick, then run this step again.',
    EROFS: 'The stick is read-only: unlock it or use another stick, then run this step again.',
    EACCES: 'This folder is not writable: choose another folder on the stick.',
  };
  return new AppError(BACKUP_ERROR, `cannot write ${where} (${code ?? (e as Error)?.message ?? String(e)})`, remedy[code ?? ''] ?? 'Check the stick (mounted, writable, not full) and run this step again; nothing incomplete is left looking complete.');
}

export function restoreInstructions(m: Omit<BackupManifest, 'files'>): string {
  const yubihsm = m.wrap.format === WRAP_FORMAT_YUBIHSM;
  const what = yubihsm
    ? [
        `${WRAPPED_FILE} is the key object exported inside that YubiHSM 2 with EXPORT WRAPPED: the object (its id, label,`,
        `capabilities and key) encrypted with AES-256-CCM (13-byte nonce, ciphertext, 16-byte MAC) under the wrap key of`,
        `security domain ${m.domainId}. That wrap key is derived from the domain secret, which only the domain's custodians`,
        `together can rebuild; it existed in the device only for that one command. The plaintext key never left the device.`,
        ``,
        `It opens only inside another YubiHSM 2 of the same security domain (IMPORT WRAPPED); a PKCS#11 token cannot read it.`,
      ]
    : [
        `${WRAPPED_FILE} is the key material wrapped inside that token with ${m.wrap.mechanism}: RFC 5649 (AES key wrap`,
        `with padding) under the backup key of security domain ${m.domainId}. That backup key is derived from the`,
        `domain secret, which only the domain's custodians together can rebuild; it never existed outside a token`,
        `except for an instant in the app's memory. The plaintext key never left the token.`,
        ``,
        ...(m.wrapRsa
          ? [
              `It opens inside another PKCS#11 token of the same security domain with RFC 5649 unwrap.`,
              ``,
              `${WRAPPED_RSA_FILE} is the same key wrapped inside that token the way a YubiHSM 2 imports it (UNWRAP_KEY_RSA,`,
              `firmware 2.4 or later): ${m.wrapRsa.format} (RSA-${m.wrapRsa.rsaModulusBits}), derived from the same`,
              `domain secret. restore-key onto a YubiHSM 2 of the domain uses it.`,
            ]
          : [`It opens inside another PKCS#11 token of the same security domain with RFC 5649 unwrap; a YubiHSM 2 cannot read it.`]),
      ];
  return [
    `# Backup of key ${m.key.label} (${m.key.keySpec})`,
    ``,
    `Written by the backup-key ceremony ${m.ceremonyId} at ${m.createdAt} from token '${m.sourceToken.label}' (serial ${m.sourceToken.serial}).`,
    ``,
    ...what,
    ``,
    `To restore it:`,
    ``,
    `    keyceremony restore-key --module MODULE (--slot N | --token URI) --backup THIS_FOLDER \\`,
    `      --share FILE:PASSPHRASE_FILE ... --bundle-out DIR --witness NAME`,
    ``,
    `or the ceremony "Restore a key from a backup" in the app. The target token must be enrolled in domain`,
    `${m.domainId} (init-token or enrol-token with --join-domain-share). After the ${yubihsm ? 'import' : 'unwrap'}, the token computes`,
    `the key's check value and it must be ${m.key.checkValue.value} (${m.key.checkValue.method}); otherwise the restored`,
    `object is destroyed and the ceremony fails.`,
    ``,
    `Key: label ${m.key.label}, CKA_ID ${m.key.id || '(none)'}, check value ${m.key.checkValue.value}.`,
    `${MANIFEST_FILE} lists the SHA-256 of every file here; the backup-key transcript records the SHA-256 of the manifest.`,
    ``,
  ].join('\n');
}

/** Write the backup folder PARENT/NAME exclusively, read it back whole and compare every hash. */
export async function writeBackupFolder(parentDir: string, name: string, wrapped: Uint8Array, described: Omit<BackupManifest, 'files'>, wrappedRsa?: Uint8Array): Promise<BackupFolder> {
  if ((wrappedRsa === undefined) !== (described.wrapRsa === undefined)) throw new Error('wrapped-key-rsa.bin and the manifest\'s wrapRsa go together');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name) || name.endsWith('.partial')) throw new AppError(BACKUP_ERROR, `name ${JSON.stringify(name)} is not a plain folder name`, 'Use letters, digits, dot, dash and underscore.');
  const dir = join(parentDir, name);
  const partial = `${dir}.partial`;
  if (await exists(dir)) throw new AppError(BACKUP_ERROR, `${dir} already exists; a backup is never overwritten`, 'Choose another folder or another stick.');
  try {
    await mkdir(partial);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new AppError(BACKUP_ERROR, `${partial} exists: an earlier backup was interrupted`, `Delete ${partial} (it is incomplete) and run this step again.`);
    throw ioError(e, partial);
  }
  try {
    const files: Record<string, { bytes: number; sha256: string }> = {};
    const put = async (file: string, data: Uint8Array) => {
      try {
        files[file] = { bytes: data.length, sha256: await writeNewFileVerified(join(partial, file), data) };
      } catch (e) {
        throw ioError(e, join(partial, file));
      }
    };
    await put(WRAPPED_FILE, wrapped);
    if (wrappedRsa) await put(WRAPPED_RSA_FILE, wrappedRsa);
    await put(RESTORE_FILE, new TextEncoder().encode(restoreInstructions(described)));
    const manifest = backupManifestSchema.parse({ ...described, files });
    await put(MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
    try {
      await fsyncDirectory(partial);
      if (await exists(dir)) throw new AppError(BACKUP_ERROR, `${dir} appeared during the backup; a backup is never overwritten`, 'Choose another folder.');
      await rename(partial, dir);
      await fsyncDirectory(parentDir);
    } catch (e) {
      throw ioError(e, dir);
    }
  } catch (e) {
    await rm(partial, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
  // Read back as restore-key will read it: every hash, and the wrapped bytes themselves.
  const back = await readBackupFolder(dir);
  if (!back.wrapped.equals(Buffer.from(wrapped)) || (wrappedRsa !== undefined && !back.wrappedRsa?.equals(Buffer.from(wrappedRsa)))) throw new AppError(BACKUP_ERROR, `${dir} does not read back as written`, 'Use another stick; this one does not keep what is written.');
  return back;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Read and check a backup folder: the manifest strictly, every file against its hash. Nothing is touched. */
export async function readBackupFolder(dir: string): Promise<BackupFolder> {
  const manifestBytes = await readBounded(join(dir, MANIFEST_FILE), MANIFEST_KIND);
  let manifest: BackupManifest;
  try {
    manifest = backupManifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
  } catch (e) {
    const why = e instanceof z.ZodError ? e.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).slice(0, 3).join('; ') : (e as Error).message;
    throw new AppError(BACKUP_TAMPERED, `input.backupDir: ${join(dir, MANIFEST_FILE)} is not a backup manifest this app wrote (${why})`, 'Use the backup folder exactly as the backup-key ceremony wrote it; a changed file is refused. Nothing was changed.');
  }
  const wrapped = await readBounded(join(dir, WRAPPED_FILE), WRAPPED_KIND);
  if ((manifest.files[WRAPPED_RSA_FILE] === undefined) !== (manifest.wrapRsa === undefined)) {
    throw new AppError(BACKUP_TAMPERED, `input.backupDir: ${join(dir, MANIFEST_FILE)} lists ${WRAPPED_RSA_FILE} without its wrap format, or the other way round`, 'Use the backup folder exactly as the backup-key ceremony wrote it; a changed file is refused. Nothing was changed.');
  }
  const wrappedRsa = manifest.files[WRAPPED_RSA_FILE] ? await readBounded(join(dir, WRAPPED_RSA_FILE), { ...WRAPPED_KIND, what: 'RSA-wrapped key file' }) : undefined;
  const checks: [string, Buffer][] = [[WRAPPED_FILE, wrapped], [RESTORE_FILE, await readBounded(join(dir, RESTORE_FILE), { ...WRAPPED_KIND, what: 'RESTORE.md' })], ...(wrappedRsa ? [[WRAPPED_RSA_FILE, wrappedRsa] as [string, Buffer]] : [])];
  for (const [file, data] of checks) {
    const want = manifest.files[file as keyof BackupManifest['files']] as { bytes: number; sha256: string };
    if (data.length !== want.bytes || sha256(data) !== want.sha256) {
      throw new AppError(BACKUP_TAMPERED, `input.backupDir: ${join(dir, file)} does not match the manifest (SHA-256 ${sha256(data)}, ${data.length} bytes; the manifest says ${want.sha256}, ${want.bytes} bytes)`, 'The backup was changed or damaged: use another copy of it. Nothing was changed.');
    }
  }
  return { dir, manifest, manifestSha256: sha256(manifestBytes), wrapped, ...(wrappedRsa ? { wrappedRsa } : {}) };
}
