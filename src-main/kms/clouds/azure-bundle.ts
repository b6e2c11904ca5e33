// Azure Key Vault / Managed HSM: the .byok file `az keyvault key import --byok-file` reads, a JSON object
// {"schema_version":"1.0.0","header":{"kid":KEK kid,"alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"},
//  "ciphertext":base64url(RSA-OAEP-SHA1(AES key) || RFC 5649(material)),"generator":"<tool>; <HSM>"}.
import type { ImportBundleInput } from '../export.js';
import { checkLines, recogniseLines, safeFileStem, type BundleFile, type FileDigest } from './bundle-common.js';
import { shellOption } from './shell.js';
import type { CloudTarget } from './types.js';

type Azure = Extract<CloudTarget, { cloud: 'azure' }>;

export function azureByokName(keyLabel: string): string {
  return `${safeFileStem(keyLabel)}.byok`;
}

export function byokDocument(kid: string, ciphertext: Uint8Array, generator: string): string {
  // Member order as Azure's own BYOK tools write it; no line break inside, one at the end.
  return `${JSON.stringify({ schema_version: '1.0.0', header: { kid, alg: 'dir', enc: 'CKM_RSA_AES_KEY_WRAP' }, ciphertext: Buffer.from(ciphertext).toString('base64url'), generator })}\n`;
}

export function azureFiles(input: ImportBundleInput, a: Azure): BundleFile[] {
  const generator = input.generator ?? 'keyceremony';
  return [{ name: azureByokName(input.keyLabel), data: new TextEncoder().encode(byokDocument(a.kekKid, input.wrap.encryptedKeyMaterial, generator)) }];
}

function where(a: Azure): string {
  return shellOption(a.managedHsm ? '--hsm-name' : '--vault-name', a.vaultName);
}

export function azureImportCommand(input: Pick<ImportBundleInput, 'keyLabel'>, a: Azure): string {
  // az appends -HSM to --kty itself (a .byok key is always HSM-protected) and wants --curve exactly for EC.
  return [
    'az keyvault key import',
    where(a),
    shellOption('--name', a.keyName),
    shellOption('--byok-file', azureByokName(input.keyLabel)),
    shellOption('--kty', a.kty),
    ...(a.curve ? [shellOption('--curve', a.curve)] : []),
  ].join(' ');
}

export function azureInstructions(input: ImportBundleInput, a: Azure, hashes: readonly FileDigest[]): string {
  const p = input.params;
  const file = azureByokName(input.keyLabel);
  return [
    `# Import into Azure ${a.managedHsm ? 'Managed HSM' : 'Key Vault'}`,
    ``,
    `Key: ${a.keyName} in ${a.managedHsm ? 'Managed HSM' : 'key vault'} ${a.vaultName} (${p.keyId})`,
    `Key exchange key (KEK): ${a.kekKid} (RSA-${p.wrappingKeySpec.slice(4)})`,
    `Key spec: ${input.keySpec} (${a.algorithm}); wrapped in the token as CKM_RSA_AES_KEY_WRAP with SHA-1 OAEP (${p.wrappingAlgorithm})`,
    `Key check value: ${input.checkValue.value} (${input.checkValue.method}: ${input.checkValue.description})`,
    `Ceremony: ${input.ceremonyId}; created ${input.createdAt.toISOString()}`,
    ``,
    `Only the ${a.managedHsm ? 'Managed HSM' : 'key vault'} that holds the KEK can import ${file}.${p.validTo ? ` The KEK expires at ${p.validTo}.` : ''}${a.managedHsm ? '' : ' The vault must be'}`,
    ...(a.managedHsm ? [] : [`Premium: a .byok key is HSM-protected (az adds -HSM to --kty).`]),
    ``,
    `On a connected machine, in this folder, check the file, then run:`,
    ``,
    '```',
    ...checkLines(hashes, [file]),
    ``,
    azureImportCommand(input, a),
    '```',
    ``,
    ...recogniseLines(input.keySpec, input.checkValue, `az keyvault key download ${where(a)} ${shellOption('--name', a.keyName)} --file public.pem --encoding PEM`),
    ``,
    `import-manifest.json lists the SHA-256 of every file here; ${file} never held plaintext.`,
    ``,
  ].join('\n');
}
