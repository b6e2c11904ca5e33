// Each cloud's download in its own shape, made here from RSA keys node:crypto generates (never network):
// the JSON of `gcloud kms import-jobs describe --format=json`, of `az keyvault key show`, and of
// `vault read -format=json transit/wrapping_key`. The private keys stay with the test, which unwraps with them.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

export interface RsaPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
  pem: string;
  spki: Buffer;
}

const cache = new Map<number, RsaPair>();

/** One RSA pair per size and process (4096-bit generation is slow). */
export function rsaPair(bits: number): RsaPair {
  let k = cache.get(bits);
  if (!k) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
    k = { publicKey, privateKey, pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(), spki: publicKey.export({ format: 'der', type: 'spki' }) };
    cache.set(bits, k);
  }
  return k;
}

export const GCP_JOB = 'projects/acme-keys-prod/locations/europe-west1/keyRings/ceremony/importJobs/job-2026-12';
export const AZURE_KID = 'https://acme-byok.vault.azure.net/keys/kek-byok/0123456789abcdef0123456789abcdef';
export const AZURE_HSM_KID = 'https://acme-mhsm.managedhsm.azure.net/keys/kek-byok/fedcba9876543210fedcba9876543210';

export function gcpJobJson(pair: RsaPair, over: Record<string, unknown> = {}, now = new Date()): string {
  const created = new Date(now.getTime() - 60 * 60 * 1000);
  return `${JSON.stringify(
    {
      createTime: created.toISOString().replace('Z', '123456Z'),
      expireTime: new Date(created.getTime() + 3 * 24 * 3600 * 1000).toISOString().replace('Z', '123456Z'),
      generateTime: created.toISOString(),
      importMethod: 'RSA_OAEP_3072_SHA1_AES_256',
      name: GCP_JOB,
      protectionLevel: 'HSM',
      publicKey: { pem: pair.pem },
      state: 'ACTIVE',
      ...over,
    },
    null,
    2,
  )}\n`;
}

/**
 * As azure-cli prints it: its transform_key_output turns the JWK's byte fields (n, e) into standard base64
 * with padding (base64.b64encode), not the base64url of the REST API.
 */
export function azureKeyJson(pair: RsaPair, over: { key?: Record<string, unknown>; attributes?: Record<string, unknown> } = {}, kid = AZURE_KID): string {
  const url = pair.publicKey.export({ format: 'jwk' });
  const jwk = { n: Buffer.from(url.n as string, 'base64url').toString('base64'), e: Buffer.from(url.e as string, 'base64url').toString('base64') };
  return `${JSON.stringify(
    {
      attributes: { created: '2026-12-01T10:00:00+00:00', enabled: true, expires: null, exportable: false, notBefore: null, recoveryLevel: 'Recoverable+Purgeable', updated: '2026-12-01T10:00:00+00:00', ...over.attributes },
      key: { crv: null, d: null, dp: null, dq: null, e: jwk.e, k: null, keyOps: ['import'], kid, kty: 'RSA-HSM', n: jwk.n, p: null, q: null, qi: null, t: null, x: null, y: null, ...over.key },
      managed: null,
      releasePolicy: null,
      tags: null,
    },
    null,
    2,
  )}\n`;
}

export function vaultWrappingKeyJson(pair: RsaPair): string {
  return `${JSON.stringify({ request_id: '0b1e2d3c-0000-4000-8000-000000000001', lease_id: '', lease_duration: 0, renewable: false, data: { public_key: pair.pem }, warnings: null }, null, 2)}\n`;
}
