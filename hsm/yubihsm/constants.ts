// YubiHSM 2 wire constants: command codes, device error codes, object types, algorithm ids and capability
// bits. Values as published in Yubico's protocol documentation (yubihsm-shell lib/yubihsm.h,
// python-yubihsm yubihsm/defs.py); names follow Yubico's where one exists.

export const Command = {
  ECHO: 0x01,
  CREATE_SESSION: 0x03,
  AUTHENTICATE_SESSION: 0x04,
  SESSION_MESSAGE: 0x05,
  DEVICE_INFO: 0x06,
  RESET_DEVICE: 0x08,
  GET_DEVICE_PUBLIC_KEY: 0x0a,
  CLOSE_SESSION: 0x40,
  GET_STORAGE_INFO: 0x41,
  PUT_OPAQUE: 0x42,
  GET_OPAQUE: 0x43,
  PUT_AUTHENTICATION_KEY: 0x44,
  PUT_ASYMMETRIC_KEY: 0x45,
  GENERATE_ASYMMETRIC_KEY: 0x46,
  SIGN_PKCS1: 0x47,
  LIST_OBJECTS: 0x48,
  DECRYPT_PKCS1: 0x49,
  EXPORT_WRAPPED: 0x4a,
  IMPORT_WRAPPED: 0x4b,
  PUT_WRAP_KEY: 0x4c,
  GET_LOG_ENTRIES: 0x4d,
  GET_OBJECT_INFO: 0x4e,
  SET_OPTION: 0x4f,
  GET_OPTION: 0x50,
  GET_PSEUDO_RANDOM: 0x51,
  PUT_HMAC_KEY: 0x52,
  SIGN_HMAC: 0x53,
  GET_PUBLIC_KEY: 0x54,
  SIGN_PSS: 0x55,
  SIGN_ECDSA: 0x56,
  DERIVE_ECDH: 0x57,
  DELETE_OBJECT: 0x58,
  DECRYPT_OAEP: 0x59,
  GENERATE_HMAC_KEY: 0x5a,
  GENERATE_WRAP_KEY: 0x5b,
  VERIFY_HMAC: 0x5c,
  SIGN_SSH_CERTIFICATE: 0x5d,
  PUT_TEMPLATE: 0x5e,
  GET_TEMPLATE: 0x5f,
  DECRYPT_OTP: 0x60,
  CREATE_OTP_AEAD: 0x61,
  RANDOMIZE_OTP_AEAD: 0x62,
  REWRAP_OTP_AEAD: 0x63,
  SIGN_ATTESTATION_CERTIFICATE: 0x64,
  PUT_OTP_AEAD_KEY: 0x65,
  GENERATE_OTP_AEAD_KEY: 0x66,
  SET_LOG_INDEX: 0x67,
  WRAP_DATA: 0x68,
  UNWRAP_DATA: 0x69,
  SIGN_EDDSA: 0x6a,
  BLINK_DEVICE: 0x6b,
  CHANGE_AUTHENTICATION_KEY: 0x6c,
  PUT_SYMMETRIC_KEY: 0x6d,
  GENERATE_SYMMETRIC_KEY: 0x6e,
  DECRYPT_ECB: 0x6f,
  ENCRYPT_ECB: 0x70,
  DECRYPT_CBC: 0x71,
  ENCRYPT_CBC: 0x72,
  PUT_PUBLIC_WRAP_KEY: 0x73,
  WRAP_KEY_RSA: 0x74,
  UNWRAP_KEY_RSA: 0x75,
  EXPORT_WRAPPED_RSA: 0x76,
  IMPORT_WRAPPED_RSA: 0x77,
  ERROR: 0x7f,
} as const;
export type CommandCode = (typeof Command)[keyof typeof Command];

/** The response to command C carries C | 0x80; an error response carries 0x7F and one error byte. */
export const RESPONSE_FLAG = 0x80;

export const DeviceError = {
  OK: 0x00,
  INVALID_COMMAND: 0x01,
  INVALID_DATA: 0x02,
  INVALID_SESSION: 0x03,
  AUTHENTICATION_FAILED: 0x04,
  SESSIONS_FULL: 0x05,
  SESSION_FAILED: 0x06,
  STORAGE_FAILED: 0x07,
  WRONG_LENGTH: 0x08,
  INSUFFICIENT_PERMISSIONS: 0x09,
  LOG_FULL: 0x0a,
  OBJECT_NOT_FOUND: 0x0b,
  INVALID_ID: 0x0c,
  SSH_CA_CONSTRAINT_VIOLATION: 0x0e,
  INVALID_OTP: 0x0f,
  DEMO_MODE: 0x10,
  OBJECT_EXISTS: 0x11,
  ALGORITHM_DISABLED: 0x12,
  COMMAND_UNEXECUTED: 0xff,
} as const;
export type DeviceErrorCode = (typeof DeviceError)[keyof typeof DeviceError];

