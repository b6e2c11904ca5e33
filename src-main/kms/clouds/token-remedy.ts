// When the token cannot do the wrap a cloud asks for, the remedy names what to change at that cloud (a
// SHA-1 import method, hash_function=SHA1), not AWS's parameters. Azure's BYOK is SHA-1 only.
import { AppError } from '../../errors.js';
import type { CloudTarget } from './types.js';

const REMEDY: Record<Exclude<CloudTarget['cloud'], 'aws'>, string> = {
  gcp: 'Create an import job with a method this token can do (RSA_OAEP_3072_SHA1_AES_256 or RSA_OAEP_4096_SHA1_AES_256 when it does only SHA-1 RSA-OAEP), or use a token that does the method\'s hash (e.g. NSS softoken for SHA-256).',
  azure: 'Azure BYOK needs RSA-OAEP with SHA-1 and an RFC 5649 key wrap inside the token: use a token that offers both (SoftHSM, NSS softoken, YubiHSM 2 firmware 2.4).',
  vault: 'Give the hash function this token can do (--hash-function SHA1 when it does only SHA-1 RSA-OAEP; Vault takes hash_function=SHA1), or use a token that does SHA-256 RSA-OAEP (e.g. NSS softoken).',
};

/** A token that pads PKCS#8 before RFC 5649: AWS's remedy offers RSAES_OAEP_*, which Azure and Vault do not take. */
const NOT_EXACT: Record<Exclude<CloudTarget['cloud'], 'aws'>, string> = {
  gcp: 'Use a token that wraps private keys exactly (for example NSS softoken, or a YubiHSM 2), a key spec this token exports exactly (P-384, symmetric, HMAC), or for EC keys an import job with a direct method (RSA_OAEP_3072_SHA256) if this token can RSA-OAEP-wrap private keys.',
  azure: 'Use a token that wraps private keys exactly (for example NSS softoken, or a YubiHSM 2), or a key spec this token exports exactly (P-384).',
  vault: 'Use a token that wraps private keys exactly (for example NSS softoken, or a YubiHSM 2), or a key spec this token exports exactly (P-384, symmetric, HMAC).',
};

export async function withCloudRemedy<T>(target: CloudTarget | undefined, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof AppError && target && target.cloud !== 'aws') {
      if (e.code === 'KMS_WRAP') throw new AppError(e.code, e.message, REMEDY[target.cloud]);
      if (e.code === 'KMS_EXPORT_NOT_EXACT') throw new AppError(e.code, e.message.replace('AWS KMS (and Python cryptography, Go) reject', 'Strict receivers (AWS KMS, Python cryptography, Go) reject'), NOT_EXACT[target.cloud]);
    }
    throw e;
  }
}
