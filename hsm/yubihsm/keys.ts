// Conversions between the device's raw key encodings and DER (SPKI / PKCS#8) via node:crypto JWK.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { Algorithm } from './constants.js';

export const RSA_ALGORITHMS: Record<number, number> = { [Algorithm.RSA_2048]: 2048, [Algorithm.RSA_3072]: 3072, [Algorithm.RSA_4096]: 4096 };
export const EC_ALGORITHMS: Record<number, { crv: string; bytes: number; nodeCurve: string }> = {
  [Algorithm.EC_P256]: { crv: 'P-256', bytes: 32, nodeCurve: 'prime256v1' },
  [Algorithm.EC_P384]: { crv: 'P-384', bytes: 48, nodeCurve: 'secp384r1' },
  [Algorithm.EC_P521]: { crv: 'P-521', bytes: 66, nodeCurve: 'secp521r1' },
  [Algorithm.EC_K256]: { crv: 'secp256k1', bytes: 32, nodeCurve: 'secp256k1' },
};

const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const unb64u = (s: string | undefined) => new Uint8Array(Buffer.from(s ?? '', 'base64url'));

function leftPad(b: Uint8Array, length: number): Uint8Array {
  if (b.length === length) return b;
  const out = new Uint8Array(length);
  out.set(b.subarray(Math.max(0, b.length - length)), Math.max(0, length - b.length));
  return out;
}

/** The device's GET_PUBLIC_KEY body (modulus, or X || Y) as a KeyObject. RSA public exponent is always 65537. */
export function publicKeyFromRaw(algorithm: number, raw: Uint8Array): KeyObject {
  if (RSA_ALGORITHMS[algorithm]) return createPublicKey({ key: { kty: 'RSA', n: b64u(raw), e: 'AQAB' }, format: 'jwk' });
  const ec = EC_ALGORITHMS[algorithm];
  if (ec) {
    if (raw.length !== 2 * ec.bytes) throw new RangeError(`${ec.crv} public key must be ${2 * ec.bytes} bytes, not ${raw.length}`);
    return createPublicKey({ key: { kty: 'EC', crv: ec.crv, x: b64u(raw.subarray(0, ec.bytes)), y: b64u(raw.subarray(ec.bytes)) }, format: 'jwk' });
  }
  throw new RangeError(`no public key encoding for algorithm ${algorithm}`);
}

/** Raw device encoding of a public key: RSA modulus, or X || Y. */
export function rawPublicKey(key: KeyObject): { algorithm: number; raw: Uint8Array } {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'RSA') {
    if (jwk.e !== 'AQAB') throw new RangeError('the YubiHSM only takes RSA keys with public exponent 65537');
    const n = unb64u(jwk.n);
    const bits = n.length * 8;
    const algorithm = Number(Object.entries(RSA_ALGORITHMS).find(([, b]) => b === bits)?.[0]);
    if (!algorithm) throw new RangeError(`the YubiHSM takes RSA 2048, 3072 or 4096, not ${bits}`);
    return { algorithm, raw: n };
  }
  const entry = Object.entries(EC_ALGORITHMS).find(([, v]) => v.crv === jwk.crv);
  if (jwk.kty === 'EC' && entry) {
    const { bytes } = entry[1];
    return { algorithm: Number(entry[0]), raw: new Uint8Array([...leftPad(unb64u(jwk.x), bytes), ...leftPad(unb64u(jwk.y), bytes)]) };
  }
  throw new RangeError(`unsupported public key (${jwk.kty} ${jwk.crv ?? ''})`);
}

/** Raw device encoding of a private key for PUT_ASYMMETRIC_KEY: RSA p || q, or the EC scalar. */
export function rawPrivateKey(key: KeyObject): { algorithm: number; raw: Uint8Array } {
  const jwk = key.export({ format: 'jwk' });
  const { algorithm } = rawPublicKey(createPublicKey(key));
  if (jwk.kty === 'RSA') {
    const half = (RSA_ALGORITHMS[algorithm] as number) / 16;
    return { algorithm, raw: new Uint8Array([...leftPad(unb64u(jwk.p), half), ...leftPad(unb64u(jwk.q), half)]) };
  }
  const ec = EC_ALGORITHMS[algorithm] as { bytes: number };
  return { algorithm, raw: leftPad(unb64u(jwk.d), ec.bytes) };
}

