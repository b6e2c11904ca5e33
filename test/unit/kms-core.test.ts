// The token-facing core against a scripted TokenLayer: what is refused, what is destroyed on every failure
// path, and the export bundle's exclusive, verified, all-or-nothing writing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenError } from '../../hsm/errors.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { KmsCapability } from '../../hsm/types.js';
import { AppError } from '../../src-main/errors.js';
import {
  checkValueFromMac,
  checkValueFromSpki,
  exportImportBundle,
  generateKmsKey,
  importCommand,
  wrapForKms,
  type ImportBundleInput,
  type ImportParameters,
} from '../../src-main/kms/index.js';

const spki = new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' }));

/** A TokenLayer that records calls; each test scripts what it needs. */
function fakeLayer(over: Partial<Record<keyof TokenLayer, (...a: never[]) => unknown>>): { layer: TokenLayer; destroyed: string[] } {
  const destroyed: string[] = [];
  const base = {
    random: async (_s: string, n: number) => new Uint8Array(n).fill(0xab),
    destroyObject: async (_s: string, h: string) => {
      destroyed.push(h);
    },
    createPublicKeyFromSpki: async () => 'pub',
    generateSecretKey: async () => 'secret',
    generateKeyPair: async () => ({ privateKey: 'priv', publicKey: 'pubkey' }),
  };
  return { layer: { ...base, ...over } as unknown as TokenLayer, destroyed };
}

const goodSecret = {
  CKA_CLASS: 4,
  CKA_KEY_TYPE: 0x1f,
  CKA_TOKEN: true,
  CKA_PRIVATE: true,
  CKA_LOCAL: true,
  CKA_SENSITIVE: true,
  CKA_ALWAYS_SENSITIVE: true,
  CKA_EXTRACTABLE: true,
  CKA_NEVER_EXTRACTABLE: false,
  CKA_VALUE_LEN: 32,
  CKA_VALUE: null,
};

describe('generateKmsKey against a scripted token', () => {
  it('records the checked attributes as plain data and the CKA_ID from the token RNG', async () => {
    const { layer } = fakeLayer({ getAttributes: async () => goodSecret });
    const k = await generateKmsKey(layer, 's', 'SYMMETRIC_DEFAULT', 'kms-prod');
    expect(k).toMatchObject({ keySpec: 'SYMMETRIC_DEFAULT', label: 'kms-prod', idHex: 'ab'.repeat(16), handle: 'secret', waivers: [] });
    expect(k.attributes).toEqual({ ...goodSecret, CKA_VALUE: undefined, CKA_VALUE_LEN: 32 } as never);
  });

  it('refuses and destroys a key the token made readable, non-local and short', async () => {
    const { layer, destroyed } = fakeLayer({ getAttributes: async () => ({ ...goodSecret, CKA_SENSITIVE: false, CKA_LOCAL: false, CKA_VALUE_LEN: 16, CKA_VALUE: new Uint8Array([1, 2]) }) });
    const e = await generateKmsKey(layer, 's', 'SYMMETRIC_DEFAULT', 'kms-prod').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).message).toBe(
      'The SYMMETRIC_DEFAULT key the token generated failed its checks and was destroyed: CKA_LOCAL is false, expected true (generated inside the token); ' +
        'CKA_SENSITIVE is false, expected true (the value never leaves in plaintext); CKA_VALUE_LEN is 16, expected 32 (SYMMETRIC_DEFAULT is 32 bytes); ' +
        'CKA_VALUE is "0102", expected null (the value must be unreadable).',
    );
    expect(destroyed).toEqual(['secret']);
  });

  it('destroys both halves of a pair whose public key cannot be read', async () => {
    const { layer, destroyed } = fakeLayer({
      getAttributes: async (_s: string, h: string) => (h === 'priv' ? { ...goodSecret, CKA_KEY_TYPE: 3, CKA_EC_PARAMS: Buffer.from('06082a8648ce3d030107', 'hex') } : { CKA_EC_PARAMS: null, CKA_EC_POINT: null }),
    });
    const e = await generateKmsKey(layer, 's', 'ECC_NIST_P256', 'kms-ec').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect(destroyed.sort()).toEqual(['priv', 'pubkey']);
  });

  it('refuses an empty label before touching the token', async () => {
    const { layer } = fakeLayer({});
    const e = (await generateKmsKey(layer, 's', 'HMAC_256', ' ').catch((x: unknown) => x)) as AppError;
    expect([e.message, e.remedy]).toEqual(['label " " must be 1-64 bytes of text.', 'Choose a short label that names the KMS key, e.g. "kms-prod-payments-2026".']);
  });
});

