// Each cloud's import folder written by exportImportBundle from a wrap result: the file's exact bytes (the
// .byok JSON member by member, base64 without a newline, raw bytes), the import command, and a manifest
// whose digests are the files'. The wrap here is fixed bytes: the formats, not the token, are under test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportImportBundle, type ImportBundleInput } from '../../src-main/kms/export.js';
import type { CloudTarget } from '../../src-main/kms/clouds/types.js';
import type { ImportParameters } from '../../src-main/kms/types.js';
import { byokDocument } from '../../src-main/kms/clouds/azure-bundle.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-clouds-bundle-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const wrapped = new Uint8Array(Array.from({ length: 384 + 40 }, (_, i) => (i * 31 + 7) & 0xff));
function input(name: string, cloud: CloudTarget, keyId: string, keySpec: ImportBundleInput['keySpec'] = 'SYMMETRIC_DEFAULT'): ImportBundleInput {
  const params: ImportParameters = { keyId, wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1', wrappingKeySpec: 'RSA_3072', publicKeySpkiDer: new Uint8Array([1, 2, 3]), importToken: new Uint8Array(), source: { kind: 'files', path: '/x', publicKeyFrom: '/x', publicKeyEncoding: 'pem' }, warnings: [], cloud };
  return {
    parentDir: dir,
    name,
    params,
    keySpec,
    keyLabel: 'prod key 1',
    keyIdHex: 'abcd',
    checkValue: { value: 'A1B2C3', method: 'AES-CMAC-ZERO-BLOCK', description: 'd' },
    wrap: { encryptedKeyMaterial: wrapped, algorithm: 'RSA_AES_KEY_WRAP_SHA_1', method: 'm', rsaPartLength: 384, aesPartLength: 40 },
    ceremonyId: 'c-1',
    createdAt: new Date('2026-12-07T00:00:00Z'),
    generator: 'keyceremony 0.1.0; SoftHSM project SoftHSM v2 serial 1234',
  };
}

function checkDigests(d: string): Record<string, unknown> {
  const m = JSON.parse(readFileSync(join(d, 'import-manifest.json'), 'utf8')) as { files: Record<string, { sha256: string; bytes: number }> };
  expect(Object.keys(m.files).sort()).toEqual(readdirSync(d).filter((f) => f !== 'import-manifest.json').sort());
  for (const [f, v] of Object.entries(m.files)) {
    const bytes = readFileSync(join(d, f));
    expect(v).toEqual({ bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  return m;
}

describe('cloud import folders', () => {
  it('Azure: <label>.byok is the BYOK JSON, one line, base64url ciphertext; the command names vault, key, file, kty', async () => {
    const kid = 'https://acme.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef';
    const b = await exportImportBundle(input('az', { cloud: 'azure', kekKid: kid, vaultName: 'acme', managedHsm: false, keyName: 'k1', kty: 'EC', curve: 'P-384', algorithm: 'EC-P-384' }, 'https://acme.vault.azure.net/keys/k1', 'ECC_NIST_P384'));
    const text = readFileSync(join(b.dir, 'prod_key_1.byok'), 'utf8');
    expect(text).toBe(`{"schema_version":"1.0.0","header":{"kid":"${kid}","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"${Buffer.from(wrapped).toString('base64url')}","generator":"keyceremony 0.1.0; SoftHSM project SoftHSM v2 serial 1234"}\n`);
    expect(text).toBe(byokDocument(kid, wrapped, 'keyceremony 0.1.0; SoftHSM project SoftHSM v2 serial 1234'));
    const m = checkDigests(b.dir);
    expect(m).toMatchObject({ format: 'keyceremony-cloud-import/1', cloud: 'azure', target: 'https://acme.vault.azure.net/keys/k1', method: 'CKM_RSA_AES_KEY_WRAP', importCommand: 'az keyvault key import --vault-name acme --name k1 --byok-file prod_key_1.byok --kty EC --curve P-384' });
    expect(readFileSync(join(b.dir, 'IMPORT.md'), 'utf8')).toContain('\naz keyvault key import --vault-name acme --name k1 --byok-file prod_key_1.byok --kty EC --curve P-384\n');
  });
  it('Vault: ciphertext.b64 is base64 with no line break', async () => {
    const b = await exportImportBundle(input('vault', { cloud: 'vault', keyName: 'k', mount: 'transit', hashFunction: 'SHA1', algorithm: 'aes256-gcm96' }, 'transit/keys/k'));
    expect(readFileSync(join(b.dir, 'ciphertext.b64'), 'utf8')).toBe(Buffer.from(wrapped).toString('base64'));
    expect(checkDigests(b.dir)).toMatchObject({ importCommand: 'vault write transit/keys/k/import ciphertext=@ciphertext.b64 hash_function=SHA1 type=aes256-gcm96' });
    expect(readFileSync(join(b.dir, 'IMPORT.md'), 'utf8')).toContain('This cloud reports no check value for SYMMETRIC_DEFAULT material.');
  });
  it('Google: wrapped-key.bin is the wrap, byte for byte', async () => {
    const g: CloudTarget = { cloud: 'gcp', importJob: 'projects/p-12345/locations/global/keyRings/r/importJobs/j', importMethod: 'RSA_OAEP_3072_SHA1_AES_256', project: 'p-12345', location: 'global', keyRing: 'r', cryptoKey: 'k', algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION', state: 'ACTIVE' };
    const b = await exportImportBundle(input('gcp', g, 'projects/p-12345/locations/global/keyRings/r/cryptoKeys/k'));
    expect(Buffer.from(readFileSync(join(b.dir, 'wrapped-key.bin'))).equals(Buffer.from(wrapped))).toBe(true);
    expect(checkDigests(b.dir)).toMatchObject({ cloud: 'gcp', method: 'RSA_OAEP_3072_SHA1_AES_256', cloudKeyAlgorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION', importCommand: 'gcloud kms keys versions import --import-job j --location global --keyring r --key k --algorithm google-symmetric-encryption --wrapped-key-file wrapped-key.bin --project p-12345' });
    // gcloud's --algorithm choices are the enum names in lower case with dashes; the key is created import-only.
    expect(readFileSync(join(b.dir, 'IMPORT.md'), 'utf8')).toContain('`gcloud kms keys create projects/p-12345/locations/global/keyRings/r/cryptoKeys/k --purpose encryption --default-algorithm google-symmetric-encryption --skip-initial-version-creation --import-only`');
  });
});
