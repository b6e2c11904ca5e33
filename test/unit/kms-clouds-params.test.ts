// The Google, Azure and Vault parameter readers and the AWS import options: each cloud's own download (made
// here in its shape from node:crypto keys), and every refusal, naming the field and the remedy, before
// anything is generated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../src-main/errors.js';
import { readCloudImportParameters, type CloudParamsOptions } from '../../src-main/kms/params/cloud.js';
import { cloudKeySpecNames, resolveCloudKeySpec } from '../../src-main/kms/clouds/keyspecs.js';
import { parseAwsImportOptions } from '../../src-main/kms/clouds/aws-import-type.js';
import { AZURE_HSM_KID, AZURE_KID, GCP_JOB, azureKeyJson, gcpJobJson, rsaPair, vaultWrappingKeyJson } from '../helpers/cloud-fixtures.js';

const NOW = new Date('2026-12-07T00:00:00Z');
let dir: string;
let n = 0;
function file(text: string): string {
  const p = join(dir, `f${(n += 1)}`);
  writeFileSync(p, text);
  return p;
}
// RSA-4096 generation takes seconds on a loaded machine: made once here, with room, not inside a test's 5 s.
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-clouds-'));
  rsaPair(4096);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refused(o: Partial<CloudParamsOptions> & Pick<CloudParamsOptions, 'cloud' | 'path'>): Promise<AppError> {
  try {
    await read(o);
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected a refusal');
}
function read(o: Partial<CloudParamsOptions> & Pick<CloudParamsOptions, 'cloud' | 'path'>) {
  return readCloudImportParameters({ wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1', keySpec: 'SYMMETRIC_DEFAULT', target: 'payments', now: () => NOW, ...o });
}

describe('Google Cloud KMS import job', () => {
  const r3072 = rsaPair(3072);
  it('reads the describe JSON: job, method, key ring, expiry, the wrap its method names', async () => {
    const p = await read({ cloud: 'gcp', path: file(gcpJobJson(r3072, {}, NOW)), keySpec: 'ECC_NIST_P256' });
    expect(p.wrappingAlgorithm).toBe('RSA_AES_KEY_WRAP_SHA_1');
    expect(p.wrappingKeySpec).toBe('RSA_3072');
    expect(p.keyId).toBe('projects/acme-keys-prod/locations/europe-west1/keyRings/ceremony/cryptoKeys/payments');
    expect(p.validTo).toBe('2026-12-09T23:00:00.000Z');
    expect(p.cloud).toMatchObject({ cloud: 'gcp', importJob: GCP_JOB, importMethod: 'RSA_OAEP_3072_SHA1_AES_256', cryptoKey: 'payments', algorithm: 'EC_SIGN_P256_SHA256', state: 'ACTIVE' });
    expect(Buffer.from(p.publicKeySpkiDer).equals(r3072.spki)).toBe(true);
  });
  it('reads publicKey.pem with --import-job and --import-method, and warns that state and expiry were not checked', async () => {
    const p = await read({ cloud: 'gcp', path: file(r3072.pem), importJob: GCP_JOB, importMethod: 'RSA_OAEP_3072_SHA256_AES_256', wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(p.wrappingAlgorithm).toBe('RSA_AES_KEY_WRAP_SHA_256');
    expect(p.warnings.join(' ')).toContain('state and expiry were not checked');
  });
  it.each([
    ['an expired job', { state: 'EXPIRED' }, /state in .*: import job .* is EXPIRED/, /Create a new import job/],
    ['a job still generating', { state: 'PENDING_GENERATION' }, /is still PENDING_GENERATION/, /describe the job again/],
    ['an expireTime past', { expireTime: '2026-12-06T23:59:59Z' }, /expireTime in .*expired at 2026-12-06T23:59:59.000Z/, /Create a new import job/],
    ['an RSA size not the method\'s', { importMethod: 'RSA_OAEP_4096_SHA1_AES_256' }, /publicKey.pem in .* is RSA-3072; Import method RSA_OAEP_4096_SHA1_AES_256's wrapping keys are RSA-4096/, /gcloud kms import-jobs describe/],
    ['an unknown method', { importMethod: 'RSA_OAEP_3072_SHA512_AES_256' }, /importMethod in .* "RSA_OAEP_3072_SHA512_AES_256" is not a Cloud KMS import method/, /RSA_OAEP_3072_SHA256_AES_256/],
    ['a name that is no job', { name: 'projects/x/importJobs/j' }, /name in .* is not an import job name/, /projects\/PROJECT/],
    ['no public key', { publicKey: {} }, /publicKey.pem in .* is missing/, /describe/],
  ])('refuses %s', async (_what, over, message, remedy) => {
    const e = await refused({ cloud: 'gcp', path: file(gcpJobJson(r3072, over, NOW)) });
    expect(e.message).toMatch(message);
    expect(e.remedy).toMatch(remedy);
  });
  it('refuses a wrap that is not the method\'s, an RSA key under a direct-OAEP method, and a key outside the job\'s key ring', async () => {
    let e = await refused({ cloud: 'gcp', path: file(gcpJobJson(r3072, {}, NOW)), wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(e.message).toBe('wrappingAlgorithm RSA_AES_KEY_WRAP_SHA_256 is not the wrap import method RSA_OAEP_3072_SHA1_AES_256 takes (RSA_AES_KEY_WRAP_SHA_1).');
    e = await refused({ cloud: 'gcp', path: file(gcpJobJson(r3072, { importMethod: 'RSA_OAEP_3072_SHA256' }, NOW)), wrappingAlgorithm: 'RSAES_OAEP_SHA_256', keySpec: 'RSA_2048' });
    expect(e.message).toContain('wraps with RSA-OAEP alone, which cannot carry an RSA private key (RSA_2048)');
    e = await refused({ cloud: 'gcp', path: file(gcpJobJson(r3072, {}, NOW)), target: 'projects/acme-keys-prod/locations/europe-west1/keyRings/other/cryptoKeys/k' });
    expect(e.message).toContain("is not in the import job's key ring");
    e = await refused({ cloud: 'gcp', path: file(gcpJobJson(r3072, {}, NOW)), keySpec: 'ECC_NIST_P521' });
    expect(e.message).toBe('targetAlgorithm "ECC_NIST_P521" is a key spec Google Cloud KMS cannot import.');
    e = await refused({ cloud: 'gcp', path: file(r3072.pem), importMethod: 'RSA_OAEP_3072_SHA1_AES_256' });
    expect(e.message).toContain('importJob and importMethod are needed');
    e = await refused({ cloud: 'gcp', path: file(gcpJobJson(r3072, {}, NOW).replace('"state": "ACTIVE"', '"state": "ACTIVE", "state": "EXPIRED"')) });
    expect(e.message).toContain('has the member "state" twice');
  });
});

describe('Azure Key Vault / Managed HSM KEK', () => {
  const r2048 = rsaPair(2048);
  it('reads `az keyvault key show`: kid, vault, the key\'s URL, SHA-1 CKM_RSA_AES_KEY_WRAP', async () => {
    const p = await read({ cloud: 'azure', path: file(azureKeyJson(r2048)), keySpec: 'ECC_SECG_P256K1' });
    expect(p.keyId).toBe('https://acme-byok.vault.azure.net/keys/payments');
    expect(p.wrappingKeySpec).toBe('RSA_2048');
    expect(p.cloud).toMatchObject({ cloud: 'azure', kekKid: AZURE_KID, vaultName: 'acme-byok', managedHsm: false, kty: 'EC', curve: 'P-256K', algorithm: 'EC-P-256K' });
    expect(Buffer.from(p.publicKeySpkiDer).equals(r2048.spki)).toBe(true);
  });
  it('takes a symmetric key only into a Managed HSM', async () => {
    const e = await refused({ cloud: 'azure', path: file(azureKeyJson(r2048)) });
    expect(e.message).toContain('only a Managed HSM takes symmetric (oct-HSM) keys');
    const p = await read({ cloud: 'azure', path: file(azureKeyJson(r2048, {}, AZURE_HSM_KID)) });
    expect(p.cloud).toMatchObject({ managedHsm: true, kty: 'oct', algorithm: 'oct-256' });
  });
  it.each([
    ['key_ops other than import', { key: { keyOps: ['import', 'wrapKey'] } }, 'key.keyOps in', /--ops import/],
    ['a software key', { key: { kty: 'RSA' } }, 'a BYOK KEK is an RSA-HSM key', /--kty RSA-HSM/],
    ['a kid without version', { key: { kid: 'https://acme-byok.vault.azure.net/keys/kek-byok' } }, 'is not a Key Vault key id with a version', /32 hex digits/],
    ['a kid on another host', { key: { kid: 'https://acme-byok.vault.example.com/keys/kek-byok/0123456789abcdef0123456789abcdef' } }, 'which is not a Key Vault or Managed HSM host', /kid/],
    ['a disabled KEK', { attributes: { enabled: false } }, 'is disabled', /Enable it/],
    ['an expired KEK', { attributes: { expires: '2026-12-01T00:00:00+00:00' } }, 'expired at 2026-12-01T00:00:00.000Z', /--ops import/],
    ['a 1024-bit KEK', { key: { n: rsaPair(1024).publicKey.export({ format: 'jwk' }).n } }, 'is RSA-1024; Azure BYOK KEK wrapping keys are RSA-2048, RSA-3072, RSA-4096', /RSA-HSM/],
  ])('refuses %s', async (_what, over, message, remedy) => {
    const e = await refused({ cloud: 'azure', path: file(azureKeyJson(r2048, over)), keySpec: 'RSA_2048' });
    expect(e.message).toContain(message);
    expect(e.remedy).toMatch(remedy);
  });
  it('refuses a SHA-256 wrap, KEK.pem without --kek-id, and a bad key name', async () => {
    let e = await refused({ cloud: 'azure', path: file(azureKeyJson(r2048)), keySpec: 'RSA_2048', wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    expect(e.message).toContain("is not Azure BYOK's wrap");
    e = await refused({ cloud: 'azure', path: file(r2048.pem), keySpec: 'RSA_2048' });
    expect(e.message).toContain('kekId is needed');
    const p = await read({ cloud: 'azure', path: file(r2048.pem), keySpec: 'RSA_2048', kekId: AZURE_KID });
    expect(p.warnings.join(' ')).toContain('was not checked');
    e = await refused({ cloud: 'azure', path: file(azureKeyJson(r2048)), keySpec: 'RSA_2048', target: 'bad name' });
    expect(e.message).toBe('target "bad name" is not a Key Vault key name.');
  });
});

describe('HashiCorp Vault transit wrapping key', () => {
  it('reads `vault read -format=json transit/wrapping_key`; hash_function picks the wrap', async () => {
    const p = await read({ cloud: 'vault', path: file(vaultWrappingKeyJson(rsaPair(4096))), hashFunction: 'SHA1', keySpec: 'HMAC_256' });
    expect(p.keyId).toBe('transit/keys/payments');
    expect(p.cloud).toMatchObject({ cloud: 'vault', keyName: 'payments', mount: 'transit', hashFunction: 'SHA1', algorithm: 'hmac' });
    const q = await read({ cloud: 'vault', path: file(vaultWrappingKeyJson(rsaPair(4096))), wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', target: 'kms/keys/payments' });
    expect(q.cloud).toMatchObject({ mount: 'kms', hashFunction: 'SHA256', algorithm: 'aes256-gcm96' });
  });
  it('refuses a key that is not RSA-4096, a hash the wrap does not match, a bad name, a spec Vault does not take', async () => {
    let e = await refused({ cloud: 'vault', path: file(vaultWrappingKeyJson(rsaPair(2048))), hashFunction: 'SHA1' });
    expect(e.message).toContain('is RSA-2048; Vault transit wrapping keys are RSA-4096');
    e = await refused({ cloud: 'vault', path: file(vaultWrappingKeyJson(rsaPair(4096))) });
    expect(e.message).toBe('wrappingAlgorithm RSA_AES_KEY_WRAP_SHA_1 is not the wrap hash_function=SHA256 asks for (RSA_AES_KEY_WRAP_SHA_256).');
    e = await refused({ cloud: 'vault', path: file(vaultWrappingKeyJson(rsaPair(4096))), hashFunction: 'SHA512' });
    expect(e.message).toContain('hashFunction "SHA512" is not a hash_function');
    e = await refused({ cloud: 'vault', path: file(vaultWrappingKeyJson(rsaPair(4096))), hashFunction: 'SHA1', target: 'a b' });
    expect(e.message).toContain('is not a transit key name');
    e = await refused({ cloud: 'vault', path: file(vaultWrappingKeyJson(rsaPair(4096))), hashFunction: 'SHA1', keySpec: 'ECC_SECG_P256K1' });
    expect(e.message).toContain('is a key spec HashiCorp Vault transit cannot import');
    e = await refused({ cloud: 'vault', path: file('{"data":{}}') });
    expect(e.message).toContain('data.public_key in');
  });
});

describe('key specs per cloud', () => {
  it('maps our names to each cloud\'s and back, and refuses another cloud\'s name', () => {
    expect(resolveCloudKeySpec('gcp', 'RSA_DECRYPT_OAEP_3072_SHA256')).toEqual({ keySpec: 'RSA_3072', algorithm: 'RSA_DECRYPT_OAEP_3072_SHA256' });
    expect(resolveCloudKeySpec('gcp', 'SYMMETRIC_DEFAULT')).toEqual({ keySpec: 'SYMMETRIC_DEFAULT', algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION' });
    expect(resolveCloudKeySpec('azure', 'EC-P-384')).toEqual({ keySpec: 'ECC_NIST_P384', algorithm: 'EC-P-384' });
    expect(resolveCloudKeySpec('vault', 'rsa-4096')).toEqual({ keySpec: 'RSA_4096', algorithm: 'rsa-4096' });
    expect(() => resolveCloudKeySpec('vault', 'hmac')).toThrow(/names more than one key size/);
    expect(() => resolveCloudKeySpec('azure', 'HMAC_256')).toThrow('--key-spec "HMAC_256" is a key spec Azure Key Vault / Managed HSM cannot import.');
    expect(() => resolveCloudKeySpec('aws', 'EC_SIGN_P256_SHA256')).toThrow("--key-spec \"EC_SIGN_P256_SHA256\" is Google Cloud KMS's name, not AWS KMS's.");
    expect(cloudKeySpecNames('azure').slice(0, 3)).toEqual(['SYMMETRIC_DEFAULT', 'RSA_2048', 'RSA_3072']);
  });
});

describe('AWS import type (imported-key rotation)', () => {
  it('takes NEW/EXISTING with a description for symmetric keys only', () => {
    expect(parseAwsImportOptions('SYMMETRIC_DEFAULT', { importType: 'NEW_KEY_MATERIAL', keyMaterialDescription: 'rotation 2026-12 q4' })).toEqual({ importType: 'NEW_KEY_MATERIAL', keyMaterialDescription: 'rotation 2026-12 q4' });
    expect(parseAwsImportOptions('SYMMETRIC_DEFAULT', { importType: 'EXISTING_KEY_MATERIAL', keyMaterialId: 'a'.repeat(64) })).toEqual({ importType: 'EXISTING_KEY_MATERIAL', keyMaterialId: 'a'.repeat(64) });
    expect(parseAwsImportOptions('HMAC_256', {})).toEqual({});
  });
  it.each([
    ['HMAC_256', { importType: 'NEW_KEY_MATERIAL' }, 'importType: key spec HMAC_256 cannot take new key material'],
    ['RSA_2048', { importType: 'EXISTING_KEY_MATERIAL' }, 'importType: key spec RSA_2048 cannot take new key material'],
    ['SYMMETRIC_DEFAULT', { importType: 'ROTATE' }, 'importType "ROTATE" is not an AWS KMS import type.'],
    ['SYMMETRIC_DEFAULT', { keyMaterialDescription: 'x' }, 'importType is missing'],
    ['SYMMETRIC_DEFAULT', { importType: 'NEW_KEY_MATERIAL', keyMaterialDescription: 'semi;colon' }, 'keyMaterialDescription "semi;colon" is not allowed'],
    ['SYMMETRIC_DEFAULT', { importType: 'NEW_KEY_MATERIAL', keyMaterialDescription: 'x'.repeat(257) }, 'is not allowed: AWS KMS takes 0 to 256 characters'],
    ['SYMMETRIC_DEFAULT', { importType: 'NEW_KEY_MATERIAL', keyMaterialId: 'a'.repeat(64) }, 'keyMaterialId is not allowed with NEW_KEY_MATERIAL'],
    ['SYMMETRIC_DEFAULT', { importType: 'EXISTING_KEY_MATERIAL', keyMaterialId: 'A'.repeat(64) }, 'is not a key material id (64 lowercase hex digits)'],
  ] as const)('refuses %s with %j', (spec, o, message) => {
    expect(() => parseAwsImportOptions(spec, o)).toThrow(message);
  });
});

describe('a file chosen with the wrong cloud', () => {
  it('is refused with the cloud it is', async () => {
    let e = await refused({ cloud: 'aws', path: file(gcpJobJson(rsaPair(3072), {}, NOW)), keyArn: undefined });
    expect(e.message).toMatch(/ is a Google Cloud KMS import job's description, not AWS KMS's\.$/);
    expect(e.remedy).toBe("Choose Google Cloud KMS (--cloud gcp) for this file, or bring AWS KMS's own download.");
    e = await refused({ cloud: 'gcp', path: file(azureKeyJson(rsaPair(2048))) });
    expect(e.message).toMatch(/ is an Azure Key Vault key \(az keyvault key show\), not Google Cloud KMS's\.$/);
    e = await refused({ cloud: 'azure', path: file(vaultWrappingKeyJson(rsaPair(4096))) });
    expect(e.remedy).toContain('HashiCorp Vault transit (--cloud vault)');
    e = await refused({ cloud: 'vault', path: file(JSON.stringify({ KeyId: 'k', ImportToken: 'AAAA', PublicKey: 'AAAA', ParametersValidTo: 1 })) });
    expect(e.message).toContain('is AWS KMS import parameters (get-parameters-for-import), not HashiCorp Vault transit\'s.');
  });
});
