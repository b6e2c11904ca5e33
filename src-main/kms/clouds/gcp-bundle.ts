// Google Cloud KMS: wrapped-key.bin is exactly the bytes `gcloud kms keys versions import
// --wrapped-key-file` reads (the RSA-OAEP part, then for *_AES_256 methods the RFC 5649 part).
import type { ImportBundleInput } from '../export.js';
import { checkLines, recogniseLines, type BundleFile, type FileDigest } from './bundle-common.js';
import type { CloudTarget } from './types.js';

type Gcp = Extract<CloudTarget, { cloud: 'gcp' }>;
export const GCP_WRAPPED_KEY = 'wrapped-key.bin';

export function gcpFiles(input: ImportBundleInput): BundleFile[] {
  return [{ name: GCP_WRAPPED_KEY, data: input.wrap.encryptedKeyMaterial }];
}

export function gcpImportCommand(g: Gcp): string {
  const job = g.importJob.slice(g.importJob.lastIndexOf('/') + 1);
  return `gcloud kms keys versions import --import-job ${job} --location ${g.location} --keyring ${g.keyRing} --key ${g.cryptoKey} --algorithm ${g.algorithm} --wrapped-key-file ${GCP_WRAPPED_KEY} --project ${g.project}`;
}

export function gcpInstructions(input: ImportBundleInput, g: Gcp, hashes: readonly FileDigest[]): string {
  const p = input.params;
  return [
    `# Import into Google Cloud KMS`,
    ``,
    `Crypto key: ${p.keyId}`,
    `Import job: ${g.importJob} (method ${g.importMethod}${g.state ? `, ${g.state} when read` : ''})`,
    `Key spec: ${input.keySpec} (Cloud KMS algorithm ${g.algorithm}); wrapped in the token as ${p.wrappingAlgorithm} under the job's RSA-${p.wrappingKeySpec.slice(4)} key`,
    `Key check value: ${input.checkValue.value} (${input.checkValue.method}: ${input.checkValue.description})`,
    `Ceremony: ${input.ceremonyId}; created ${input.createdAt.toISOString()}`,
    ``,
    p.validTo ? `Import before ${p.validTo}: the import job expires then (jobs last 3 days). After that, create a new job` : `Import jobs expire 3 days after creation. When this one has, create a new job`,
    `and re-export the same material with the kms-rewrap ceremony.`,
    ``,
    `The crypto key must exist in the job's key ring with a purpose that fits ${g.algorithm}, e.g. created with`,
    `\`gcloud kms keys create ${g.cryptoKey} --location ${g.location} --keyring ${g.keyRing} --purpose <purpose> --skip-initial-version-creation\`.`,
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
      `gcloud kms keys versions get-public-key VERSION --key ${g.cryptoKey} --keyring ${g.keyRing} --location ${g.location} --project ${g.project} --output-file public.pem`,
    ),
    ``,
    `import-manifest.json lists the SHA-256 of every file here; ${GCP_WRAPPED_KEY} never held plaintext.`,
    ``,
  ].join('\n');
}
