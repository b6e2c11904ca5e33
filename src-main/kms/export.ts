// The bundle carried to a connected machine for `aws kms import-key-material`. Written into
// `<name>.partial`, every file created exclusively, fsynced, read back and its SHA-256 compared
// (writeNewFileVerified), and only then renamed to `<name>`: a folder without the suffix is complete.
import { lstat, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../errors.js';
import { fsyncDirectory, writeNewFileVerified } from '../transcript/fs-durable.js';
import type { CheckValue } from './kcv.js';
import { isAsymmetric } from './rules.js';
import type { ImportParameters, KmsKeySpec } from './types.js';
import type { WrapResult } from './wrap.js';
import { awsImportTypeOptions, awsRotationLines } from './clouds/aws-commands.js';
import { cloudBundle } from './clouds/bundle.js';
import { shellOption } from './clouds/shell.js';

export const EXPORT_ERROR = 'KMS_EXPORT';
export const MANIFEST_FORMAT = 'keyceremony-kms-import/1';

export interface ImportBundleInput {
  /** The folder on the stick the bundle folder is created in. */
  parentDir: string;
  /** The bundle folder's name. */
  name: string;
  params: ImportParameters;
  keySpec: KmsKeySpec;
  keyLabel: string;
  /** CKA_ID of the key in the token, hex. */
  keyIdHex: string;
  checkValue: CheckValue;
  wrap: WrapResult;
  ceremonyId: string;
  transcriptHead?: string;
  createdAt: Date;
  /** Azure's .byok `generator`: this application and version; the token's maker and model. */
  generator?: string;
}

export interface ExportedFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface ExportedBundle {
  dir: string;
  files: ExportedFile[];
  manifest: Record<string, unknown>;
}

export function importCommand(params: Pick<ImportParameters, 'keyArn' | 'keyId' | 'cloud'>): string {
  const aws = params.cloud?.cloud === 'aws' ? params.cloud : undefined;
  return `aws kms import-key-material ${shellOption('--key-id', params.keyArn ?? params.keyId)} --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE${awsImportTypeOptions(aws)}`;
}

export function importInstructions(input: Omit<ImportBundleInput, 'parentDir' | 'name'>, hashes: ExportedFile[]): string {
  const p = input.params;
  const symmetric = !isAsymmetric(input.keySpec);
  const lines = [
    `# Import into AWS KMS`,
    ``,
    `Key: ${p.keyArn ?? `${p.keyId} (only the key id is known: add --region <Region> to the commands)`}`,
    `Key spec: ${input.keySpec}; wrapping algorithm: ${p.wrappingAlgorithm}; wrapping key spec: ${p.wrappingKeySpec}`,
    `Key check value: ${input.checkValue.value} (${input.checkValue.method}: ${input.checkValue.description})`,
    `Ceremony: ${input.ceremonyId}; created ${input.createdAt.toISOString()}`,
    ``,
    `Import before ${p.validTo ?? '?'}: the import token and wrapping key expire then. After that, request new`,
    `parameters and re-export the same key material (the kms-rewrap ceremony); AWS KMS accepts only the`,
    `same material again for this key.`,
    ``,
    `On a connected machine, in this folder, check the files, then run:`,
    ``,
    '```',
    ...hashes.filter((f) => f.name.endsWith('.bin')).map((f) => `echo "${f.sha256}  ${f.name}" | sha256sum -c`),
    ``,
    importCommand(p),
    '```',
    ``,
    `To make the key material expire instead, replace the last option with`,
    `\`--expiration-model KEY_MATERIAL_EXPIRES --valid-to <ISO 8601 time, at most 365 days ahead>\`.`,
  ];
  const aws = p.cloud?.cloud === 'aws' ? p.cloud : undefined;
  if (aws?.importType) lines.push(...awsRotationLines(aws, p.keyArn ?? p.keyId));
  else if (symmetric) {
    lines.push(
      ``,
      `This is a symmetric key: with an AWS CLI that knows the option, add \`--import-type NEW_KEY_MATERIAL\``,
      `for its first import (and optionally \`--key-material-description "<text>"\`); re-importing this same`,
      `material later uses \`--import-type EXISTING_KEY_MATERIAL --key-material-id <id KMS reported>\`.`,
    );
  }
  lines.push(``, `import-manifest.json lists the SHA-256 of every file here; EncryptedKeyMaterial.bin never held plaintext.`, ``);
  return lines.join('\n');
}

/**
 * `leftover`: the `.partial` folder's name once it was created. When the stick went away mid-export, the
 * cleanup could not reach it: it may still be there when the stick is back, and a new export is refused
 * until it is deleted, so the remedy says so.
 */
function ioError(e: unknown, where: string, leftover?: string): AppError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const remedies: Record<string, string> = {
    ENOSPC: 'The stick is full: free space or use another stick, then export again.',
    EROFS: 'The stick is read-only: unlock it (write-protect switch) or use another stick, then export again.',
    EACCES: 'This folder is not writable: choose another folder on the stick.',
    EIO: 'The stick failed (removed or faulty): re-insert it or use another, then export again.',
    ENOENT: 'The folder disappeared (stick removed?): re-insert it, then export again.',
  };
  if (leftover) {
    remedies.EIO = `The stick failed (removed or faulty): re-insert it and delete ${leftover} from it if it is there (it is incomplete), or use another stick; then export again.`;
    remedies.ENOENT = `The folder disappeared (stick removed?): re-insert it, delete ${leftover} from it if it is there (it is incomplete), then export again.`;
  }
  if (e instanceof AppError) return e;
  return new AppError(EXPORT_ERROR, `Writing ${where} failed (${code ?? (e instanceof Error ? e.message : String(e))}).`, (code && remedies[code]) ?? 'Check the stick and export again; nothing was recorded as exported.');
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

export async function exportImportBundle(input: ImportBundleInput): Promise<ExportedBundle> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(input.name) || input.name.endsWith('.partial')) {
    throw new AppError(EXPORT_ERROR, `name ${JSON.stringify(input.name)} is not a plain folder name.`, 'Use letters, digits, dot, dash and underscore, e.g. kms-import-2026-11-29.');
  }
  const dir = join(input.parentDir, input.name);
  const partial = `${dir}.partial`;
  if (await exists(dir)) throw new AppError(EXPORT_ERROR, `${dir} already exists; exports are never overwritten.`, 'Choose another folder name or another stick.');
  try {
    await mkdir(partial);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AppError(EXPORT_ERROR, `${partial} exists: an earlier export was interrupted.`, `Delete ${partial} (it is incomplete) and export again.`);
    }
    throw ioError(e, partial);
  }
  try {
    const files: ExportedFile[] = [];
    const put = async (name: string, data: Uint8Array) => {
      try {
        files.push({ name, bytes: data.length, sha256: await writeNewFileVerified(join(partial, name), data) });
      } catch (e) {
        throw ioError(e, join(partial, name), `${input.name}.partial`);
      }
    };
    const cloud = cloudBundle(input);
    if (cloud) {
      for (const f of cloud.files) await put(f.name, f.data);
      await put('IMPORT.md', new TextEncoder().encode(cloud.instructions(files)));
    } else {
      await put('EncryptedKeyMaterial.bin', input.wrap.encryptedKeyMaterial);
      await put('ImportToken.bin', input.params.importToken);
      await put('WrappingPublicKey.bin', input.params.publicKeySpkiDer);
      await put('IMPORT.md', new TextEncoder().encode(importInstructions(input, files)));
    }
    const p = input.params;
    const aws = p.cloud?.cloud === 'aws' ? p.cloud : undefined;
    const manifest: Record<string, unknown> = cloud
      ? cloud.manifest(files)
      : {
          format: MANIFEST_FORMAT,
          cloud: 'aws',
          target: p.keyArn ?? p.keyId,
          ceremonyId: input.ceremonyId,
          ...(input.transcriptHead ? { transcriptHead: input.transcriptHead } : {}),
          createdAt: input.createdAt.toISOString(),
          kmsKey: { ...(p.keyArn ? { keyArn: p.keyArn } : {}), keyId: p.keyId, ...(p.region ? { region: p.region } : {}), ...(p.account ? { account: p.account } : {}) },
          keySpec: input.keySpec,
          tokenKey: { label: input.keyLabel, id: input.keyIdHex },
          wrappingAlgorithm: p.wrappingAlgorithm,
          wrappingKeySpec: p.wrappingKeySpec,
          wrapMethod: input.wrap.method,
          checkValue: input.checkValue,
          parametersValidTo: p.validTo,
          ...(isAsymmetric(input.keySpec) ? {} : { importType: aws?.importType ?? 'NEW_KEY_MATERIAL' }),
          ...(aws?.keyMaterialDescription !== undefined ? { keyMaterialDescription: aws.keyMaterialDescription } : {}),
          ...(aws?.keyMaterialId !== undefined ? { keyMaterialId: aws.keyMaterialId } : {}),
          importCommand: importCommand(p),
          files: Object.fromEntries(files.map((f) => [f.name, { bytes: f.bytes, sha256: f.sha256 }])),
        };
    await put('import-manifest.json', new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'));
    try {
      await fsyncDirectory(partial);
      // rename() would replace an empty directory made meanwhile: look once more just before.
      if (await exists(dir)) throw new AppError(EXPORT_ERROR, `${dir} appeared during the export; exports are never overwritten.`, 'Choose another folder name.');
      await rename(partial, dir);
      await fsyncDirectory(input.parentDir);
    } catch (e) {
      throw ioError(e, dir, `${input.name}.partial`);
    }
    return { dir, files, manifest };
  } catch (e) {
    // Nothing half-written may look complete: the .partial folder is ours (created exclusively) and goes.
    await rm(partial, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}