describe('wrapForKms against a scripted token', () => {
  const composed: KmsCapability = { algorithm: 'RSA_AES_KEY_WRAP_SHA_256', supported: true, probed: true, reason: '', method: 'composed: CKM_AES_KEY_WRAP_KWP + CKM_RSA_PKCS_OAEP (SHA-256, MGF1-SHA-256)' };

  it('concatenates the RSA part first, then the RFC 5649 part', async () => {
    const calls: string[] = [];
    const { layer, destroyed } = fakeLayer({
      wrapKey: async (_s: string, m: { name: string }, wk: string) => {
        calls.push(`${m.name}:${wk}`);
        return m.name === 'RSA_PKCS_OAEP' ? new Uint8Array(256).fill(1) : new Uint8Array(40).fill(2);
      },
    });
    const r = await wrapForKms(layer, 's', { capability: composed, wrappingPublicKeySpkiDer: spki, key: 'material' });
    expect(calls).toEqual(['AES_KEY_WRAP_KWP:secret', 'RSA_PKCS_OAEP:pub']);
    expect([r.encryptedKeyMaterial.length, r.encryptedKeyMaterial[0], r.encryptedKeyMaterial[256], r.rsaPartLength, r.aesPartLength]).toEqual([296, 1, 2, 256, 40]);
    expect(destroyed).toEqual(['secret', 'pub']);
  });

  it('destroys the ephemeral key and the public key object when the token fails', async () => {
    const { layer, destroyed } = fakeLayer({
      wrapKey: async () => {
        throw new TokenError('CKR_KEY_NOT_WRAPPABLE', 'the key cannot be wrapped');
      },
    });
    const e = (await wrapForKms(layer, 's', { capability: composed, wrappingPublicKeySpkiDer: spki, key: 'material' }).catch((x: unknown) => x)) as AppError;
    expect(e.message).toBe('C_WrapKey with CKM_AES_KEY_WRAP_KWP failed in the token: CKR_KEY_NOT_WRAPPABLE: the key cannot be wrapped');
    expect(destroyed).toEqual(['secret', 'pub']);
  });

  it('refuses output over 6144 bytes and an RSA part of the wrong length', async () => {
    const big = fakeLayer({ wrapKey: async (_s: string, m: { name: string }) => (m.name === 'RSA_PKCS_OAEP' ? new Uint8Array(256) : new Uint8Array(6000)) });
    expect(((await wrapForKms(big.layer, 's', { capability: composed, wrappingPublicKeySpkiDer: spki, key: 'k' }).catch((x: unknown) => x)) as AppError).message).toBe(
      'The wrapped key material is 6256 bytes; AWS KMS accepts at most 6144.',
    );
    const short = fakeLayer({ wrapKey: async () => new Uint8Array(255) });
    const oaep: KmsCapability = { algorithm: 'RSAES_OAEP_SHA_1', supported: true, probed: true, reason: '', method: 'CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1)' };
    expect(((await wrapForKms(short.layer, 's', { capability: oaep, wrappingPublicKeySpkiDer: spki, key: 'k' }).catch((x: unknown) => x)) as AppError).message).toBe(
      "The token's RSA-OAEP output is 255 bytes, not the modulus length 256.",
    );
    expect(short.destroyed).toEqual(['pub']);
  });
});

describe('check values', () => {
  it('first 3 bytes upper-case hex for MACs, full SHA-256 for an SPKI', () => {
    expect(checkValueFromMac(new Uint8Array([0x0a, 0xbc, 0xde, 0xff]), 'AES-CMAC-ZERO-BLOCK').value).toBe('0ABCDE');
    expect(checkValueFromSpki(spki).value).toBe(createHash('sha256').update(spki).digest('hex').toUpperCase());
  });
});

