// HashiCorp Vault transit BYOK: the wrapping key as `vault read -format=json transit/wrapping_key` prints it
// ({ "data": { "public_key": "-----BEGIN PUBLIC KEY-----..." }, ... }), or that PEM alone. Always RSA-4096.
// The import names hash_function (SHA256 unless told otherwise): the OAEP hash of CKM_RSA_AES_KEY_WRAP.
import { AppError } from '../../errors.js';
import type { KmsWrappingAlgorithm } from '../../../hsm/types.js';
import { cloudAlgorithmFor } from '../clouds/keyspecs.js';
import { VAULT_HASH_FUNCTIONS, type VaultHashFunction } from '../clouds/types.js';
import type { ImportParameters } from '../types.js';
import { KMS_PARAMS_ERROR } from './arn.js';
import { refuseOtherCloud } from './sniff.js';
import type { CloudParamsOptions } from './cloud-options.js';
import { asObject, member, parseJsonObject, pemPublicKey, readParamsText, rsaWrappingKey } from './cloud-common.js';

const READ = 'Run `vault read -format=json transit/wrapping_key > wrapping_key.json` and bring that file unchanged.';
// Vault routes keys/NAME/import only for framework.GenericNameRegex: \w(([\w-.]+)?\w)? (RE2's ASCII \w), so a
// name ending in a dot or dash would find no route there; we also keep the first character alphanumeric.
const KEY_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9_])?$/;
const MOUNT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(?:\/[A-Za-z0-9][A-Za-z0-9_.-]{0,63}){0,3}$/;

export function vaultHashWrap(hash: VaultHashFunction): KmsWrappingAlgorithm {
  return hash === 'SHA1' ? 'RSA_AES_KEY_WRAP_SHA_1' : 'RSA_AES_KEY_WRAP_SHA_256';
}

export function parseVaultHashFunction(value: unknown, field = 'hashFunction'): VaultHashFunction {
  if (value === undefined) return 'SHA256';
  // Vault reads hash_function in any case (strings.ToUpper); the command IMPORT.md prints uses upper case.
  if (typeof value === 'string' && (VAULT_HASH_FUNCTIONS as readonly string[]).includes(value.toUpperCase())) return value.toUpperCase() as VaultHashFunction;
  throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(value)} is not a hash_function this application can wrap with.`, `Use ${VAULT_HASH_FUNCTIONS.join(' or ')} (Vault's default is SHA256).`);
}

/** NAME, or MOUNT/keys/NAME for a transit engine mounted elsewhere than transit/. */
export function parseVaultTarget(value: string | undefined): { mount: string; keyName: string } {
  const s = value?.trim() ?? '';
  const at = s.lastIndexOf('/keys/');
  const [mount, keyName] = at > 0 ? [s.slice(0, at), s.slice(at + '/keys/'.length)] : ['transit', s];
  if (!KEY_NAME.test(keyName) || !MOUNT.test(mount)) {
    throw new AppError(KMS_PARAMS_ERROR, s === '' ? 'target is missing: the transit key name the material is imported as.' : `target ${JSON.stringify(s)} is not a transit key name (or MOUNT/keys/NAME).`, 'Give the key name (letters, digits, dot, dash, underscore; starting with a letter or digit and ending with a letter, digit or underscore, as Vault\'s transit paths require), or MOUNT/keys/NAME when transit is mounted elsewhere.');
  }
  return { mount, keyName };
}

export async function readVaultParameters(o: CloudParamsOptions): Promise<ImportParameters> {
  const text = await readParamsText(o.path, 'Vault wrapping key file', READ);
  const warnings: string[] = [];
  const json = text.trimStart().startsWith('{');
  // `vault read` without -format=json prints a Key/Value table around the PEM.
  if (!json && /^public_key\s+-----BEGIN/m.test(text)) {
    throw new AppError(KMS_PARAMS_ERROR, `${o.path} is the table \`vault read\` prints by default, not its JSON.`, READ);
  }
  let pem: string;
  let from: string;
  if (json) {
    const doc = parseJsonObject(text, o.path, READ);
    refuseOtherCloud(doc, 'vault', o.path);
    const p = member(asObject(member(doc, 'data')), 'public_key');
    if (typeof p !== 'string') throw new AppError(KMS_PARAMS_ERROR, `data.public_key in ${o.path} is missing: this is not the output of \`vault read -format=json transit/wrapping_key\`.`, READ);
    pem = p;
    from = `data.public_key in ${o.path}`;
  } else {
    pem = text;
    from = o.path;
  }
  const key = rsaWrappingKey({ der: pemPublicKey(pem, from, READ) }, from, [4096], 'Vault transit', READ);
  const hash = parseVaultHashFunction(o.hashFunction);
  const wrap = vaultHashWrap(hash);
  if (o.wrappingAlgorithm !== wrap) {
    throw new AppError(KMS_PARAMS_ERROR, `wrappingAlgorithm ${String(o.wrappingAlgorithm)} is not the wrap hash_function=${hash} asks for (${wrap}).`, `Start the ceremony with wrapping algorithm ${wrap}, or give the hash function that matches ${String(o.wrappingAlgorithm)}.`);
  }
  const { mount, keyName } = parseVaultTarget(o.target);
  const algorithm = cloudAlgorithmFor('vault', o.keySpec, o.targetAlgorithm);
  // Each transit mount has its own wrapping key, and the JSON does not say which mount it was read from.
  warnings.push(`Vault's wrapping key does not expire, but each transit mount of each Vault cluster has its own: this file must be \`vault read -format=json ${mount}/wrapping_key\` from the cluster you import into (${mount}/keys/${keyName}).`);
  return {
    keyId: `${mount}/keys/${keyName}`,
    wrappingAlgorithm: wrap,
    wrappingKeySpec: key.wrappingKeySpec,
    publicKeySpkiDer: key.spki,
    importToken: new Uint8Array(),
    source: { kind: json ? 'vault-wrapping-key-json' : 'vault-public-key-pem', path: o.path, publicKeyFrom: from, publicKeyEncoding: 'pem' },
    warnings,
    cloud: { cloud: 'vault', keyName, mount, hashFunction: hash, algorithm },
  };
}
