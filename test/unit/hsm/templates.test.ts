import { describe, expect, it } from 'vitest';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Template } from 'pkcs11js';
import {
  EC_CURVE_OID,
  dataObjectTemplate,
  decodeAttribute,
  derOctetString,
  keyPairTemplates,
  queryTemplate,
  secretKeyTemplate,
  unwrapEcPoint,
} from '../../../hsm/pkcs11/templates.js';
import { spkiToTemplate, wrapMechanism } from '../../../hsm/pkcs11/crypto.js';
import { mechanismName } from '../../../hsm/pkcs11/mechanisms.js';
import type { PrivateKeyTemplate, PublicKeyTemplate, SecretKeyTemplate } from '../../../hsm/types.js';

const p = pkcs11js;
function get(t: Template, type: number): unknown {
  const found = t.filter((a) => a.type === type);
  expect(found.length, `attribute 0x${type.toString(16)} appears once`).toBe(1);
  return found[0]?.value;
}

const secret: SecretKeyTemplate = {
  label: 'kek',
  id: new Uint8Array([1, 2]),
  token: true,
  private: true,
  sensitive: true,
  extractable: false,
  encrypt: false,
  decrypt: false,
  sign: true,
  verify: true,
  wrap: true,
  unwrap: false,
  derive: false,
};

describe('secretKeyTemplate', () => {
  it('AES-256: every flag explicit, CKA_VALUE_LEN in bytes', () => {
    const { mechanism, template } = secretKeyTemplate({ type: 'AES', bits: 256 }, secret);
    expect(mechanism).toBe(p.CKM_AES_KEY_GEN);
    expect(get(template, p.CKA_CLASS)).toBe(p.CKO_SECRET_KEY);
    expect(get(template, p.CKA_KEY_TYPE)).toBe(p.CKK_AES);
    expect(get(template, p.CKA_VALUE_LEN)).toBe(32);
    expect(get(template, p.CKA_LABEL)).toEqual(Buffer.from('kek'));
    expect(get(template, p.CKA_ID)).toEqual(Buffer.from([1, 2]));
    expect(get(template, p.CKA_EXTRACTABLE)).toBe(false);
    expect(get(template, p.CKA_SENSITIVE)).toBe(true);
    expect(get(template, p.CKA_WRAP)).toBe(true);
    expect(get(template, p.CKA_UNWRAP)).toBe(false);
    for (const t of [p.CKA_TOKEN, p.CKA_PRIVATE, p.CKA_ENCRYPT, p.CKA_DECRYPT, p.CKA_SIGN, p.CKA_VERIFY, p.CKA_DERIVE]) get(template, t);
  });

  it('GENERIC_SECRET uses its own generator and length', () => {
    const { mechanism, template } = secretKeyTemplate({ type: 'GENERIC_SECRET', bytes: 48 }, secret);
    expect(mechanism).toBe(p.CKM_GENERIC_SECRET_KEY_GEN);
    expect(get(template, p.CKA_KEY_TYPE)).toBe(p.CKK_GENERIC_SECRET);
    expect(get(template, p.CKA_VALUE_LEN)).toBe(48);
  });

  it('rejects sizes naming the field', () => {
    expect(() => secretKeyTemplate({ type: 'AES', bits: 100 as 128 }, secret)).toThrow('spec.bits 100 is not an AES key size');
    expect(() => secretKeyTemplate({ type: 'GENERIC_SECRET', bytes: 0 }, secret)).toThrow('spec.bytes 0 must be a positive whole number of bytes');
  });
});

const pub: PublicKeyTemplate = { label: 'pub', id: new Uint8Array([9]), token: true, encrypt: false, verify: true, wrap: false };
const priv: PrivateKeyTemplate = { label: 'priv', id: new Uint8Array([9]), token: true, private: true, sensitive: true, extractable: false, decrypt: false, sign: true, unwrap: false, derive: false };

