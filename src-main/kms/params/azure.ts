// Azure Key Vault / Managed HSM BYOK: the key exchange key (KEK) as `az keyvault key show --vault-name V
// --name KEK` prints it ({ "key": { "kid", "kty", "keyOps", "n", "e" }, "attributes": { "enabled",
// "expires" } }), or KEK.pem (`az keyvault key download --file KEK.pem`) with --kek-id. Checked before
// anything is generated: an RSA-HSM key of 2048/3072/4096 bits whose only operation is import, enabled and
// not expired, whose kid names a vault or Managed HSM, the key and its version. The .byok wrap is always
// SHA-1 RSA-OAEP (CKM_RSA_AES_KEY_WRAP as Azure defines it).
import { AppError } from '../../errors.js';
import { cloudAlgorithmFor } from '../clouds/keyspecs.js';
import type { ImportParameters } from '../types.js';
import { KMS_PARAMS_ERROR } from './arn.js';
import { refuseOtherCloud } from './sniff.js';
import type { CloudParamsOptions } from './cloud-options.js';
import { asObject, decodeBase64UrlStrict, hhmm, isoTime, member, parseJsonObject, pemPublicKey, readParamsText, rsaWrappingKey } from './cloud-common.js';
import { VALID_TO_WARNING_MS } from './validate.js';

const SHOW = 'Run `az keyvault key show --vault-name VAULT --name KEK > kek.json` (or --hsm-name for a Managed HSM) and bring that file unchanged.';
const CREATE_KEK = 'Create a KEK for BYOK: `az keyvault key create --vault-name VAULT --name KEK --kty RSA-HSM --size 4096 --ops import`, then show it.';
/** Key Vault and Managed HSM DNS suffixes (public, China, US Government clouds). */
const HOSTS: Record<string, boolean> = {
  'vault.azure.net': false,
  'vault.azure.cn': false,
  'vault.usgovcloudapi.net': false,
  'managedhsm.azure.net': true,
  'managedhsm.azure.cn': true,
  'managedhsm.usgovcloudapi.net': true,
};
const KID = /^https:\/\/([a-z][a-z0-9-]{1,22}[a-z0-9])\.([a-z.]+)\/keys\/([A-Za-z0-9-]{1,127})\/([0-9a-f]{32})$/;
const KEY_NAME = /^[A-Za-z0-9-]{1,127}$/;

export const AZURE_WRAP = 'RSA_AES_KEY_WRAP_SHA_1';

