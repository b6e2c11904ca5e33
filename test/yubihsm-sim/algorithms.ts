// Algorithm tables the simulated device's command handlers share.
import { Algorithm } from '../../hsm/yubihsm/constants.js';

export const AES_LENGTH: Record<number, number> = { [Algorithm.AES128]: 16, [Algorithm.AES192]: 24, [Algorithm.AES256]: 32 };
export const CCM_WRAP_LENGTH: Record<number, number> = { [Algorithm.AES128_CCM_WRAP]: 16, [Algorithm.AES192_CCM_WRAP]: 24, [Algorithm.AES256_CCM_WRAP]: 32 };
export const HMAC: Record<number, { hash: string; block: number }> = {
  [Algorithm.HMAC_SHA1]: { hash: 'sha1', block: 64 },
  [Algorithm.HMAC_SHA256]: { hash: 'sha256', block: 64 },
  [Algorithm.HMAC_SHA384]: { hash: 'sha384', block: 128 },
  [Algorithm.HMAC_SHA512]: { hash: 'sha512', block: 128 },
};
export const OAEP_HASH: Record<number, string> = {
  [Algorithm.RSA_OAEP_SHA1]: 'sha1',
  [Algorithm.RSA_OAEP_SHA256]: 'sha256',
  [Algorithm.RSA_OAEP_SHA384]: 'sha384',
  [Algorithm.RSA_OAEP_SHA512]: 'sha512',
};
export const MGF_HASH: Record<number, string> = {
  [Algorithm.RSA_MGF1_SHA1]: 'sha1',
  [Algorithm.RSA_MGF1_SHA256]: 'sha256',
  [Algorithm.RSA_MGF1_SHA384]: 'sha384',
  [Algorithm.RSA_MGF1_SHA512]: 'sha512',
};