export const ObjectType = {
  OPAQUE: 0x01,
  AUTHENTICATION_KEY: 0x02,
  ASYMMETRIC_KEY: 0x03,
  WRAP_KEY: 0x04,
  HMAC_KEY: 0x05,
  TEMPLATE: 0x06,
  OTP_AEAD_KEY: 0x07,
  SYMMETRIC_KEY: 0x08,
  PUBLIC_WRAP_KEY: 0x09,
} as const;
export type ObjectTypeCode = (typeof ObjectType)[keyof typeof ObjectType];

export const Algorithm = {
  RSA_PKCS1_SHA1: 1,
  RSA_PKCS1_SHA256: 2,
  RSA_PKCS1_SHA384: 3,
  RSA_PKCS1_SHA512: 4,
  RSA_PSS_SHA1: 5,
  RSA_PSS_SHA256: 6,
  RSA_PSS_SHA384: 7,
  RSA_PSS_SHA512: 8,
  RSA_2048: 9,
  RSA_3072: 10,
  RSA_4096: 11,
  EC_P256: 12,
  EC_P384: 13,
  EC_P521: 14,
  EC_K256: 15,
  EC_BP256: 16,
  EC_BP384: 17,
  EC_BP512: 18,
  HMAC_SHA1: 19,
  HMAC_SHA256: 20,
  HMAC_SHA384: 21,
  HMAC_SHA512: 22,
  EC_ECDSA_SHA1: 23,
  EC_ECDH: 24,
  RSA_OAEP_SHA1: 25,
  RSA_OAEP_SHA256: 26,
  RSA_OAEP_SHA384: 27,
  RSA_OAEP_SHA512: 28,
  AES128_CCM_WRAP: 29,
  OPAQUE_DATA: 30,
  OPAQUE_X509_CERTIFICATE: 31,
  RSA_MGF1_SHA1: 32,
  RSA_MGF1_SHA256: 33,
  RSA_MGF1_SHA384: 34,
  RSA_MGF1_SHA512: 35,
  TEMPLATE_SSH: 36,
  AES128_YUBICO_OTP: 37,
  AES128_YUBICO_AUTHENTICATION: 38,
  AES192_YUBICO_OTP: 39,
  AES256_YUBICO_OTP: 40,
  AES192_CCM_WRAP: 41,
  AES256_CCM_WRAP: 42,
  EC_ECDSA_SHA256: 43,
  EC_ECDSA_SHA384: 44,
  EC_ECDSA_SHA512: 45,
  EC_ED25519: 46,
  EC_P224: 47,
  RSA_PKCS1_DECRYPT: 48,
  EC_P256_YUBICO_AUTHENTICATION: 49,
  AES128: 50,
  AES192: 51,
  AES256: 52,
  AES_ECB: 53,
  AES_CBC: 54,
  AES_KWP: 55,
} as const;
export type AlgorithmCode = (typeof Algorithm)[keyof typeof Algorithm];

export const ListFilter = {
  ID: 0x01,
  TYPE: 0x02,
  DOMAINS: 0x03,
  CAPABILITIES: 0x04,
  ALGORITHM: 0x05,
  LABEL: 0x06,
} as const;

export const Origin = {
  GENERATED: 0x01,
  IMPORTED: 0x02,
  IMPORTED_WRAPPED: 0x10,
} as const;

export const DeviceOption = {
  FORCE_AUDIT: 0x01,
  COMMAND_AUDIT: 0x03,
  ALGORITHM_TOGGLE: 0x04,
  FIPS_MODE: 0x05,
} as const;

export const AuditSetting = { OFF: 0x00, ON: 0x01, FIXED: 0x02 } as const;