describe('keyPairTemplates', () => {
  it('RSA: modulus bits and exponent 65537 on the public half', () => {
    const t = keyPairTemplates({ type: 'RSA', bits: 4096 }, pub, priv);
    expect(t.mechanism).toBe(p.CKM_RSA_PKCS_KEY_PAIR_GEN);
    expect(get(t.publicTemplate, p.CKA_MODULUS_BITS)).toBe(4096);
    expect(get(t.publicTemplate, p.CKA_PUBLIC_EXPONENT)).toEqual(Buffer.from([1, 0, 1]));
    expect(get(t.publicTemplate, p.CKA_PRIVATE)).toBe(false);
    expect(get(t.privateTemplate, p.CKA_CLASS)).toBe(p.CKO_PRIVATE_KEY);
    expect(get(t.privateTemplate, p.CKA_SIGN)).toBe(true);
    expect(get(t.privateTemplate, p.CKA_EXTRACTABLE)).toBe(false);
  });

  it.each([
    ['P-256', '1.2.840.10045.3.1.7', 'prime256v1'],
    ['P-384', '1.3.132.0.34', 'secp384r1'],
    ['P-521', '1.3.132.0.35', 'secp521r1'],
    ['secp256k1', '1.3.132.0.10', 'secp256k1'],
  ] as const)('EC %s: CKA_EC_PARAMS is the DER OID %s', (curve, _oid, opensslName) => {
    const t = keyPairTemplates({ type: 'EC', curve }, pub, priv);
    expect(t.mechanism).toBe(p.CKM_EC_KEY_PAIR_GEN);
    const params = get(t.publicTemplate, p.CKA_EC_PARAMS) as Buffer;
    // Check against the curve OID inside an SPKI node:crypto writes for that curve.
    const spki = generateKeyPairSync('ec', { namedCurve: opensslName }).publicKey.export({ format: 'der', type: 'spki' });
    expect(spki.includes(params)).toBe(true);
    expect(params).toEqual(EC_CURVE_OID[curve]);
  });

  it('rejects an unsupported RSA size naming the field', () => {
    expect(() => keyPairTemplates({ type: 'RSA', bits: 1024 as 2048 }, pub, priv)).toThrow('spec.bits 1024 is not a supported RSA size');
  });
});

describe('data objects and queries', () => {
  it('CKO_DATA with application, label and value', () => {
    const t = dataObjectTemplate({ label: 'transcript-head', application: 'keyceremony', token: true, private: false }, new Uint8Array([7, 7]));
    expect(get(t, p.CKA_CLASS)).toBe(p.CKO_DATA);
    expect(get(t, p.CKA_APPLICATION)).toEqual(Buffer.from('keyceremony'));
    expect(get(t, p.CKA_VALUE)).toEqual(Buffer.from([7, 7]));
    expect(get(t, p.CKA_PRIVATE)).toBe(false);
  });

  it('queries carry only what was asked', () => {
    expect(queryTemplate({})).toEqual([]);
    const q = queryTemplate({ class: 'SECRET_KEY', label: 'k', id: new Uint8Array([1]) });
    expect(get(q, p.CKA_CLASS)).toBe(p.CKO_SECRET_KEY);
    expect(q).toHaveLength(3);
  });
});

describe('decodeAttribute', () => {
  const ulong = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
  };
  it.each([
    ['CKA_SENSITIVE', Buffer.from([1]), true],
    ['CKA_EXTRACTABLE', Buffer.from([0]), false],
    ['CKA_VALUE_LEN', ulong(32), 32],
    ['CKA_CLASS', ulong(4), 4],
    ['CKA_MODULUS_BITS', Buffer.from([0, 8, 0, 0]), 2048],
    ['CKA_LABEL', Buffer.from('clé', 'utf8'), 'clé'],
    ['CKA_ID', Buffer.from([1, 2, 3]), new Uint8Array([1, 2, 3])],
  ] as const)('%s', (name, raw, expected) => {
    expect(decodeAttribute(name, raw)).toEqual(expected);
  });
});

