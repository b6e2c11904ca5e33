// Google Cloud KMS: wrapped-key.bin is exactly the bytes `gcloud kms keys versions import
// --wrapped-key-file` reads (the RSA-OAEP part, then for *_AES_256 methods the RFC 5649 part).
import type { ImportBundleInput } from '../export.js';
import { checkLines, recogniseLines, type BundleFile, type FileDigest } from './bundle-common.js';
import { shellOption, shellWord } from './shell.js';
import type { CloudTarget } from './types.js';

type Gcp = Extract<CloudTarget, { cloud: 'gcp' }>;
export const GCP_WRAPPED_KEY = 'wrapped-key.bin';

export function gcpFiles(input: ImportBundleInput): BundleFile[] {
  return [{ name: GCP_WRAPPED_KEY, data: input.wrap.encryptedKeyMaterial }];
}

/**
 * gcloud's spelling of a CryptoKeyVersionAlgorithm: its --algorithm choices are the enum names in lower case
 * with dashes (EC_SIGN_P384_SHA384 is ec-sign-p384-sha384); the API's own spelling is an invalid choice there.
 */
export function gcloudAlgorithm(algorithm: string): string {
  return algorithm.toLowerCase().replace(/_/g, '-');
}

/** `gcloud kms keys create --purpose` for the algorithm (gcloud's PURPOSE_MAP names). */
export function gcloudPurpose(algorithm: string): string {
  if (algorithm === 'GOOGLE_SYMMETRIC_ENCRYPTION') return 'encryption';
  if (algorithm.startsWith('AES_')) return 'raw-encryption';
  if (algorithm.startsWith('HMAC_')) return 'mac';
  if (algorithm.startsWith('RSA_DECRYPT_')) return 'asymmetric-encryption';
  return 'asymmetric-signing';
}

function keyName(g: Gcp): string {
  return `projects/${g.project}/locations/${g.location}/keyRings/${g.keyRing}/cryptoKeys/${g.cryptoKey}`;
}

export function gcpImportCommand(g: Gcp): string {
  const job = g.importJob.slice(g.importJob.lastIndexOf('/') + 1);
  return [
    'gcloud kms keys versions import',
    shellOption('--import-job', job),
    shellOption('--location', g.location),
    shellOption('--keyring', g.keyRing),
    shellOption('--key', g.cryptoKey),
    shellOption('--algorithm', gcloudAlgorithm(g.algorithm)),
    shellOption('--wrapped-key-file', GCP_WRAPPED_KEY),
    shellOption('--project', g.project),
  ].join(' ');
}

/** How to create the crypto key the version goes into (a positional full name: a key id may start with a dash). */
export function gcpCreateKeyCommand(g: Gcp): string {
  return [
    'gcloud kms keys create',
    shellWord(keyName(g)),
    shellOption('--purpose', gcloudPurpose(g.algorithm)),
    shellOption('--default-algorithm', gcloudAlgorithm(g.algorithm)),
    ...(g.protectionLevel ? [shellOption('--protection-level', g.protectionLevel.toLowerCase().replace(/_/g, '-'))] : []),
    '--skip-initial-version-creation --import-only',
  ].join(' ');
}

export function gcpInstructions(input: ImportBundleInput, g: Gcp, hashes: readonly FileDigest[]): string {
  const p = input.params;
  return [
    `# Import into Google Cloud KMS`,
    ``,
    `Crypto key: ${p.keyId}`,
    `Import job: ${g.importJob} (method ${g.importMethod}${g.state ? `, ${g.state} when read` : ''})`,
    `Key spec: ${input.keySpec} (Cloud KMS algorithm ${g.algorithm}, gcloud ${gcloudAlgorithm(g.algorithm)}); wrapped in the token as ${p.wrappingAlgorithm} under the job's RSA-${p.wrappingKeySpec.slice(4)} key`,
    `Key check value: ${input.checkValue.value} (${input.checkValue.method}: ${input.checkValue.description})`,
    `Ceremony: ${input.ceremonyId}; created ${input.createdAt.toISOString()}`,
    ``,
    p.validTo ? `Import before ${p.validTo}: the import job expires then (jobs last 3 days). After that, create a new job` : `Import jobs expire 3 days after creation. When this one has, create a new job`,
    `and re-export the same material with the kms-rewrap ceremony.`,
    ``,
    `The crypto key must exist in the job's key ring with a purpose that fits ${g.algorithm}${g.protectionLevel ? '' : ' and the import job\'s protection level'}, e.g. created with`,
    `\`${gcpCreateKeyCommand(g)}\`.`,
    ``,
    `On a connected machine, in this folder, check the file, then run:`,
    ``,
    '```',
    ...checkLines(hashes, [GCP_WRAPPED_KEY]),
    ``,
    gcpImportCommand(g),
    '```',
    ``,
    ...recogniseLines(
      input.keySpec,
      input.checkValue,
      `gcloud kms keys versions get-public-key VERSION ${[shellOption('--key', g.cryptoKey), shellOption('--keyring', g.keyRing), shellOption('--location', g.location), shellOption('--project', g.project)].join(' ')} --output-file public.pem`,
    ),
    ``,
    `import-manifest.json lists the SHA-256 of every file here; ${GCP_WRAPPED_KEY} never held plaintext.`,
    ``,
  ].join('\n');
}