/** Capability bit numbers; a capability set is a 64-bit big-endian mask (bigint here). */
const CAPABILITY_BITS = {
  GET_OPAQUE: 0x00,
  PUT_OPAQUE: 0x01,
  PUT_AUTHENTICATION_KEY: 0x02,
  PUT_ASYMMETRIC: 0x03,
  GENERATE_ASYMMETRIC_KEY: 0x04,
  SIGN_PKCS: 0x05,
  SIGN_PSS: 0x06,
  SIGN_ECDSA: 0x07,
  SIGN_EDDSA: 0x08,
  DECRYPT_PKCS: 0x09,
  DECRYPT_OAEP: 0x0a,
  DERIVE_ECDH: 0x0b,
  EXPORT_WRAPPED: 0x0c,
  IMPORT_WRAPPED: 0x0d,
  PUT_WRAP_KEY: 0x0e,
  GENERATE_WRAP_KEY: 0x0f,
  EXPORTABLE_UNDER_WRAP: 0x10,
  SET_OPTION: 0x11,
  GET_OPTION: 0x12,
  GET_PSEUDO_RANDOM: 0x13,
  PUT_HMAC_KEY: 0x14,
  GENERATE_HMAC_KEY: 0x15,
  SIGN_HMAC: 0x16,
  VERIFY_HMAC: 0x17,
  GET_LOG_ENTRIES: 0x18,
  SIGN_SSH_CERTIFICATE: 0x19,
  GET_TEMPLATE: 0x1a,
  PUT_TEMPLATE: 0x1b,
  RESET_DEVICE: 0x1c,
  DECRYPT_OTP: 0x1d,
  CREATE_OTP_AEAD: 0x1e,
  RANDOMIZE_OTP_AEAD: 0x1f,
  REWRAP_FROM_OTP_AEAD_KEY: 0x20,
  REWRAP_TO_OTP_AEAD_KEY: 0x21,
  SIGN_ATTESTATION_CERTIFICATE: 0x22,
  PUT_OTP_AEAD_KEY: 0x23,
  GENERATE_OTP_AEAD_KEY: 0x24,
  WRAP_DATA: 0x25,
  UNWRAP_DATA: 0x26,
  DELETE_OPAQUE: 0x27,
  DELETE_AUTHENTICATION_KEY: 0x28,
  DELETE_ASYMMETRIC_KEY: 0x29,
  DELETE_WRAP_KEY: 0x2a,
  DELETE_HMAC_KEY: 0x2b,
  DELETE_TEMPLATE: 0x2c,
  DELETE_OTP_AEAD_KEY: 0x2d,
  CHANGE_AUTHENTICATION_KEY: 0x2e,
  PUT_SYMMETRIC_KEY: 0x2f,
  GENERATE_SYMMETRIC_KEY: 0x30,
  DELETE_SYMMETRIC_KEY: 0x31,
  DECRYPT_ECB: 0x32,
  ENCRYPT_ECB: 0x33,
  DECRYPT_CBC: 0x34,
  ENCRYPT_CBC: 0x35,
  PUBLIC_WRAP_KEY_WRITE: 0x36,
  PUBLIC_WRAP_KEY_DELETE: 0x37,
} as const;
export type CapabilityName = keyof typeof CAPABILITY_BITS;

export const Capability = Object.fromEntries(
  Object.entries(CAPABILITY_BITS).map(([name, bit]) => [name, 1n << BigInt(bit)]),
) as { readonly [K in CapabilityName]: bigint };

/** Every capability the firmware defines (bits 0x00..0x37): what the factory authentication key holds. */
export const ALL_CAPABILITIES: bigint = Object.values(Capability).reduce((a, b) => a | b, 0n);

export function capabilities(...names: CapabilityName[]): bigint {
  return names.reduce((mask, n) => mask | Capability[n], 0n);
}

export function capabilityNames(mask: bigint): CapabilityName[] {
  return (Object.keys(CAPABILITY_BITS) as CapabilityName[]).filter((n) => (mask & Capability[n]) !== 0n);
}

export const ALL_DOMAINS = 0xffff;
export const LABEL_LENGTH = 40;
export const MAX_SESSIONS = 16;
export const LOG_STORE_SIZE = 62;
/** The largest whole message (header included) firmware 2.4 accepts; 2048 before 2.4. */
export const MAX_MESSAGE_2_4 = 3136;
export const MAX_MESSAGE_LEGACY = 2048;
export const MAC_LENGTH = 8;
export const CHALLENGE_LENGTH = 8;

export const USB_VENDOR_ID = 0x1050;
export const USB_PRODUCT_ID = 0x0030;

const byValue = <T extends Record<string, number>>(table: T) =>
  new Map<number, keyof T & string>(Object.entries(table).map(([k, v]) => [v, k as keyof T & string]));
const commandNames = byValue(Command);
const errorNames = byValue(DeviceError);
const algorithmNames = byValue(Algorithm);
const typeNames = byValue(ObjectType);

export const commandName = (c: number) => commandNames.get(c) ?? `0x${c.toString(16).padStart(2, '0')}`;
export const deviceErrorName = (c: number) => errorNames.get(c) ?? `0x${c.toString(16).padStart(2, '0')}`;
export const algorithmName = (c: number) => algorithmNames.get(c) ?? `algorithm ${c}`;
export const objectTypeName = (c: number) => typeNames.get(c) ?? `type ${c}`;
