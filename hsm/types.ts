// Plain data that crosses the token interface. Nothing here holds a native handle or a Buffer, so a driver
// can later live in another process and speak this shape over a message channel.

export type Bytes = Uint8Array;

/** A PKCS#11 module the user (or the defaults) asked us to load. */
export interface ModuleConfig {
  path: string;
  /** NSS-style library parameters passed to C_Initialize (NSS softoken needs `configdir=...`). */
  initParameters?: string;
  /** Where this entry came from, for the settings screen. */
  source?: 'default' | 'user' | 'demo';
  /** Which driver: a PKCS#11 library (the default), or a YubiHSM 2 (`path` is `yubihsm:usb` or `yubihsm:http://127.0.0.1:PORT`). */
  kind?: 'pkcs11' | 'yubihsm';
}

export interface ErrorData {
  /** CKR_* name for a token error, or one of our own codes (MODULE_LOAD_FAILED, NOT_FOUND, ...). */
  code: string;
  /** A sentence a custodian understands, naming the module or slot involved. */
  message: string;
  /** What to do about it. */
  remedy?: string;
}

export interface ModuleStatus {
  /** Stable identifier used in every other call; the module path. */
  id: string;
  path: string;
  source: 'default' | 'user' | 'demo';
  loaded: boolean;
  error?: ErrorData;
  library?: {
    manufacturer: string;
    description: string;
    cryptokiVersion: string;
    libraryVersion: string;
  };
}

/** Slot ids are decimal strings: CK_SLOT_ID is an unsigned long and NSS uses values past 2^32. */
export interface SlotRef {
  moduleId: string;
  slotId: string;
}

export interface TokenInfo {
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  initialized: boolean;
  loginRequired: boolean;
  userPinInitialized: boolean;
  userPinLocked: boolean;
  userPinCountLow: boolean;
  userPinFinalTry: boolean;
  soPinLocked: boolean;
  writeProtected: boolean;
  hasRng: boolean;
  protectedAuthenticationPath: boolean;
  minPinLength: number;
  maxPinLength: number;
  /** Raw CK_TOKEN_INFO flags, for the record. */
  flags: number;
}

export interface SlotInfo extends SlotRef {
  description: string;
  manufacturer: string;
  tokenPresent: boolean;
  removable: boolean;
  hardware: boolean;
  token?: TokenInfo;
}

export interface MechanismInfo {
  /** CKM_* name, or `0x...` for a vendor mechanism we have no name for. */
  name: string;
  code: number;
  minKeySize: number;
  maxKeySize: number;
  flags: {
    hw: boolean;
    encrypt: boolean;
    decrypt: boolean;
    digest: boolean;
    sign: boolean;
    verify: boolean;
    generate: boolean;
    generateKeyPair: boolean;
    wrap: boolean;
    unwrap: boolean;
    derive: boolean;
  };
}

/** Opaque handles: meaningful only to the driver that issued them. */
export type SessionHandle = string;
export type ObjectHandle = string;

export type SessionTarget = { uri: string } | SlotRef;

export interface OpenSessionOptions {
  readWrite: boolean;
}

export interface OpenedSession {
  session: SessionHandle;
  moduleId: string;
  slotId: string;
  token: TokenInfo;
}

export type UserType = 'user' | 'so';

// ---- Templates: every security-relevant flag is explicit, never a token default. ----

export interface SecretKeyTemplate {
  label: string;
  id: Bytes;
  /** Persistent (CKA_TOKEN) or a session object. */
  token: boolean;
  private: boolean;
  sensitive: boolean;
  extractable: boolean;
  encrypt: boolean;
  decrypt: boolean;
  sign: boolean;
  verify: boolean;
  wrap: boolean;
  unwrap: boolean;
  derive: boolean;
}

export interface PublicKeyTemplate {
  label: string;
  id: Bytes;
  token: boolean;
  encrypt: boolean;
  verify: boolean;
  wrap: boolean;
}

export interface PrivateKeyTemplate {
  label: string;
  id: Bytes;
  token: boolean;
  private: boolean;
  sensitive: boolean;
  extractable: boolean;
  decrypt: boolean;
  sign: boolean;
  unwrap: boolean;
  derive: boolean;
}

export type SecretKeySpec =
  | { type: 'AES'; bits: 128 | 192 | 256 }
  | { type: 'GENERIC_SECRET'; bytes: number };

/**
 * What C_UnwrapKey creates (every flag explicit, as for generation): a secret key of a spec, or a private key
 * of a type (its size and curve come from the wrapped PKCS#8).
 */
export type UnwrapTarget =
  | { kind: 'secret'; spec: SecretKeySpec; template: SecretKeyTemplate }
  /**
   * ecParams: the curve's DER OID (CKA_EC_PARAMS). publicPoint: the EC public point (04||x||y), which NSS
   * softoken demands (as its CKA_NSS_DB) to store an EC private key: given only when a module refuses the
   * template as incomplete.
   */
  | { kind: 'private'; keyType: 'RSA' | 'EC'; template: PrivateKeyTemplate; ecParams?: Bytes; publicPoint?: Bytes };

