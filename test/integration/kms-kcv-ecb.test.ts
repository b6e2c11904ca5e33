// The AES-ECB key check value (for tokens without CKM_AES_CMAC) on a real SoftHSM token: the value the token
// computes equals node:crypto's AES-256-ECB of a zero block under the material, recovered independently
// (wrapped in the token, unwrapped with openssl); the method is chosen from the mechanism list (CMAC where
// offered, ECB only where not) and recorded; a re-export recomputes with the recorded method.
import { createCipheriv } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { SecretKeyTemplate, SlotRef } from '../../hsm/types.js';
import { aesCheckValueMethod, checkTokenCanWrap, computeCheckValue, findKmsKey, wrapForKms } from '../../src-main/kms/index.js';
import { independentUnwrap, kmsLikeKey } from '../fixtures/kms/harness.js';
import { aesCmac } from '../helpers/aes-cmac.js';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

let env: SoftHsmEnv;
let layer: Pkcs11TokenLayer;
let slot: SlotRef;
let session: string;

const template = (label: string, encrypt: boolean): SecretKeyTemplate => ({
  label, id: new Uint8Array([1, 2, 3]), token: true, private: true, sensitive: true, extractable: true,
  encrypt, decrypt: false, sign: true, verify: false, wrap: false, unwrap: false, derive: false,
});

beforeAll(async () => {
  env = createSoftHsmEnv();
  const slotId = initSoftHsmToken('kcv-ecb', 'so-pin-1234', 'user-pin-1234');
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  slot = { moduleId: SOFTHSM_MODULE, slotId };
  session = (await layer.openSession(slot, { readWrite: true })).session;
  await layer.login(session, 'user', 'user-pin-1234');
});

afterAll(async () => {
  await layer?.close();
  env?.cleanup();
});

describe('AES-ECB key check value', () => {
  it('is chosen only where the mechanism list has no CMAC', async () => {
    const mechs = await layer.listMechanisms(slot);
    expect(aesCheckValueMethod(mechs)).toBe('AES-CMAC-ZERO-BLOCK');
    const noCmac = mechs.filter((m) => m.name !== 'CKM_AES_CMAC');
    expect(noCmac.length).toBe(mechs.length - 1);
    expect(aesCheckValueMethod(noCmac)).toBe('AES-ECB-ZERO-BLOCK');
    expect(aesCheckValueMethod(noCmac.filter((m) => m.name !== 'CKM_AES_ECB'))).toBeUndefined();
  });

  it('equals node:crypto AES-256-ECB of a zero block under the independently unwrapped material', async () => {
    const key = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, template('ecb-key', true));
    const ecb = await computeCheckValue(layer, session, { keySpec: 'SYMMETRIC_DEFAULT', handle: key }, { aesMethod: 'AES-ECB-ZERO-BLOCK' });
    expect(ecb.method).toBe('AES-ECB-ZERO-BLOCK');
    expect(ecb.description).toContain('CKM_AES_ECB');
    expect(ecb.value).toMatch(/^[0-9A-F]{6}$/);

    const kms = kmsLikeKey(2048);
    const capability = await checkTokenCanWrap(layer, slot, 'RSAES_OAEP_SHA_1', 'SYMMETRIC_DEFAULT');
    const wrap = await wrapForKms(layer, session, { capability, wrappingPublicKeySpkiDer: kms.spki, key });
    const material = independentUnwrap(kms, 'RSAES_OAEP_SHA_1', wrap.encryptedKeyMaterial);
    expect(material.length).toBe(32);
    const cipher = createCipheriv('aes-256-ecb', material, null).setAutoPadding(false);
    const expected = Buffer.concat([cipher.update(Buffer.alloc(16)), cipher.final()]).subarray(0, 3).toString('hex').toUpperCase();
    expect(ecb.value).toBe(expected);

    // The two methods give different values for one key, so the recorded method matters.
    const cmac = await computeCheckValue(layer, session, { keySpec: 'SYMMETRIC_DEFAULT', handle: key });
    expect(cmac.method).toBe('AES-CMAC-ZERO-BLOCK');
    expect(cmac.value).toBe(aesCmac(material, Buffer.alloc(16)).subarray(0, 3).toString('hex').toUpperCase());
    expect(cmac.value).not.toBe(ecb.value);

    // A re-export recomputes with the method recorded at generation.
    const found = await findKmsKey(layer, session, 'SYMMETRIC_DEFAULT', 'ecb-key', { value: ecb.value, method: 'AES-ECB-ZERO-BLOCK' });
    expect(found.checkValue).toEqual(ecb);
  });

  it('is refused by the token for a key that may not encrypt', async () => {
    const key = await layer.generateSecretKey(session, { type: 'AES', bits: 256 }, template('no-encrypt', false));
    await expect(computeCheckValue(layer, session, { keySpec: 'SYMMETRIC_DEFAULT', handle: key }, { aesMethod: 'AES-ECB-ZERO-BLOCK' })).rejects.toThrow("the key's attributes do not allow this use");
    // The refused operation left nothing active on the session: the next operation works.
    expect((await computeCheckValue(layer, session, { keySpec: 'SYMMETRIC_DEFAULT', handle: key })).method).toBe('AES-CMAC-ZERO-BLOCK');
  });
});
