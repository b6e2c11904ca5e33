// checkMaterial (src-main/kms/strict-material.ts): the verdict the exactness probe relies on, on keys made
// by node:crypto and on the ways a token can get them wrong (trailing padding, truncation, non-DER lengths,
// the wrong algorithm, curve or size). Each rejection is cross-checked with Python's load_der_private_key.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkMaterial } from '../../src-main/kms/strict-material.js';
import { pythonLoadPrivateKey } from '../helpers/strict-pkcs8.js';

const pkcs8 = (k: ReturnType<typeof generateKeyPairSync>['privateKey']) => new Uint8Array(k.export({ format: 'der', type: 'pkcs8' }));
const ec = (namedCurve: string) => pkcs8(generateKeyPairSync('ec', { namedCurve }).privateKey);
const rsa2048 = pkcs8(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
const p256 = ec('prime256v1');
const p384 = ec('secp384r1');
const k1 = ec('secp256k1');
const withZeros = (b: Uint8Array, n: number) => new Uint8Array([...b, ...new Uint8Array(n)]);

describe('checkMaterial', () => {
  it.each([
    ['ECC_NIST_P256', p256, true],
    ['ECC_NIST_P384', p384, true],
    ['ECC_SECG_P256K1', k1, true],
    ['RSA_2048', rsa2048, false],
  ] as const)('%s from node:crypto is exact (fixed length: %s)', (spec, der, fixed) => {
    expect(checkMaterial(spec, der)).toEqual({ ok: true, bytes: der.length, derLength: der.length, fixedLength: fixed });
  });

  it('DER followed by zero padding (SoftHSM 2.6.1) is refused, as Python refuses it', () => {
    const padded = withZeros(p256, 8 - (p256.length % 8 || 8));
    const v = checkMaterial('ECC_NIST_P256', padded);
    expect(v).toMatchObject({ ok: false, bytes: padded.length, derLength: p256.length, trailingZero: true });
    expect(checkMaterial('ECC_NIST_P256', new Uint8Array([...p256, 1, 0]))).toMatchObject({ ok: false, trailingZero: false });
    expect(v.reason).toBe(`the DER is ${p256.length} bytes but ${padded.length} were unwrapped: ${padded.length - p256.length} trailing bytes`);
    expect(() => pythonLoadPrivateKey(padded)).toThrow(/load_der_private_key refused/);
    expect(pythonLoadPrivateKey(p256)).toBe('EC secp256r1');
  });

  it.each([
    ['truncated', 'ECC_NIST_P256', p256.subarray(0, p256.length - 1), /claims \d+ bytes, but only \d+ follow/],
    ['another curve', 'ECC_NIST_P384', p256, /the curve is not P-384/],
    ['an EC key as RSA', 'RSA_2048', p256, /is not rsaEncryption/],
    ['RSA of another size', 'RSA_3072', rsa2048, /the modulus is not 3072 bits/],
    ['not DER at all', 'ECC_NIST_P256', new Uint8Array([0x30, 0x80, 0, 0]), /length form 0x80 at byte 1 is not DER/],
    ['a non-minimal length', 'ECC_NIST_P256', new Uint8Array([0x30, 0x81, 0x03, 0x02, 0x01, 0x00]), /not minimally encoded/],
  ] as const)('refuses %s', (_what, spec, bytes, reason) => {
    const v = checkMaterial(spec, bytes);
    expect(v.ok).toBe(false);
    expect(v.reason).toMatch(reason);
  });

  it.each([
    ['SYMMETRIC_DEFAULT', 32],
    ['HMAC_224', 28],
    ['HMAC_256', 32],
    ['HMAC_384', 48],
    ['HMAC_512', 64],
  ] as const)('%s must be exactly %i bytes', (spec, n) => {
    expect(checkMaterial(spec, new Uint8Array(n))).toEqual({ ok: true, bytes: n });
    expect(checkMaterial(spec, new Uint8Array(n + 8))).toEqual({ ok: false, bytes: n + 8, reason: `${n + 8} bytes, not the ${n} of ${spec}` });
  });
});