export type EcCurve = 'P-256' | 'P-384' | 'P-521' | 'secp256k1';

export type KeyPairSpec =
  | { type: 'RSA'; bits: 2048 | 3072 | 4096 }
  | { type: 'EC'; curve: EcCurve };

export interface KeyPairHandles {
  publicKey: ObjectHandle;
  privateKey: ObjectHandle;
}

export type ObjectClass = 'DATA' | 'SECRET_KEY' | 'PUBLIC_KEY' | 'PRIVATE_KEY';

export interface ObjectQuery {
  label?: string;
  id?: Bytes;
  class?: ObjectClass;
}

/** Attributes we know how to decode. Values come back typed; `null` means the token refused to reveal it. */
export type AttributeName =
  | 'CKA_CLASS'
  | 'CKA_KEY_TYPE'
  | 'CKA_LABEL'
  | 'CKA_ID'
  | 'CKA_TOKEN'
  | 'CKA_PRIVATE'
  | 'CKA_MODIFIABLE'
  | 'CKA_LOCAL'
  | 'CKA_SENSITIVE'
  | 'CKA_ALWAYS_SENSITIVE'
  | 'CKA_EXTRACTABLE'
  | 'CKA_NEVER_EXTRACTABLE'
  | 'CKA_ENCRYPT'
  | 'CKA_DECRYPT'
  | 'CKA_SIGN'
  | 'CKA_VERIFY'
  | 'CKA_WRAP'
  | 'CKA_UNWRAP'
  | 'CKA_DERIVE'
  | 'CKA_VALUE'
  | 'CKA_VALUE_LEN'
  | 'CKA_MODULUS'
  | 'CKA_MODULUS_BITS'
  | 'CKA_PUBLIC_EXPONENT'
  | 'CKA_EC_PARAMS'
  | 'CKA_EC_POINT'
  | 'CKA_APPLICATION'
  | 'CKA_KEY_GEN_MECHANISM';

export type AttributeValue = boolean | number | string | Bytes | null;

export type HashName = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

export type WrapMechanism =
  /** RSA-OAEP with MGF1 over the same hash and an empty label: the KMS RSAES_OAEP_* formats. */
  | { name: 'RSA_PKCS_OAEP'; hash: HashName }
  /** RFC 3394. */
  | { name: 'AES_KEY_WRAP' }
  /** CKM_AES_KEY_WRAP_PAD (0x210A): RFC 5649 on SoftHSM, RFC 3394 + PKCS#7 on NSS. Judge by output length. */
  | { name: 'AES_KEY_WRAP_PAD' }
  /** CKM_AES_KEY_WRAP_KWP (0x210B): RFC 5649. */
  | { name: 'AES_KEY_WRAP_KWP' }
  /**
   * The KMS RSA_AES_KEY_WRAP_SHA_* format in one step: RSA-OAEP (hash, MGF1 over the same hash, empty label)
   * of a fresh AES-256 key || AES-KWP (RFC 5649) of the material. What YubiHSM WRAP_KEY_RSA emits; the
   * PKCS#11 driver refuses it (pkcs11js cannot pass CK_RSA_AES_KEY_WRAP_PARAMS; use the composed path).
   */
  | { name: 'RSA_AES_KEY_WRAP'; hash: HashName };

export type SignMechanism =
  /** Raw ECDSA over a digest the caller computed; the signature is r||s. */
  | { name: 'ECDSA' }
  | { name: 'ECDSA_SHA256' }
  | { name: 'ECDSA_SHA384' }
  | { name: 'SHA256_RSA_PKCS' }
  | { name: 'AES_CMAC' }
  | { name: 'SHA256_HMAC' };

export interface PublicKeyObjectTemplate {
  label: string;
  token: boolean;
  encrypt: boolean;
  wrap: boolean;
  verify: boolean;
}

export interface DataObjectTemplate {
  label: string;
  application: string;
  token: boolean;
  private: boolean;
}

/** The four AWS KMS wrapping algorithms a token may be able to perform inside itself. */
export const KMS_WRAPPING_ALGORITHMS = [
  'RSAES_OAEP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_1',
  'RSA_AES_KEY_WRAP_SHA_256',
] as const;
export type KmsWrappingAlgorithm = (typeof KMS_WRAPPING_ALGORITHMS)[number];

export interface KmsCapability {
  algorithm: KmsWrappingAlgorithm;
  supported: boolean;
  /** How the token would do it, e.g. "CKM_RSA_PKCS_OAEP (SHA-256)" or "composed: AES_KEY_WRAP_KWP + RSA-OAEP". */
  method?: string;
  /** Why not, or what was not probed. */
  reason: string;
  /** True when a parameter probe ran on the token; false when decided from the mechanism list alone. */
  probed: boolean;
}
