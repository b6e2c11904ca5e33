// The import folder for Google, Azure and Vault (AWS's is export.ts's own): the cloud's file, IMPORT.md
// with its exact command, and import-manifest.json naming the cloud, the target, the method, the key spec,
// the check value (or public key fingerprint) and every file's SHA-256.
import { createHash } from 'node:crypto';
import type { ImportBundleInput } from '../export.js';
import { azureFiles, azureImportCommand, azureInstructions } from './azure-bundle.js';
import type { BundleFile, FileDigest } from './bundle-common.js';
import { gcpFiles, gcpImportCommand, gcpInstructions } from './gcp-bundle.js';
import { vaultFiles, vaultImportCommand, vaultInstructions } from './vault-bundle.js';

export const CLOUD_MANIFEST_FORMAT = 'keyceremony-cloud-import/1';

export interface CloudBundle {
  files: BundleFile[];
  instructions(hashes: readonly FileDigest[]): string;
  manifest(hashes: readonly FileDigest[]): Record<string, unknown>;
}

export function cloudBundle(input: ImportBundleInput): CloudBundle | undefined {
  const c = input.params.cloud;
  if (!c || c.cloud === 'aws') return undefined;
  const p = input.params;
  let files: BundleFile[];
  let command: string;
  let instructions: (h: readonly FileDigest[]) => string;
  let method: string;
  if (c.cloud === 'gcp') {
    files = gcpFiles(input);
    command = gcpImportCommand(c);
    instructions = (h) => gcpInstructions(input, c, h);
    method = c.importMethod;
  } else if (c.cloud === 'azure') {
    files = azureFiles(input, c);
    command = azureImportCommand(input, c);
    instructions = (h) => azureInstructions(input, c, h);
    method = 'CKM_RSA_AES_KEY_WRAP';
  } else {
    files = vaultFiles(input);
    command = vaultImportCommand(c);
    instructions = (h) => vaultInstructions(input, c, h);
    method = `CKM_RSA_AES_KEY_WRAP hash_function=${c.hashFunction}`;
  }
  return {
    files,
    instructions,
    manifest: (hashes) => ({
      format: CLOUD_MANIFEST_FORMAT,
      cloud: c.cloud,
      target: p.keyId,
      targetDetails: { ...c },
      ceremonyId: input.ceremonyId,
      ...(input.transcriptHead ? { transcriptHead: input.transcriptHead } : {}),
      createdAt: input.createdAt.toISOString(),
      keySpec: input.keySpec,
      cloudKeyAlgorithm: c.algorithm,
      tokenKey: { label: input.keyLabel, id: input.keyIdHex },
      method,
      wrappingAlgorithm: p.wrappingAlgorithm,
      wrappingKeySpec: p.wrappingKeySpec,
      wrappingPublicKeySha256: sha256(p.publicKeySpkiDer),
      wrapMethod: input.wrap.method,
      checkValue: input.checkValue,
      ...(p.validTo ? { parametersValidTo: p.validTo } : {}),
      importCommand: command,
      files: Object.fromEntries(hashes.map((f) => [f.name, { bytes: f.bytes, sha256: f.sha256 }])),
    }),
  };
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
