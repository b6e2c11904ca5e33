// What each KMS key spec is inside a PKCS#11 token, and the mechanism codes that generate and check it.
// Kept free of pkcs11js (standard CKM_/OID values written out) so this module, and everything in kms/,
// loads without the native driver: a YubiHSM-backed TokenLayer uses it too.
import type { KmsKeySpec } from './types.js';

export const CKM_CODES = {
  RSA_PKCS_KEY_PAIR_GEN: 0x0,
  SHA256_HMAC: 0x251,
  GENERIC_SECRET_KEY_GEN: 0x350,
  EC_KEY_PAIR_GEN: 0x1040,
  AES_KEY_GEN: 0x1080,
  AES_ECB: 0x1081,
  AES_CMAC: 0x108a,
} as const;

export type KeySpecInfo =
  | { kind: 'aes'; bytes: 32 }
  | { kind: 'hmac'; bytes: 28 | 32 | 48 | 64 }
  | { kind: 'rsa'; bits: 2048 | 3072 | 4096 }
  | { kind: 'ec'; curve: 'P-256' | 'P-384' | 'P-521' | 'secp256k1'; fieldBits: number; oidDer: string };

export const KEY_SPECS: Record<KmsKeySpec, KeySpecInfo> = {
  SYMMETRIC_DEFAULT: { kind: 'aes', bytes: 32 },
  HMAC_224: { kind: 'hmac', bytes: 28 },
  HMAC_256: { kind: 'hmac', bytes: 32 },
  HMAC_384: { kind: 'hmac', bytes: 48 },
  HMAC_512: { kind: 'hmac', bytes: 64 },
  RSA_2048: { kind: 'rsa', bits: 2048 },
  RSA_3072: { kind: 'rsa', bits: 3072 },
  RSA_4096: { kind: 'rsa', bits: 4096 },
  // DER OBJECT IDENTIFIERs as CKA_EC_PARAMS carries them (namedCurve).
  ECC_NIST_P256: { kind: 'ec', curve: 'P-256', fieldBits: 256, oidDer: '06082a8648ce3d030107' },
  ECC_NIST_P384: { kind: 'ec', curve: 'P-384', fieldBits: 384, oidDer: '06052b81040022' },
  ECC_NIST_P521: { kind: 'ec', curve: 'P-521', fieldBits: 521, oidDer: '06052b81040023' },
  ECC_SECG_P256K1: { kind: 'ec', curve: 'secp256k1', fieldBits: 256, oidDer: '06052b8104000a' },
};

export const EC_FIELD_BYTES = { 'P-256': 32, 'P-384': 48, 'P-521': 66, secp256k1: 32 } as const;
