// The KMS import core on SoftHSM 2.6.1 (RSAES_OAEP_SHA_1 and RSA_AES_KEY_WRAP_SHA_1 only): generate in the
// token, check value in the token, wrap in the token, export; then unwrap with openssl and python
// `cryptography` and compare with what the token reported.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { SlotRef } from '../../hsm/types.js';
import { AppError } from '../../src-main/errors.js';
import { checkTokenCanGenerate, checkTokenCanWrap, findKmsKey, keyRecord, wrapForKms, type KmsKeySpec, type KmsWrappingAlgorithm } from '../../src-main/kms/index.js';
import { SOFTHSM_MODULE, createSoftHsmEnv, initSoftHsmToken, type SoftHsmEnv } from '../helpers/softhsm.js';
import { checkRecovered, independentUnwrap, kmsLikeKey, runFlow } from '../fixtures/kms/harness.js';

let env: SoftHsmEnv;
let layer: Pkcs11TokenLayer;
let slot: SlotRef;
let session: string;
let out: string;
const kms2048 = kmsLikeKey(2048);
const kms3072 = kmsLikeKey(3072);

beforeAll(async () => {
  env = createSoftHsmEnv();
  const slotId = initSoftHsmToken('kms', '87654321', '12345678');
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE }]);
  slot = { moduleId: SOFTHSM_MODULE, slotId };
  session = (await layer.openSession(slot, { readWrite: true })).session;
  await layer.login(session, 'user', '12345678');
  out = mkdtempSync(join(tmpdir(), 'kc-kms-out-'));
});

