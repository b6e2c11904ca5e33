// The SubjectPublicKeyInfo of a key pair the token generated, built from its public attributes with
// node:crypto. Public data only: this is what the asymmetric check value hashes and what the room compares
// with the public key AWS KMS shows after the import.
import { createPublicKey } from 'node:crypto';
import { AppError } from '../errors.js';
import { unwrapEcPoint } from '../../hsm/ec-point.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { ObjectHandle, SessionHandle } from '../../hsm/types.js';
import { EC_FIELD_BYTES, KEY_SPECS } from './keyspecs.js';
import type { KmsKeySpec } from './types.js';

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
    const point = unwrapEcPoint(a.CKA_EC_POINT);
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
