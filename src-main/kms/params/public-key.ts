// The KMS wrapping public key: a DER SubjectPublicKeyInfo holding RSA 2048/3072/4096 with e = 65537
// (GetParametersForImport WrappingKeySpec). Parsed with node:crypto, which also rejects truncated DER.
import { createPublicKey } from 'node:crypto';
import { AppError } from '../../errors.js';
import type { WrappingKeySpec } from '../types.js';
import { KMS_PARAMS_ERROR } from './arn.js';

export interface WrappingKeyInfo {
  wrappingKeySpec: WrappingKeySpec;
  modulusBits: number;
  /** The SPKI re-encoded by node:crypto; equal to the input (checked), so nothing was silently repaired. */
  spki: Uint8Array;
}

const REMEDY = 'Use the wrapping public key from the same GetParametersForImport response as the import token; request new parameters with WrappingKeySpec RSA_2048, RSA_3072 or RSA_4096.';

export function checkWrappingPublicKey(der: Uint8Array, field: string): WrappingKeyInfo {
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch {
    throw new AppError(KMS_PARAMS_ERROR, `${field} is not a DER SubjectPublicKeyInfo (truncated or not a public key).`, REMEDY);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new AppError(KMS_PARAMS_ERROR, `${field} holds a ${String(key.asymmetricKeyType).toUpperCase()} key; AWS KMS wrapping keys are RSA.`, REMEDY);
  }
  const details = key.asymmetricKeyDetails ?? {};
  const bits = details.modulusLength ?? 0;
  const e = details.publicExponent;
  if (bits !== 2048 && bits !== 3072 && bits !== 4096) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} is RSA-${bits}; AWS KMS wrapping keys are RSA-2048, RSA-3072 or RSA-4096.`, REMEDY);
  }
  if (e !== 65537n) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} has public exponent ${String(e)}; AWS KMS wrapping keys use 65537.`, REMEDY);
  }
  const spki = new Uint8Array(key.export({ format: 'der', type: 'spki' }));
  if (Buffer.compare(Buffer.from(spki), Buffer.from(der)) !== 0) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} has bytes after (or around) the SubjectPublicKeyInfo, or a non-canonical encoding.`, REMEDY);
  }
  return { wrappingKeySpec: `RSA_${bits}` as WrappingKeySpec, modulusBits: bits, spki };
}