afterAll(async () => {
  await layer?.close();
  env?.cleanup();
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('KMS import on SoftHSM', () => {
  it('refuses RSAES_OAEP_SHA_256 before anything is generated, listing what it can do', async () => {
    const before = (await layer.findAll(session, {})).length;
    const e = await checkTokenCanWrap(layer, slot, 'RSAES_OAEP_SHA_256').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).message).toBe(
      `The token "kms" (slot ${slot.slotId}) cannot wrap with RSAES_OAEP_SHA_256: The token refused RSA-OAEP with SHA-256 (CKR_ARGUMENTS_BAD). ` +
        'It can do: RSAES_OAEP_SHA_1 (CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1)); RSA_AES_KEY_WRAP_SHA_1 (composed: CKM_AES_KEY_WRAP_PAD (RFC 5649 here) + CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1)).',
    );
    expect((e as AppError).remedy).toBe('Request new import parameters with RSAES_OAEP_SHA_1 or RSA_AES_KEY_WRAP_SHA_1, or use a token that can do RSAES_OAEP_SHA_256.');
    expect((await layer.findAll(session, {})).length).toBe(before);
  });

  it('refuses HMAC_224 before generation: SoftHSM HMAC-SHA-256 takes keys of 32 bytes or more', async () => {
    const before = (await layer.findAll(session, {})).length;
    const e = await checkTokenCanGenerate(layer, slot, 'HMAC_224', session).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).message).toBe(
      `The token "kms" (slot ${slot.slotId}) cannot generate HMAC_224: its CKM_SHA256_HMAC takes keys of 32-512 bytes, so the check value (HMAC-SHA-256 for every HMAC key spec) cannot be computed for a 28-byte key.`,
    );
    expect((await layer.findAll(session, {})).length).toBe(before);
  });

  it('secp256k1: probed with a session key pair, then generated and wrapped (64-byte PKCS#8: exact)', async () => {
    await checkTokenCanGenerate(layer, slot, 'ECC_SECG_P256K1', session);
    const r = await runFlow(layer, slot, session, kms2048, 'RSA_AES_KEY_WRAP_SHA_1', 'ECC_SECG_P256K1', out);
    checkRecovered('ECC_SECG_P256K1', independentUnwrap(kms2048, 'RSA_AES_KEY_WRAP_SHA_1', r.encrypted), r.checkValue, r.key.publicKeySpkiDer);
  });

  // SoftHSM zero-pads a private key's PKCS#8 to a multiple of 8 before RFC 5649 (FACTS.md): a strict
  // receiver rejects what it would export, so the flow stops at the probe, before the key exists.
  it.each(['RSA_2048', 'ECC_NIST_P256', 'ECC_NIST_P521'] as const)('%s with RSA_AES_KEY_WRAP_SHA_1 is refused before generation: SoftHSM pads the PKCS#8', async (keySpec) => {
    const before = (await layer.findAll(session, {})).length;
    const e = await runFlow(layer, slot, session, kms2048, 'RSA_AES_KEY_WRAP_SHA_1', keySpec, out).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('KMS_EXPORT_NOT_EXACT');
    expect((e as AppError).message).toMatch(
      new RegExp(`^The token "kms" \\(slot ${slot.slotId}, SoftHSM project SoftHSM v2\\) pads the PKCS#8 of a private key with zero bytes to a multiple of 8 before its RFC 5649 wrap \\(a throw-away key of this spec came back as \\d+ bytes of DER \\+ [1-7] zero bytes = \\d+\\)\\. AWS KMS \\(and Python cryptography, Go\\) reject such material, so nothing was generated: ${keySpec} cannot be exported exactly from this token with RSA_AES_KEY_WRAP_SHA_1\\.$`),
    );
    expect((e as AppError).remedy).toMatch(/^Use a token that wraps private keys exactly \(for example NSS softoken, or a YubiHSM 2\)/);
    expect((await layer.findAll(session, {})).length).toBe(before);
  });

  it('an EC private key under RSAES_OAEP_SHA_1: SoftHSM OAEP-wraps only secret keys, refused before generation', async () => {
    const before = (await layer.findAll(session, {})).length;
    const e = await runFlow(layer, slot, session, kms2048, 'RSAES_OAEP_SHA_1', 'ECC_NIST_P256', out).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).message).toMatch(
      new RegExp(`^The token "kms" \\(slot ${slot.slotId}\\) cannot wrap a private key with RSAES_OAEP_SHA_1 \\(it refused a probe: CKR_[A-Z_]+\\), so it cannot export ECC_NIST_P256 that way\\.$`),
    );
    expect((await layer.findAll(session, {})).length).toBe(before);
    expect(readdirSync(out).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  const cases: [KmsKeySpec, KmsWrappingAlgorithm][] = [
    ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1'],
    ['SYMMETRIC_DEFAULT', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['HMAC_256', 'RSAES_OAEP_SHA_1'],
    ['HMAC_384', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['HMAC_512', 'RSAES_OAEP_SHA_1'],
    // Its PKCS#8 is always 80 bytes, a multiple of 8: exact although SoftHSM pads other lengths.
    ['ECC_NIST_P384', 'RSA_AES_KEY_WRAP_SHA_1'],
  ];
  it.each(cases)('%s with %s: unwrapped by openssl/python, check value and public key match', async (keySpec, algorithm) => {
    const kms = keySpec === 'HMAC_512' ? kms3072 : kms2048;
    const r = await runFlow(layer, slot, session, kms, algorithm, keySpec, out);
    expect(r.key.attributes).toMatchObject({ CKA_TOKEN: true, CKA_PRIVATE: true, CKA_LOCAL: true, CKA_SENSITIVE: true, CKA_ALWAYS_SENSITIVE: true, CKA_EXTRACTABLE: true, CKA_NEVER_EXTRACTABLE: false });
    const material = independentUnwrap(kms, algorithm, r.encrypted);
    checkRecovered(keySpec, material, r.checkValue, r.key.publicKeySpkiDer);
    // The bundle: every file's SHA-256 as recorded, the exact command, nothing left as .partial.
    const files = readdirSync(r.bundle.dir).sort();
    expect(files).toEqual(['EncryptedKeyMaterial.bin', 'IMPORT.md', 'ImportToken.bin', 'WrappingPublicKey.bin', 'import-manifest.json']);
    const manifest = JSON.parse(readFileSync(join(r.bundle.dir, 'import-manifest.json'), 'utf8'));
    for (const [name, f] of Object.entries(manifest.files as Record<string, { sha256: string }>)) {
      expect(createHash('sha256').update(readFileSync(join(r.bundle.dir, name))).digest('hex')).toBe(f.sha256);
    }
    expect(manifest).toMatchObject({ keySpec, wrappingAlgorithm: algorithm, checkValue: { value: r.checkValue.value }, parametersValidTo: '2026-11-30T11:00:00.000Z' });
    expect(readFileSync(join(r.bundle.dir, 'IMPORT.md'), 'utf8')).toContain(
      'aws kms import-key-material --key-id arn:aws:kms:eu-central-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE',
    );
    expect(readdirSync(out).filter((n) => n.endsWith('.partial'))).toEqual([]);
    // The plaintext is nowhere in what was written.
    for (const name of files) expect(readFileSync(join(r.bundle.dir, name)).includes(material)).toBe(false);
    // The key stays in the token for a later re-export; the wrap's session objects are gone.
    expect(await layer.findAll(session, { label: 'kms-wrapping-key' })).toEqual([]);
    expect(await layer.findAll(session, { label: 'kms-ephemeral-aes' })).toEqual([]);
    expect((await layer.findAll(session, { label: r.key.label })).length).toBe(keySpec.startsWith('RSA') || keySpec.startsWith('ECC') ? 2 : 1);
  });

  it('re-export: the key found by label, its check value recomputed; a different value is refused', async () => {
    const first = await runFlow(layer, slot, session, kms2048, 'RSA_AES_KEY_WRAP_SHA_1', 'SYMMETRIC_DEFAULT', out);
    const found = await findKmsKey(layer, session, 'SYMMETRIC_DEFAULT', first.key.label, first.checkValue);
    expect(found.checkValue).toEqual(first.checkValue);
    expect(found.key.idHex).toBe(first.key.idHex);
    // New parameters (another wrapping key): the same material comes out.
    const other = kmsLikeKey(2048);
    const cap = await checkTokenCanWrap(layer, slot, 'RSAES_OAEP_SHA_1', 'SYMMETRIC_DEFAULT');
    const again = await wrapForKms(layer, session, { capability: cap, wrappingPublicKeySpkiDer: other.spki, key: found.key.handle });
    expect(independentUnwrap(other, 'RSAES_OAEP_SHA_1', again.encryptedKeyMaterial)).toEqual(independentUnwrap(kms2048, 'RSA_AES_KEY_WRAP_SHA_1', first.encrypted));
    const e = (await findKmsKey(layer, session, 'SYMMETRIC_DEFAULT', first.key.label, { value: '000000', method: 'AES-CMAC-ZERO-BLOCK' }).catch((x: unknown) => x)) as AppError;
    expect(e.message).toBe(
      `The key labelled "${first.key.label}" has check value ${first.checkValue.value} (AES-CMAC-ZERO-BLOCK), but 000000 (AES-CMAC-ZERO-BLOCK) was recorded at generation: it is not the same key material.`,
    );
    const missing = (await findKmsKey(layer, session, 'SYMMETRIC_DEFAULT', 'no-such-key', first.checkValue).catch((x: unknown) => x)) as AppError;
    expect(missing.code).toBe('KMS_KEY_MISMATCH');
    // The transcript record is JSON-safe and holds no handle.
    const rec = keyRecord(first.key);
    expect(JSON.parse(JSON.stringify(rec))).toEqual(rec);
    expect(Object.keys(rec).sort()).toEqual(['attributes', 'id', 'keySpec', 'label', 'waivers']);
  });

  it('re-export of an EC key: the check value is the SPKI hash', async () => {
    const first = await runFlow(layer, slot, session, kms2048, 'RSA_AES_KEY_WRAP_SHA_1', 'ECC_NIST_P384', out);
    const found = await findKmsKey(layer, session, 'ECC_NIST_P384', first.key.label, first.checkValue);
    expect(Buffer.from(found.key.publicKeySpkiDer as Uint8Array)).toEqual(Buffer.from(first.key.publicKeySpkiDer as Uint8Array));
  });
});