export function parseKekKid(value: unknown, field: string): { kid: string; vaultName: string; managedHsm: boolean; kekName: string } {
  const s = typeof value === 'string' ? value.trim() : '';
  const m = KID.exec(s);
  const remedy = 'Give the KEK\'s kid as `az keyvault key show` prints it, with its version: https://VAULT.vault.azure.net/keys/KEK/<32 hex digits> (or https://HSM.managedhsm.azure.net/keys/KEK/<version>).';
  if (!m) {
    const noVersion = /^https:\/\/[^/]+\/keys\/[^/]+\/?$/.test(s);
    throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(value)} is not a Key Vault key id${noVersion ? ' with a version (the .byok file must name the exact KEK version)' : ''}.`, remedy);
  }
  const host = m[2] as string;
  // Vault and Managed HSM names never hold two dashes in a row: such a host is not one Azure gave out.
  if ((m[1] as string).includes('--')) throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(s)} names ${m[1] as string}, which no key vault or Managed HSM can be called (two dashes in a row).`, remedy);
  if (!Object.hasOwn(HOSTS, host)) throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(s)} is on ${host}, which is not a Key Vault or Managed HSM host (${Object.keys(HOSTS).join(', ')}).`, remedy);
  return { kid: s, vaultName: m[1] as string, managedHsm: HOSTS[host] as boolean, kekName: m[3] as string };
}

export async function readAzureParameters(o: CloudParamsOptions): Promise<ImportParameters> {
  const text = await readParamsText(o.path, 'Azure KEK file', SHOW);
  const warnings: string[] = [];
  let kek: ReturnType<typeof parseKekKid>;
  let spki: Uint8Array;
  let wrappingKeySpec;
  let validTo: string | undefined;
  let from: string;
  const json = text.trimStart().startsWith('{');
  if (json) {
    const doc = parseJsonObject(text, o.path, SHOW);
    refuseOtherCloud(doc, 'azure', o.path);
    const key = asObject(member(doc, 'key'));
    if (!key) throw new AppError(KMS_PARAMS_ERROR, `key in ${o.path} is missing: this is not the output of \`az keyvault key show\`.`, SHOW);
    kek = parseKekKid(member(key, 'kid'), `key.kid in ${o.path}`);
    if (o.kekId !== undefined && parseKekKid(o.kekId, 'kekId').kid !== kek.kid) {
      throw new AppError(KMS_PARAMS_ERROR, `kekId ${o.kekId} is not the KEK ${o.path} shows (${kek.kid}).`, 'Leave out --kek-id (the file names the KEK), or bring the file of that KEK.');
    }
    const kty = member(key, 'kty');
    if (kty !== 'RSA-HSM') {
      throw new AppError(KMS_PARAMS_ERROR, `key.kty in ${o.path} is ${JSON.stringify(kty)}; a BYOK KEK is an RSA-HSM key (its private half never leaves the HSM).`, CREATE_KEK);
    }
    // `az keyvault key show` prints keyOps (the SDK's key_ops in camel case); a file naming both says two things.
    if (member(key, 'keyOps') !== undefined && member(key, 'key_ops') !== undefined) {
      throw new AppError(KMS_PARAMS_ERROR, `key in ${o.path} has both keyOps and key_ops; it must say once what the KEK may do.`, SHOW);
    }
    const ops = member(key, 'keyOps') ?? member(key, 'key_ops');
    if (!Array.isArray(ops) || ops.length !== 1 || ops[0] !== 'import') {
      throw new AppError(KMS_PARAMS_ERROR, `key.keyOps in ${o.path} is ${JSON.stringify(ops ?? null)}; a BYOK KEK must allow import and nothing else.`, CREATE_KEK);
    }
    const nField = `key.n in ${o.path}`;
    const n = decodeBase64UrlStrict(member(key, 'n'), nField, SHOW);
    const e = decodeBase64UrlStrict(member(key, 'e'), `key.e in ${o.path}`, SHOW);
    const k = rsaWrappingKey({ jwk: { kty: 'RSA', n: Buffer.from(n).toString('base64url'), e: Buffer.from(e).toString('base64url') } }, nField, [2048, 3072, 4096], 'Azure BYOK KEK', CREATE_KEK);
    spki = k.spki;
    wrappingKeySpec = k.wrappingKeySpec;
    from = `key in ${o.path}`;
    const attributes = asObject(member(doc, 'attributes'));
    const enabled = member(attributes, 'enabled');
    if (enabled !== undefined && enabled !== null && typeof enabled !== 'boolean') {
      throw new AppError(KMS_PARAMS_ERROR, `attributes.enabled in ${o.path} is ${JSON.stringify(enabled)}, not true or false.`, SHOW);
    }
    if (enabled === false) throw new AppError(KMS_PARAMS_ERROR, `attributes.enabled in ${o.path} is false: the KEK ${kek.kid} is disabled.`, 'Enable it (`az keyvault key set-attributes --enabled true`) or create a new KEK, then show it again.');
    const expires = member(attributes, 'expires');
    if (expires !== undefined && expires !== null) {
      validTo = isoTime(expires, `attributes.expires in ${o.path}`, SHOW);
      const left = Date.parse(validTo) - o.now().getTime();
      if (left <= 0) throw new AppError(KMS_PARAMS_ERROR, `attributes.expires in ${o.path}: the KEK ${kek.kid} expired at ${validTo}.`, CREATE_KEK);
      if (left < VALID_TO_WARNING_MS) warnings.push(`The KEK expires in ${hhmm(left)} (at ${validTo}): import before then.`);
    }
  } else {
    if (o.kekId === undefined) {
      throw new AppError(KMS_PARAMS_ERROR, `kekId is needed with ${o.path}: a KEK.pem does not say which KEK (and version) it is, and the .byok file must name it.`, `Give --kek-id with the kid from \`az keyvault key show\`, or better: ${SHOW}`);
    }
    kek = parseKekKid(o.kekId, 'kekId');
    const k = rsaWrappingKey({ der: pemPublicKey(text, o.path, 'Download the KEK again: `az keyvault key download --vault-name VAULT --name KEK --file KEK.pem`.') }, o.path, [2048, 3072, 4096], 'Azure BYOK KEK', CREATE_KEK);
    spki = k.spki;
    wrappingKeySpec = k.wrappingKeySpec;
    from = o.path;
    warnings.push(`Only the KEK's public key was given: that ${kek.kid} is RSA-HSM, allows only import, and is enabled was not checked. Confirm with \`az keyvault key show\`.`);
  }
  if (o.wrappingAlgorithm !== AZURE_WRAP) {
    throw new AppError(KMS_PARAMS_ERROR, `wrappingAlgorithm ${String(o.wrappingAlgorithm)} is not Azure BYOK's wrap: a .byok file is CKM_RSA_AES_KEY_WRAP with SHA-1 OAEP (${AZURE_WRAP}).`, `Start the ceremony with wrapping algorithm ${AZURE_WRAP}.`);
  }
  const algorithm = cloudAlgorithmFor('azure', o.keySpec, o.targetAlgorithm);
  if (algorithm.startsWith('oct') && !kek.managedHsm) {
    throw new AppError(KMS_PARAMS_ERROR, `keySpec ${o.keySpec} (oct) cannot be imported into key vault ${kek.vaultName}: only a Managed HSM takes symmetric (oct-HSM) keys.`, 'Use a KEK in a Managed HSM (https://HSM.managedhsm.azure.net/...), or an RSA or EC key spec.');
  }
  const keyName = o.target?.trim() ?? '';
  if (!KEY_NAME.test(keyName)) {
    throw new AppError(KMS_PARAMS_ERROR, keyName === '' ? 'target is missing: the name the key gets in the vault.' : `target ${JSON.stringify(keyName)} is not a Key Vault key name.`, 'Give the new key\'s name: 1 to 127 letters, digits and dashes.');
  }
  const [kty, size] = algorithm.startsWith('EC-') ? ['EC', algorithm.slice(3)] : (algorithm.split('-') as [string, string]);
  return {
    keyId: `https://${new URL(kek.kid).host}/keys/${keyName}`,
    region: new URL(kek.kid).host,
    account: kek.vaultName,
    wrappingAlgorithm: AZURE_WRAP,
    wrappingKeySpec,
    publicKeySpkiDer: spki,
    importToken: new Uint8Array(),
    ...(validTo !== undefined ? { validTo } : {}),
    source: { kind: json ? 'azure-key-json' : 'azure-kek-pem', path: o.path, publicKeyFrom: from, publicKeyEncoding: json ? 'jwk' : 'pem' },
    warnings,
    cloud: {
      cloud: 'azure',
      kekKid: kek.kid,
      vaultName: kek.vaultName,
      managedHsm: kek.managedHsm,
      keyName,
      kty: kty as 'RSA' | 'EC' | 'oct',
      ...(kty === 'EC' ? { curve: size as 'P-256' | 'P-384' | 'P-521' | 'P-256K' } : {}),
      algorithm,
    },
  };
}
