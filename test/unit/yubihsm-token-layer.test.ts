// Pure rules of the YubiHSM token layer: handles, ids, labels, templates -> capabilities, encodings, the
// KMS answer; and the PKCS#11 driver's refusal of RSA_AES_KEY_WRAP in one step.
import { createCipheriv, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decideKmsCapabilities } from '../../hsm/capabilities.js';
import { wrapMechanism } from '../../hsm/pkcs11/crypto.js';
import { Capability, ObjectType, capabilities } from '../../hsm/yubihsm/constants.js';
import {
  aesCmacWith,
  checkLabel,
  decodeHandle,
  derSignatureToRaw,
  ecPointAttribute,
  encodeHandle,
  objectIdFromCkaId,
  privateKeyCapabilities,
  secretKeyCapabilities,
  yubiHsmKmsCapabilities,
  yubiHsmMechanisms,
} from '../../hsm/yubihsm/token-layer-map.js';
import type { SecretKeyTemplate } from '../../hsm/types.js';

const secret = (over: Partial<SecretKeyTemplate> = {}): SecretKeyTemplate => ({
  label: 'k',
  id: new Uint8Array(),
  token: true,
  private: true,
  sensitive: true,
  extractable: false,
  encrypt: false,
  decrypt: false,
  sign: false,
  verify: false,
  wrap: false,
  unwrap: false,
  derive: false,
  ...over,
});

describe('handles and ids', () => {
  it('round-trips object handles, with the public half of a key pair as its own handle', () => {
    for (const a of [
      { type: ObjectType.SYMMETRIC_KEY, id: 0x1234, publicHalf: false },
      { type: ObjectType.ASYMMETRIC_KEY, id: 7, publicHalf: true },
      { type: ObjectType.OPAQUE, id: 65535, publicHalf: false },
    ])
      expect(decodeHandle(encodeHandle(a))).toEqual(a);
    expect(() => decodeHandle('0x12')).toThrow('is not one this YubiHSM token layer issued');
  });

  it('uses a 2-byte CKA_ID as the object id, lets the device choose otherwise, refuses reserved ids', () => {
    expect(objectIdFromCkaId(Uint8Array.of(0x12, 0x34))).toBe(0x1234);
    expect(objectIdFromCkaId(new Uint8Array(16))).toBe(0);
    expect(objectIdFromCkaId(new Uint8Array())).toBe(0);
    expect(() => objectIdFromCkaId(Uint8Array.of(0xff, 0xf0))).toThrow('reserved');
  });

  it('labels hold at most 40 bytes of UTF-8', () => {
    expect(checkLabel('x'.repeat(40))).toBe('x'.repeat(40));
    expect(() => checkLabel('é'.repeat(21))).toThrow('42 bytes; a YubiHSM 2 object label holds at most 40 bytes');
  });
});

describe('templates -> capabilities', () => {
  it('sets exportable-under-wrap exactly when extractable', () => {
    expect(secretKeyCapabilities('AES', secret({ extractable: true }))).toBe(Capability.EXPORTABLE_UNDER_WRAP);
    expect(secretKeyCapabilities('AES', secret({ encrypt: true }))).toBe(capabilities('ENCRYPT_ECB', 'ENCRYPT_CBC'));
    expect(privateKeyCapabilities('EC', { label: 'a', id: new Uint8Array(), token: true, private: true, sensitive: true, extractable: false, decrypt: false, sign: true, unwrap: false, derive: false })).toBe(
      Capability.SIGN_ECDSA,
    );
  });

  it('refuses what the device cannot do, in words', () => {
    expect(() => secretKeyCapabilities('HMAC', secret({ extractable: true }))).toThrow('The YubiHSM cannot export an HMAC key for a KMS: WRAP_KEY_RSA wraps only asymmetric and AES keys.');
    expect(() => secretKeyCapabilities('AES', secret({ sensitive: false }))).toThrow('never reveals a key value');
    expect(() => secretKeyCapabilities('AES', secret({ verify: true }))).toThrow('cannot verify a CMAC');
    // sign = AES-CMAC, computed through the device's AES-ECB.
    expect(secretKeyCapabilities('AES', secret({ sign: true }))).toBe(Capability.ENCRYPT_ECB);
  });
});