describe('EC points', () => {
  it('derOctetString uses long-form length for P-521 points', () => {
    const point = Buffer.alloc(133, 4);
    const der = derOctetString(point);
    expect(der.subarray(0, 3)).toEqual(Buffer.from([0x04, 0x81, 0x85]));
    expect(unwrapEcPoint(der)).toEqual(new Uint8Array(point));
  });

  it('unwrapEcPoint accepts a bare point too', () => {
    const bare = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]);
    expect(unwrapEcPoint(bare)).toEqual(new Uint8Array(bare));
  });
});

describe('spkiToTemplate', () => {
  it('RSA: modulus and exponent from the SPKI', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const { keyType, template } = spkiToTemplate(spki, { label: 'kms', token: false, encrypt: true, wrap: true, verify: false });
    expect(keyType).toBe('RSA');
    const jwk = publicKey.export({ format: 'jwk' });
    expect(get(template, p.CKA_MODULUS)).toEqual(Buffer.from(jwk.n as string, 'base64url'));
    expect(get(template, p.CKA_PUBLIC_EXPONENT)).toEqual(Buffer.from([1, 0, 1]));
    expect(get(template, p.CKA_WRAP)).toBe(true);
  });

  it('EC P-384: the DER OCTET STRING point rebuilds the same public key in node:crypto', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const { template } = spkiToTemplate(publicKey.export({ format: 'der', type: 'spki' }), { label: 'ec', token: false, encrypt: false, wrap: false, verify: true });
    const point = unwrapEcPoint(get(template, p.CKA_EC_POINT) as Buffer);
    const rebuilt = createPublicKey({
      key: { kty: 'EC', crv: 'P-384', x: Buffer.from(point.subarray(1, 49)).toString('base64url'), y: Buffer.from(point.subarray(49)).toString('base64url') },
      format: 'jwk',
    });
    expect(rebuilt.equals(publicKey)).toBe(true);
    expect(get(template, p.CKA_EC_PARAMS)).toEqual(EC_CURVE_OID['P-384']);
  });

  it('rejects Ed25519 and garbage, naming the field', () => {
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    expect(() => spkiToTemplate(ed, { label: 'x', token: false, encrypt: true, wrap: true, verify: false })).toThrow(
      'spki holds a ed25519 key; only RSA and EC public keys are supported',
    );
    expect(() => spkiToTemplate(new Uint8Array([1, 2, 3]), { label: 'x', token: false, encrypt: true, wrap: true, verify: false })).toThrow(/^spki is not a DER SubjectPublicKeyInfo/);
  });
});

describe('mechanisms', () => {
  it('OAEP parameters: same hash for MGF1, data-specified empty source', () => {
    expect(wrapMechanism({ name: 'RSA_PKCS_OAEP', hash: 'SHA-256' })).toEqual({
      mechanism: p.CKM_RSA_PKCS_OAEP,
      parameter: { type: p.CK_PARAMS_RSA_OAEP, hashAlg: p.CKM_SHA256, mgf: p.CKG_MGF1_SHA256, source: 1 },
    });
  });

  it('names, including the ones pkcs11js lacks', () => {
    expect(wrapMechanism({ name: 'AES_KEY_WRAP_KWP' }).mechanism).toBe(0x210b);
    expect(mechanismName(0x210b)).toBe('CKM_AES_KEY_WRAP_KWP');
    expect(mechanismName(0x1054)).toBe('CKM_RSA_AES_KEY_WRAP');
    expect(mechanismName(0x1040)).toBe('CKM_EC_KEY_PAIR_GEN');
    expect(mechanismName(0x210a)).toBe('CKM_AES_KEY_WRAP_PAD');
    expect(mechanismName(0x8000abcd)).toBe('0x8000ABCD');
  });
});
