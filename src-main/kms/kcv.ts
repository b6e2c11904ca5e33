// Key check values, computed inside the token (docs/key-check-values.md has the conventions):
//   AES (SYMMETRIC_DEFAULT): the first 3 bytes of AES-CMAC (CKM_AES_CMAC) over one zero block (16 bytes);
//     only where the token offers no CMAC, the first 3 bytes of AES-ECB of that block (the method says which).
//   HMAC_*: the first 3 bytes of HMAC-SHA-256 (CKM_SHA256_HMAC) over 16 zero bytes, whatever the key's
//     own HMAC length: the key bytes are the same, so one MAC identifies them.
//   RSA/ECC: SHA-256 of the DER SubjectPublicKeyInfo (public data, hashed on the host).
// The zero message is never empty: SoftHSM refuses CMAC over nothing and leaves the operation active.
import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { MechanismInfo, SessionHandle } from '../../hsm/types.js';
import type { GeneratedKmsKey } from './keygen.js';
import { CKM_CODES, KEY_SPECS } from './keyspecs.js';

export type AesCheckValueMethod = 'AES-CMAC-ZERO-BLOCK' | 'AES-ECB-ZERO-BLOCK';
export type CheckValueMethod = AesCheckValueMethod | 'HMAC-SHA256-ZERO-BLOCK' | 'SHA256-SPKI';

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
  'AES-ECB-ZERO-BLOCK': 'first 3 bytes of AES-ECB encryption of 16 zero bytes, computed in the token (CKM_AES_ECB), because the token offers no CKM_AES_CMAC',
  'HMAC-SHA256-ZERO-BLOCK': 'first 3 bytes of HMAC-SHA-256 over 16 zero bytes, computed in the token (CKM_SHA256_HMAC)',
  'SHA256-SPKI': 'SHA-256 of the DER SubjectPublicKeyInfo of the public key the token generated',
};

export function checkValueFromMac(mac: Uint8Array, method: CheckValueMethod): CheckValue {
  return { value: Buffer.from(mac.subarray(0, 3)).toString('hex').toUpperCase(), method, description: DESCRIPTION[method] };
}

export function checkValueFromSpki(spki: Uint8Array): CheckValue {
  return { value: createHash('sha256').update(spki).digest('hex').toUpperCase(), method: 'SHA256-SPKI', description: DESCRIPTION['SHA256-SPKI'] };
}

/** CKM_AES_ECB (PKCS#11 2.40). */
const CKM_AES_ECB = 0x1081;

/**
 * Which AES check value this token's mechanism list allows: CMAC wherever it is offered for signing; the
 * older AES-ECB of a zero block only where it is not (a bare ECB encryption is a weaker identifier: anyone
 * with the key handle can encrypt chosen blocks). undefined: neither.
 */
export function aesCheckValueMethod(mechanisms: readonly MechanismInfo[]): AesCheckValueMethod | undefined {
  if (mechanisms.some((m) => m.code === CKM_CODES.AES_CMAC && m.flags.sign)) return 'AES-CMAC-ZERO-BLOCK';
  if (mechanisms.some((m) => m.code === CKM_AES_ECB && m.flags.encrypt)) return 'AES-ECB-ZERO-BLOCK';
  return undefined;
}

async function aesEcbCheckValue(layer: TokenLayer, session: SessionHandle, handle: string): Promise<CheckValue> {
  if (!layer.encrypt) {
    throw new AppError('KMS_KEY_CHECK_FAILED', 'This token driver cannot encrypt, so the AES-ECB check value cannot be computed.', 'Use a token that offers CKM_AES_CMAC, or a PKCS#11 module for this device.');
  }
  return checkValueFromMac(await layer.encrypt(session, { name: 'AES_ECB' }, handle, ZERO_BLOCK), 'AES-ECB-ZERO-BLOCK');
}

/**
 * `options.aesMethod`: for AES keys, the method to use: aesCheckValueMethod() of the token at generation,
 * the recorded method when a value is recomputed (kms-rewrap). CMAC when not given.
 */
export async function computeCheckValue(
  layer: TokenLayer,
  session: SessionHandle,
  key: Pick<GeneratedKmsKey, 'keySpec' | 'handle' | 'publicKeySpkiDer'>,
  options: { aesMethod?: AesCheckValueMethod } = {},
): Promise<CheckValue> {
  const info = KEY_SPECS[key.keySpec];
  if (info.kind === 'aes' && options.aesMethod === 'AES-ECB-ZERO-BLOCK') return aesEcbCheckValue(layer, session, key.handle);
  if (info.kind === 'aes') return checkValueFromMac(await layer.sign(session, { name: 'AES_CMAC' }, key.handle, ZERO_BLOCK), 'AES-CMAC-ZERO-BLOCK');
  if (info.kind === 'hmac') return checkValueFromMac(await layer.sign(session, { name: 'SHA256_HMAC' }, key.handle, ZERO_BLOCK), 'HMAC-SHA256-ZERO-BLOCK');
  if (!key.publicKeySpkiDer) {
    throw new AppError('KMS_KEY_CHECK_FAILED', `The ${key.keySpec} key has no public key recorded, so its check value cannot be computed.`, 'Generate the key with generateKmsKey, which reads the public key back.');
  }
  return checkValueFromSpki(key.publicKeySpkiDer);
}
