// The KMS import core on NSS softoken: all four wrapping algorithms (RSA-OAEP with SHA-256 and RFC 5649 by
// CKM_AES_KEY_WRAP_KWP; its CKM_AES_KEY_WRAP_PAD is not RFC 5649 and must not be used). Every output is
// unwrapped with openssl and python `cryptography` and compared with what the token reported.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { SlotRef } from '../../hsm/types.js';
import { AppError } from '../../src-main/errors.js';
import { checkTokenCanGenerate, checkTokenCanWrap, type KmsKeySpec, type KmsWrappingAlgorithm } from '../../src-main/kms/index.js';
import { NSS_DB_TOKEN_LABEL, NSS_SOFTOKEN_MODULE, createNssDb, type NssDb } from '../helpers/nss.js';
import { checkRecovered, independentUnwrap, kmsLikeKey, runFlow } from '../fixtures/kms/harness.js';

let nss: NssDb;
let layer: Pkcs11TokenLayer;
let slot: SlotRef;
let session: string;
let out: string;
const kms2048 = kmsLikeKey(2048);
const kms4096 = kmsLikeKey(4096);
// NSS softoken reports CKA_LOCAL false even for keys it just generated (seen on 3.87, session and token
// objects alike), so the check is waived here, with the reason, and the waiver is asserted to be recorded.
const NSS_WAIVER = { CKA_LOCAL: 'NSS softoken does not set CKA_LOCAL on generated keys' };

beforeAll(async () => {
  nss = createNssDb();
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([nss.module]);
  const db = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.token?.label === NSS_DB_TOKEN_LABEL);
  slot = { moduleId: NSS_SOFTOKEN_MODULE, slotId: db?.slotId as string };
  session = (await layer.openSession(slot, { readWrite: true })).session;
});

afterAll(async () => {
  await layer?.close();
  nss?.cleanup();
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('KMS import on NSS softoken', () => {
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'kc-kms-nss-out-'));
  });

  it('can do all four algorithms; the composed ones by CKM_AES_KEY_WRAP_KWP', async () => {
    for (const alg of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'] as const) {
      const cap = await checkTokenCanWrap(layer, slot, alg);
      expect(cap.supported).toBe(true);
      if (alg.startsWith('RSA_AES')) expect(cap.method).toContain('CKM_AES_KEY_WRAP_KWP');
    }
  });

  const cases: [KmsKeySpec, KmsWrappingAlgorithm][] = [
    ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1'],
    ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256'],
    ['SYMMETRIC_DEFAULT', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['SYMMETRIC_DEFAULT', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['HMAC_256', 'RSAES_OAEP_SHA_256'],
    ['HMAC_224', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['HMAC_256', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['RSA_2048', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['RSA_2048', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['ECC_NIST_P256', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['ECC_NIST_P384', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['ECC_NIST_P521', 'RSA_AES_KEY_WRAP_SHA_256'],
  ];
  it.each(cases)('%s with %s: unwrapped by openssl/python, check value and public key match', async (keySpec, algorithm) => {
    const r = await runFlow(layer, slot, session, kms2048, algorithm, keySpec, out, NSS_WAIVER);
    expect(r.key.waivers).toEqual(['CKA_LOCAL is false, accepted: NSS softoken does not set CKA_LOCAL on generated keys']);
    expect(r.key.attributes).toMatchObject({ CKA_LOCAL: false, CKA_SENSITIVE: true, CKA_ALWAYS_SENSITIVE: true, CKA_EXTRACTABLE: true });
    checkRecovered(keySpec, independentUnwrap(kms2048, algorithm, r.encrypted), r.checkValue, r.key.publicKeySpkiDer);
    expect(readdirSync(out).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('RSA_4096 under an RSA_4096 wrapping key with RSA_AES_KEY_WRAP_SHA_256 (once: slow)', async () => {
    const r = await runFlow(layer, slot, session, kms4096, 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_4096', out, NSS_WAIVER);
    expect(r.encrypted.length).toBeGreaterThan(512 + 2300);
    checkRecovered('RSA_4096', independentUnwrap(kms4096, 'RSA_AES_KEY_WRAP_SHA_256', r.encrypted), r.checkValue, r.key.publicKeySpkiDer);
  }, 180_000);

  it('without the waiver, a key without CKA_LOCAL is refused and destroyed', async () => {
    const before = (await layer.findAll(session, {})).length;
    const e = await runFlow(layer, slot, session, kms2048, 'RSAES_OAEP_SHA_256', 'SYMMETRIC_DEFAULT', out).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).message).toBe('The SYMMETRIC_DEFAULT key the token generated failed its checks and was destroyed: CKA_LOCAL is false, expected true (generated inside the token).');
    expect((await layer.findAll(session, {})).length).toBe(before);
  });

  it('refuses HMAC_512 before generation: NSS makes generic secrets of at most 32 bytes', async () => {
    const e = await checkTokenCanGenerate(layer, slot, 'HMAC_512', session).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).message).toBe(`The token "NSS Certificate DB" (slot ${slot.slotId}) cannot generate HMAC_512: its CKM_GENERIC_SECRET_KEY_GEN makes keys of 1-32 bytes, and HMAC_512 is 64.`);
  });

  it('ECC_NIST_P256 under RSAES_OAEP_SHA_256: NSS OAEP-wraps the PKCS#8 private key itself', async () => {
    const r = await runFlow(layer, slot, session, kms2048, 'RSAES_OAEP_SHA_256', 'ECC_NIST_P256', out, NSS_WAIVER);
    expect(r.encrypted.length).toBe(256);
    checkRecovered('ECC_NIST_P256', independentUnwrap(kms2048, 'RSAES_OAEP_SHA_256', r.encrypted), r.checkValue, r.key.publicKeySpkiDer);
  });

  it('secp256k1: refused before generation (NSS has no such curve)', async () => {
    const e = await checkTokenCanGenerate(layer, slot, 'ECC_SECG_P256K1', session).catch((x: unknown) => x);
    expect((e as AppError).message).toBe(`The token "NSS Certificate DB" (slot ${slot.slotId}) cannot generate ECC_SECG_P256K1: it refused a secp256k1 key pair (CKR_DOMAIN_PARAMS_INVALID).`);
    expect((e as AppError).remedy).toBe('Choose ECC_NIST_P256 or another token.');
  });
});
