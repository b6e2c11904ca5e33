// kms-rewrap's core on NSS softoken, which does all four wrapping algorithms: a key generated and exported
// once is found again by label (check value recomputed in the token) and re-wrapped under a fresh wrapping
// key pair with each algorithm; every output unwraps independently (openssl, python cryptography) to the
// material of the first export. The ceremony itself runs on SoftHSM (kms-rewrap.test.ts): init-token needs
// C_InitToken, which the NSS database token does not offer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { SlotRef } from '../../hsm/types.js';
import { checkTokenCanWrap, findKmsKey, wrapForKms, type KmsKeySpec, type KmsWrappingAlgorithm } from '../../src-main/kms/index.js';
import { checkRecovered, independentUnwrap, kmsLikeKey, runFlow } from '../fixtures/kms/harness.js';
import { NSS_DB_TOKEN_LABEL, NSS_SOFTOKEN_MODULE, createNssDb, type NssDb } from '../helpers/nss.js';

const NSS_WAIVER = { CKA_LOCAL: 'NSS softoken does not set CKA_LOCAL on generated keys' };
const ALGORITHMS: KmsWrappingAlgorithm[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'];

let nss: NssDb;
let layer: Pkcs11TokenLayer;
let slot: SlotRef;
let session: string;
let out: string;

beforeAll(async () => {
  nss = createNssDb();
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([nss.module]);
  const db = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.token?.label === NSS_DB_TOKEN_LABEL);
  slot = { moduleId: NSS_SOFTOKEN_MODULE, slotId: db?.slotId as string };
  session = (await layer.openSession(slot, { readWrite: true })).session;
  out = mkdtempSync(join(tmpdir(), 'kc-rewrap-nss-'));
});

afterAll(async () => {
  await layer?.close();
  nss?.cleanup();
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('re-export on NSS softoken', () => {
  it.each<[KmsKeySpec, KmsWrappingAlgorithm]>([
    ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256'],
    ['ECC_NIST_P256', 'RSA_AES_KEY_WRAP_SHA_256'],
  ])('%s exported with %s, then re-wrapped with each algorithm: the same material every time', async (keySpec, firstAlgorithm) => {
    const kms = kmsLikeKey(2048);
    const first = await runFlow(layer, slot, session, kms, firstAlgorithm, keySpec, out, NSS_WAIVER);
    const material = independentUnwrap(kms, firstAlgorithm, first.encrypted);
    checkRecovered(keySpec, material, first.checkValue, first.key.publicKeySpkiDer);
    const found = await findKmsKey(layer, session, keySpec, first.key.label, first.checkValue);
    expect(found.checkValue).toEqual(first.checkValue);
    expect(found.key.idHex).toBe(first.key.idHex);
    for (const algorithm of ALGORITHMS) {
      const fresh = kmsLikeKey(2048);
      const capability = await checkTokenCanWrap(layer, slot, algorithm, keySpec);
      const wrap = await wrapForKms(layer, session, { capability, wrappingPublicKeySpkiDer: fresh.spki, key: found.key.handle });
      const again = independentUnwrap(fresh, algorithm, wrap.encryptedKeyMaterial);
      expect(again.equals(material), algorithm).toBe(true);
    }
  });
});
