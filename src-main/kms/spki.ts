// The SubjectPublicKeyInfo of a key pair the token generated, built from its public attributes with
// node:crypto. Public data only: this is what the asymmetric check value hashes and what the room compares
// with the public key AWS KMS shows after the import.
import { createPublicKey } from 'node:crypto';
import { AppError } from '../errors.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { ObjectHandle, SessionHandle } from '../../hsm/types.js';
import { EC_FIELD_BYTES, KEY_SPECS } from './keyspecs.js';
import type { KmsKeySpec } from './types.js';

/**
 * The raw uncompressed point inside CKA_EC_POINT. PKCS#11 says DER OCTET STRING; some modules return the
 * bare point. (hsm/pkcs11/templates.ts has the same rule, but importing it would load pkcs11js here.)
 */
export function ecPointFromAttribute(value: Uint8Array): Uint8Array {
  const v = Buffer.from(value);
  if (v[0] === 0x04 && v.length >= 2) {
    let len = v[1] as number;
    let off = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (v[2 + i] as number);
      off = 2 + n;
    }
    if (off + len === v.length && v[off] === 0x04) return new Uint8Array(v.subarray(off));
  }
  return new Uint8Array(v);
}

export async function tokenPublicKeySpki(layer: TokenLayer, session: SessionHandle, publicKey: ObjectHandle, keySpec: KmsKeySpec): Promise<Uint8Array> {
  const info = KEY_SPECS[keySpec];
  if (info.kind === 'rsa') {
    const a = await layer.getAttributes(session, publicKey, ['CKA_MODULUS', 'CKA_PUBLIC_EXPONENT']);
    if (!(a.CKA_MODULUS instanceof Uint8Array) || !(a.CKA_PUBLIC_EXPONENT instanceof Uint8Array)) {
      throw new AppError('KMS_KEY_CHECK_FAILED', 'The token did not reveal the modulus and exponent of the public key it generated.', 'Check the token; its public key attributes must be readable.');
    }
    const jwk = { kty: 'RSA', n: Buffer.from(a.CKA_MODULUS).toString('base64url'), e: Buffer.from(a.CKA_PUBLIC_EXPONENT).toString('base64url') };
    return new Uint8Array(createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' }));
  }
  if (info.kind === 'ec') {
    const a = await layer.getAttributes(session, publicKey, ['CKA_EC_POINT']);
    if (!(a.CKA_EC_POINT instanceof Uint8Array)) {
      throw new AppError('KMS_KEY_CHECK_FAILED', 'The token did not reveal the point of the public key it generated.', 'Check the token; CKA_EC_POINT must be readable.');
    }
    const point = ecPointFromAttribute(a.CKA_EC_POINT);
    const size = EC_FIELD_BYTES[info.curve];
    if (point.length !== 1 + 2 * size || point[0] !== 0x04) {
      throw new AppError('KMS_KEY_CHECK_FAILED', `The token's public point is ${point.length} bytes, not an uncompressed ${info.curve} point (${1 + 2 * size}).`, 'Check the token.');
    }
    const jwk = {
      kty: 'EC',
      crv: info.curve,
      x: Buffer.from(point.subarray(1, 1 + size)).toString('base64url'),
      y: Buffer.from(point.subarray(1 + size)).toString('base64url'),
    };
    return new Uint8Array(createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' }));
  }
  throw new AppError('KMS_KEY_CHECK_FAILED', `${keySpec} is a symmetric key spec: it has no public key.`);
}