describe('encodings', () => {
  it('converts the device DER ECDSA signature to r||s (P-256, P-384, P-521)', () => {
    for (const [curve, size] of [
      ['P-256', 32],
      ['P-384', 48],
      ['P-521', 66],
    ] as const) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
      for (let i = 0; i < 8; i++) {
        const data = Buffer.from(`m${i}`);
        const der = sign(null, data, { key: privateKey, dsaEncoding: 'der' });
        const raw = derSignatureToRaw(der, size);
        expect(raw).toHaveLength(2 * size);
        expect(verify(null, data, { key: createPublicKey(privateKey), dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
      }
    }
    expect(() => derSignatureToRaw(Uint8Array.of(0x31, 0), 32)).toThrow('not valid DER');
  });

  it('CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (long form for P-521)', () => {
    expect([...ecPointAttribute(new Uint8Array(64)).subarray(0, 3)]).toEqual([0x04, 65, 0x04]);
    expect([...ecPointAttribute(new Uint8Array(132)).subarray(0, 4)]).toEqual([0x04, 0x81, 133, 0x04]);
  });
});

describe('AES-CMAC through the device AES-ECB', () => {
  it('matches RFC 4493 section 4 (empty, 16, 40 and 64 bytes)', async () => {
    const key = Buffer.from('2b7e151628aed2a6abf7158809cf4f3c', 'hex');
    const ecb = async (block: Uint8Array) => {
      const c = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
      return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
    };
    const m = Buffer.from(
      '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
      'hex',
    );
    const cases: [number, string][] = [
      [0, 'bb1d6929e95937287fa37d129b756746'],
      [16, '070a16b46b4d4144f79bdd9dd04a287c'],
      [40, 'dfa66747de9ae63030ca32611497c827'],
      [64, '51f0bebf7e3b9d92fc49741779363cfe'],
    ];
    for (const [n, want] of cases) expect(Buffer.from(await aesCmacWith(ecb, m.subarray(0, n))).toString('hex')).toBe(want);
  });
});

describe('the KMS answer', () => {
  it('firmware 2.4: RSA_AES_KEY_WRAP_* in the device, RSAES_OAEP_* not possible', () => {
    const caps = yubiHsmKmsCapabilities({ major: 2, minor: 4, patch: 0 });
    expect(caps.map((c) => c.supported)).toEqual([false, false, true, true]);
    expect(caps[1]?.reason).toContain('RSAES_OAEP_* is not possible on this device');
    expect(caps[3]?.method).toBe('RSA_AES_KEY_WRAP (one step in the device: YubiHSM WRAP_KEY_RSA, RSA-OAEP SHA-256, MGF1-SHA-256, AES-256 KWP)');
  });

  it('older firmware: nothing, with the reason', () => {
    const caps = yubiHsmKmsCapabilities({ major: 2, minor: 3, patch: 1 });
    expect(caps.every((c) => !c.supported)).toBe(true);
    expect(caps[2]?.reason).toBe('Firmware 2.3.1 predates WRAP_KEY_RSA (firmware 2.4).');
  });

  it('the synthetic mechanism list alone would make decideKmsCapabilities say no to everything: hence kmsCapabilities()', () => {
    const caps = decideKmsCapabilities(yubiHsmMechanisms(true), null);
    expect(caps.every((c) => !c.supported)).toBe(true);
  });
});

describe('PKCS#11 driver', () => {
  it('refuses RSA_AES_KEY_WRAP in one step with a clear TokenError', () => {
    expect(() => wrapMechanism({ name: 'RSA_AES_KEY_WRAP', hash: 'SHA-256' })).toThrow('pkcs11js cannot pass CK_RSA_AES_KEY_WRAP_PARAMS');
    try {
      wrapMechanism({ name: 'RSA_AES_KEY_WRAP', hash: 'SHA-1' });
    } catch (e) {
      expect((e as { code: string }).code).toBe('CKR_MECHANISM_INVALID');
    }
  });
});
