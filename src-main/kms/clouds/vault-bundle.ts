// HashiCorp Vault transit: ciphertext.b64 is the base64 the import endpoint's ciphertext field takes, with
// no line break (the CLI's @file reads the file as it is, and a newline is not base64).
import type { ImportBundleInput } from '../export.js';
import { checkLines, recogniseLines, type BundleFile, type FileDigest } from './bundle-common.js';
import { shellWord } from './shell.js';
import type { CloudTarget } from './types.js';

type Vault = Extract<CloudTarget, { cloud: 'vault' }>;
export const VAULT_CIPHERTEXT = 'ciphertext.b64';

export function vaultFiles(input: ImportBundleInput): BundleFile[] {
  return [{ name: VAULT_CIPHERTEXT, data: new TextEncoder().encode(Buffer.from(input.wrap.encryptedKeyMaterial).toString('base64')) }];
}

export function vaultImportCommand(v: Vault): string {
  return ['vault write', shellWord(`${v.mount}/keys/${v.keyName}/import`), shellWord(`ciphertext=@${VAULT_CIPHERTEXT}`), shellWord(`hash_function=${v.hashFunction}`), shellWord(`type=${v.algorithm}`)].join(' ');
}

export function vaultInstructions(input: ImportBundleInput, v: Vault, hashes: readonly FileDigest[]): string {
  const p = input.params;
  return [
    `# Import into HashiCorp Vault transit`,
    ``,
    `Key: ${v.mount}/keys/${v.keyName} (type ${v.algorithm})`,
    `Key spec: ${input.keySpec}; wrapped in the token as CKM_RSA_AES_KEY_WRAP with ${v.hashFunction} (${p.wrappingAlgorithm}) under the transit wrapping key (RSA-4096)`,
    `Key check value: ${input.checkValue.value} (${input.checkValue.method}: ${input.checkValue.description})`,
    `Ceremony: ${input.ceremonyId}; created ${input.createdAt.toISOString()}`,
    ``,
    `Only the Vault cluster whose ${v.mount}/wrapping_key was read can import this, and only into the ${v.mount} mount`,
    `(each transit mount has its own wrapping key).`,
    ``,
    `On a connected machine with VAULT_ADDR and a token allowed to import, in this folder, check the file, then run:`,
    ``,
    '```',
    ...checkLines(hashes, [VAULT_CIPHERTEXT]),
    ``,
    vaultImportCommand(v),
    '```',
    ``,
    ...recogniseLines(input.keySpec, input.checkValue, `vault read -format=json ${shellWord(`${v.mount}/keys/${v.keyName}`)} | jq -r '.data.keys["1"].public_key' > public.pem`),
    ``,
    `import-manifest.json lists the SHA-256 of every file here; ${VAULT_CIPHERTEXT} never held plaintext.`,
    ``,
  ].join('\n');
}
