// The second wrap a PKCS#11 token writes into a backup, so a YubiHSM 2 of the domain can restore it: the
// YubiHSM cannot unwrap RFC 5649 under an AES key, but (firmware 2.4, UNWRAP_KEY_RSA) it imports a key
// wrapped as CKM_RSA_AES_KEY_WRAP (RSA-OAEP SHA-1 of a fresh AES-256 key || RFC 5649 of the material) under
// an RSA wrap key it holds. The token does that wrap inside itself, as kms-import does (kms/wrap.ts), under
// the domain RSA wrap key's public half; the YubiHSM holds the private half for its one import.
// Only AES-256 keys (SYMMETRIC_DEFAULT): UNWRAP_KEY_RSA makes symmetric (AES) or asymmetric objects, never
// an HMAC key object, and SoftHSM pads most private keys' PKCS#8 (FACTS.md), which UNWRAP_KEY_RSA refuses.
import { checkTokenCanWrap } from '../kms/index.js';
import type { KmsKeySpec } from '../kms/types.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { KmsCapability, SlotRef } from '../../hsm/types.js';

/** The OAEP hash both sides use: SoftHSM 2.6 does RSA-OAEP only with SHA-1 (FACTS.md). */
export const RSA_WRAP_ALGORITHM = 'RSA_AES_KEY_WRAP_SHA_1' as const;

/** Key specs a backup also wraps for a YubiHSM 2, and why others are not. */
export function rsaWrapRefusal(keySpec: KmsKeySpec): string | undefined {
  if (keySpec === 'SYMMETRIC_DEFAULT') return undefined;
  if (keySpec.startsWith('HMAC_')) return 'a YubiHSM 2 imports RSA-wrapped keys only as AES or asymmetric objects, not as HMAC keys';
  return 'only AES-256 keys are wrapped for a YubiHSM 2 (a PKCS#11 token may pad a private key\'s PKCS#8, which the YubiHSM refuses)';
}

/**
 * Whether this PKCS#11 token can also wrap `keySpec` for a YubiHSM 2: the capability the KMS probe proves on
 * throw-away objects (RSA-OAEP SHA-1 and an RFC 5649 mechanism whose output was checked), or why not.
 */
export async function rsaWrapCapability(layer: TokenLayer, slot: SlotRef, keySpec: KmsKeySpec): Promise<{ capability: KmsCapability } | { why: string }> {
  const refused = rsaWrapRefusal(keySpec);
  if (refused) return { why: refused };
  try {
    return { capability: await checkTokenCanWrap(layer, slot, RSA_WRAP_ALGORITHM, keySpec) };
  } catch (e) {
    return { why: e instanceof Error ? e.message : String(e) };
  }
}
