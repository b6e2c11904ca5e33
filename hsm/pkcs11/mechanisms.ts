// CKM_* codes and names. pkcs11js exports most of them; the RFC 5649 and RSA-AES wrapping mechanisms added
// in PKCS#11 2.40/3.0 are missing there and are exactly the ones a KMS import needs.
import pkcs11js from 'pkcs11js';
import type { HashName, MechanismInfo } from '../types.js';

const lib = pkcs11js as unknown as Record<string, number>;

function c(name: string): number {
  const v = lib[name];
  if (typeof v !== 'number') throw new Error(`pkcs11js does not export ${name}`);
  return v;
}

export const CKM = {
  AES_KEY_GEN: c('CKM_AES_KEY_GEN'),
  GENERIC_SECRET_KEY_GEN: c('CKM_GENERIC_SECRET_KEY_GEN'),
  RSA_PKCS_KEY_PAIR_GEN: c('CKM_RSA_PKCS_KEY_PAIR_GEN'),
  EC_KEY_PAIR_GEN: c('CKM_EC_KEY_PAIR_GEN'),
  RSA_PKCS_OAEP: c('CKM_RSA_PKCS_OAEP'),
  AES_KEY_WRAP: c('CKM_AES_KEY_WRAP'),
  AES_KEY_WRAP_PAD: c('CKM_AES_KEY_WRAP_PAD'),
  /** RFC 5649 (PKCS#11 3.0). */
  AES_KEY_WRAP_KWP: 0x210b,
  /** RSA-OAEP of a fresh AES key + AES-KWP (PKCS#11 2.40). */
  RSA_AES_KEY_WRAP: 0x1054,
  ECDSA: c('CKM_ECDSA'),
  ECDSA_SHA256: c('CKM_ECDSA_SHA256'),
  ECDSA_SHA384: c('CKM_ECDSA_SHA384'),
  SHA256_RSA_PKCS: c('CKM_SHA256_RSA_PKCS'),
  AES_CMAC: c('CKM_AES_CMAC'),
  AES_ECB: c('CKM_AES_ECB'),
  SHA256_HMAC: c('CKM_SHA256_HMAC'),
  SHA_1: c('CKM_SHA_1'),
  SHA256: c('CKM_SHA256'),
  SHA384: c('CKM_SHA384'),
  SHA512: c('CKM_SHA512'),
} as const;

export const HASH_MECHANISM: Record<HashName, number> = {
  'SHA-1': CKM.SHA_1,
  'SHA-256': CKM.SHA256,
  'SHA-384': CKM.SHA384,
  'SHA-512': CKM.SHA512,
};

export const MGF1: Record<HashName, number> = {
  'SHA-1': c('CKG_MGF1_SHA1'),
  'SHA-256': c('CKG_MGF1_SHA256'),
  'SHA-384': c('CKG_MGF1_SHA384'),
  'SHA-512': c('CKG_MGF1_SHA512'),
};

/** CKZ_DATA_SPECIFIED: pkcs11js does not export it. */
export const CKZ_DATA_SPECIFIED = 1;
export const CKM_VENDOR_DEFINED = 0x80000000;

// Aliases share a value; the name the current specification uses wins.
const PREFERRED = new Set(['CKM_EC_KEY_PAIR_GEN', 'CKM_CAST128_KEY_GEN', 'CKM_CAST128_ECB', 'CKM_CAST128_CBC', 'CKM_CAST128_MAC', 'CKM_CAST128_MAC_GENERAL', 'CKM_CAST128_CBC_PAD', 'CKM_PBE_MD5_CAST128_CBC', 'CKM_PBE_SHA1_CAST128_CBC']);

const NAMES: Map<number, string> = (() => {
  const m = new Map<number, string>();
  for (const [name, value] of Object.entries(lib)) {
    if (!name.startsWith('CKM_') || typeof value !== 'number' || name === 'CKM_VENDOR_DEFINED') continue;
    if (!m.has(value) || PREFERRED.has(name)) m.set(value, name);
  }
  m.set(CKM.AES_KEY_WRAP_KWP, 'CKM_AES_KEY_WRAP_KWP');
  m.set(CKM.RSA_AES_KEY_WRAP, 'CKM_RSA_AES_KEY_WRAP');
  return m;
})();

export function mechanismName(code: number): string {
  return NAMES.get(code) ?? '0x' + (code >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

export function mechanismInfo(code: number, info: { minKeySize: number; maxKeySize: number; flags: number }): MechanismInfo {
  const f = info.flags;
  const has = (flag: string) => (f & c(flag)) !== 0;
  return {
    name: mechanismName(code),
    code,
    minKeySize: info.minKeySize,
    maxKeySize: info.maxKeySize,
    flags: {
      hw: has('CKF_HW'),
      encrypt: has('CKF_ENCRYPT'),
      decrypt: has('CKF_DECRYPT'),
      digest: has('CKF_DIGEST'),
      sign: has('CKF_SIGN'),
      verify: has('CKF_VERIFY'),
      generate: has('CKF_GENERATE'),
      generateKeyPair: has('CKF_GENERATE_KEY_PAIR'),
      wrap: has('CKF_WRAP'),
      unwrap: has('CKF_UNWRAP'),
      derive: has('CKF_DERIVE'),
    },
  };
}