describe('exportImportBundle', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kc-kms-export-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const params: ImportParameters = {
    keyArn: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    keyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
    region: 'eu-west-1',
    account: '111122223333',
    wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
    wrappingKeySpec: 'RSA_2048',
    publicKeySpkiDer: spki,
    importToken: new Uint8Array([9, 9, 9]),
    validTo: '2026-11-30T11:00:00.000Z',
    source: { kind: 'aws-cli-json', path: 'p.json', publicKeyFrom: 'x', importTokenFrom: 'y', publicKeyEncoding: 'base64', importTokenEncoding: 'base64' },
    warnings: [],
  };
  const input = (name: string, over: Partial<ImportBundleInput> = {}): ImportBundleInput => ({
    parentDir: dir,
    name,
    params,
    keySpec: 'SYMMETRIC_DEFAULT',
    keyLabel: 'kms-prod',
    keyIdHex: 'ab'.repeat(16),
    checkValue: checkValueFromMac(new Uint8Array([1, 2, 3]), 'AES-CMAC-ZERO-BLOCK'),
    wrap: { encryptedKeyMaterial: new Uint8Array(256).fill(5), algorithm: 'RSAES_OAEP_SHA_256', method: 'CKM_RSA_PKCS_OAEP (SHA-256, MGF1-SHA-256)', rsaPartLength: 256 },
    ceremonyId: 'c-1',
    transcriptHead: 'f'.repeat(64),
    createdAt: new Date('2026-11-29T12:00:00Z'),
    ...over,
  });

  it('writes the five files, their SHA-256 in the manifest, and the exact command', async () => {
    const b = await exportImportBundle(input('bundle'));
    expect(readdirSync(b.dir).sort()).toEqual(['EncryptedKeyMaterial.bin', 'IMPORT.md', 'ImportToken.bin', 'WrappingPublicKey.bin', 'import-manifest.json']);
    expect(existsSync(join(dir, 'bundle.partial'))).toBe(false);
    const m = JSON.parse(readFileSync(join(b.dir, 'import-manifest.json'), 'utf8'));
    expect(m).toMatchObject({
      format: 'keyceremony-kms-import/1',
      ceremonyId: 'c-1',
      transcriptHead: 'f'.repeat(64),
      kmsKey: { keyArn: params.keyArn, region: 'eu-west-1', account: '111122223333' },
      keySpec: 'SYMMETRIC_DEFAULT',
      wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
      wrappingKeySpec: 'RSA_2048',
      checkValue: { value: '010203', method: 'AES-CMAC-ZERO-BLOCK' },
      parametersValidTo: '2026-11-30T11:00:00.000Z',
      importType: 'NEW_KEY_MATERIAL',
    });
    for (const name of ['EncryptedKeyMaterial.bin', 'ImportToken.bin', 'WrappingPublicKey.bin', 'IMPORT.md']) {
      expect(m.files[name].sha256).toBe(createHash('sha256').update(readFileSync(join(b.dir, name))).digest('hex'));
    }
    const md = readFileSync(join(b.dir, 'IMPORT.md'), 'utf8');
    expect(md).toContain(importCommand(params));
    expect(importCommand(params)).toBe(
      'aws kms import-key-material --key-id arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE',
    );
    expect(md).toContain('--import-type NEW_KEY_MATERIAL');
    expect(md).toContain('--expiration-model KEY_MATERIAL_EXPIRES --valid-to');
    expect(md).toContain('Import before 2026-11-30T11:00:00.000Z');
  });

  it('never overwrites: an existing bundle or an interrupted one is an error, and nothing changes', async () => {
    const e1 = (await exportImportBundle(input('bundle')).catch((x: unknown) => x)) as AppError;
    expect([e1.code, e1.message, e1.remedy]).toEqual(['KMS_EXPORT', `${join(dir, 'bundle')} already exists; exports are never overwritten.`, 'Choose another folder name or another stick.']);
    mkdirSync(join(dir, 'again.partial'));
    const e2 = (await exportImportBundle(input('again')).catch((x: unknown) => x)) as AppError;
    expect([e2.message, e2.remedy]).toEqual([`${join(dir, 'again.partial')} exists: an earlier export was interrupted.`, `Delete ${join(dir, 'again.partial')} (it is incomplete) and export again.`]);
  });

  it('a stick that is gone: a clear error and no folder that looks complete', async () => {
    const e = (await exportImportBundle(input('x', { parentDir: join(dir, 'unplugged') })).catch((x: unknown) => x)) as AppError;
    expect([e.message, e.remedy]).toEqual([`Writing ${join(dir, 'unplugged', 'x.partial')} failed (ENOENT).`, 'The folder disappeared (stick removed?): re-insert it, then export again.']);
  });

  it('refuses a name that is a path', async () => {
    const e = (await exportImportBundle(input('../up')).catch((x: unknown) => x)) as AppError;
    expect(e.message).toBe('name "../up" is not a plain folder name.');
  });

  it('an asymmetric key: no import type, and a bare key id asks for the Region', async () => {
    const { keyArn: _a, region: _r, account: _c, ...bare } = params;
    const b = await exportImportBundle(input('ec', { keySpec: 'ECC_NIST_P256', params: bare as ImportParameters, checkValue: checkValueFromSpki(spki) }));
    const m = JSON.parse(readFileSync(join(b.dir, 'import-manifest.json'), 'utf8'));
    expect(m.importType).toBeUndefined();
    const md = readFileSync(join(b.dir, 'IMPORT.md'), 'utf8');
    expect(md).toContain('add --region <Region> to the commands');
    expect(md).not.toContain('--import-type');
  });
});
