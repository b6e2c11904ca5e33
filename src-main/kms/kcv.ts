// Key check values, computed inside the token (docs/key-check-values.md has the conventions):
//   AES (SYMMETRIC_DEFAULT): the first 3 bytes of AES-CMAC (CKM_AES_CMAC) over one zero block (16 bytes).
//   HMAC_*: the first 3 bytes of HMAC-SHA-256 (CKM_SHA256_HMAC) over 16 zero bytes, whatever the key's
//     own HMAC length: the key bytes are the same, so one MAC identifies them.
//   RSA/ECC: SHA-256 of the DER SubjectPublicKeyInfo (public data, hashed on the host).
// The zero message is never empty: SoftHSM refuses CMAC over nothing and leaves the operation active.
import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { SessionHandle } from '../../hsm/types.js';
import type { GeneratedKmsKey } from './keygen.js';
import { KEY_SPECS } from './keyspecs.js';

export type CheckValueMethod = 'AES-CMAC-ZERO-BLOCK' | 'HMAC-SHA256-ZERO-BLOCK' | 'SHA256-SPKI';

export interface CheckValue {
  /** Hex, upper case: 6 digits for the MAC-based values, 64 for SHA256-SPKI. */
  value: string;
  method: CheckValueMethod;
  /** One sentence for the transcript and the room. */
  description: string;
}

export const ZERO_BLOCK = new Uint8Array(16);

const DESCRIPTION: Record<CheckValueMethod, string> = {
  'AES-CMAC-ZERO-BLOCK': 'first 3 bytes of AES-CMAC over 16 zero bytes, computed in the token (CKM_AES_CMAC)',
  'HMAC-SHA256-ZERO-BLOCK': 'first 3 bytes of HMAC-SHA-256 over 16 zero bytes, computed in the token (CKM_SHA256_HMAC)',
  'SHA256-SPKI': 'SHA-256 of the DER SubjectPublicKeyInfo of the public key the token generated',
};

export function checkValueFromMac(mac: Uint8Array, method: CheckValueMethod): CheckValue {
  return { value: Buffer.from(mac.subarray(0, 3)).toString('hex').toUpperCase(), method, description: DESCRIPTION[method] };
}

export function checkValueFromSpki(spki: Uint8Array): CheckValue {
  return { value: createHash('sha256').update(spki).digest('hex').toUpperCase(), method: 'SHA256-SPKI', description: DESCRIPTION['SHA256-SPKI'] };
}

export async function computeCheckValue(layer: TokenLayer, session: SessionHandle, key: Pick<GeneratedKmsKey, 'keySpec' | 'handle' | 'publicKeySpkiDer'>): Promise<CheckValue> {
  const info = KEY_SPECS[key.keySpec];
  if (info.kind === 'aes') return checkValueFromMac(await layer.sign(session, { name: 'AES_CMAC' }, key.handle, ZERO_BLOCK), 'AES-CMAC-ZERO-BLOCK');
  if (info.kind === 'hmac') return checkValueFromMac(await layer.sign(session, { name: 'SHA256_HMAC' }, key.handle, ZERO_BLOCK), 'HMAC-SHA256-ZERO-BLOCK');
  if (!key.publicKeySpkiDer) {
    throw new AppError('KMS_KEY_CHECK_FAILED', `The ${key.keySpec} key has no public key recorded, so its check value cannot be computed.`, 'Generate the key with generateKmsKey, which reads the public key back.');
  }
  return checkValueFromSpki(key.publicKeySpkiDer);
}
