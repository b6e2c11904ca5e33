// Pure mappings between the PKCS#11-shaped token interface (hsm/types.ts) and YubiHSM objects:
// capabilities from templates, attributes from object info, ECDSA signature and EC point encodings, and
// the KMS capability answer. No device access here, so every rule is unit-testable.
import { ErrorCodes, TokenError } from '../errors.js';
import type { AttributeName, AttributeValue, EcCurve, KmsCapability, MechanismInfo, ObjectClass, PrivateKeyTemplate, SecretKeyTemplate } from '../types.js';
import { Algorithm, Capability, ObjectType, Origin, capabilities } from './constants.js';
import type { ObjectInfo } from './commands.js';
import { EC_ALGORITHMS, RSA_ALGORITHMS } from './keys.js';

// ---- the roles and fixed objects ----

/** The factory authentication key (password "password"); initToken deletes it. */
export const FACTORY_AUTH_KEY_ID = 1;
export const FACTORY_PASSWORD = 'password';
/** PKCS#11 SO: manages authentication keys, options, the label and the log. Password = SO PIN. */
export const ADMIN_AUTH_KEY_ID = 2;
/** PKCS#11 user: generates, signs, wraps. Password = user PIN. */
export const OPERATOR_AUTH_KEY_ID = 3;
export const ADMIN_AUTH_KEY_LABEL = 'keyceremony-admin';
export const OPERATOR_AUTH_KEY_LABEL = 'keyceremony-operator';
/** The token label lives in an opaque object, since the device has no token label. */
export const LABEL_OBJECT_ID = 0xfff0;
export const LABEL_OBJECT_LABEL = 'keyceremony-label';
/** Every object and authentication key we create lives in domain 1. */
export const DOMAINS = 0x0001;

/** Capabilities an object may carry (what the operator may hand out, and what a public wrap key may carry out). */
export const OBJECT_CAPABILITIES = capabilities(
  'SIGN_PKCS',
  'SIGN_PSS',
  'SIGN_ECDSA',
  'DECRYPT_PKCS',
  'DECRYPT_OAEP',
  'DERIVE_ECDH',
  'EXPORT_WRAPPED',
  'IMPORT_WRAPPED',
  'EXPORTABLE_UNDER_WRAP',
  'SIGN_HMAC',
  'VERIFY_HMAC',
  'ENCRYPT_ECB',
  'DECRYPT_ECB',
  'ENCRYPT_CBC',
  'DECRYPT_CBC',
);

export const ADMIN_CAPABILITIES = capabilities(
  'PUT_AUTHENTICATION_KEY',
  'DELETE_AUTHENTICATION_KEY',
  'CHANGE_AUTHENTICATION_KEY',
  'SET_OPTION',
  'GET_OPTION',
  'GET_LOG_ENTRIES',
  'PUT_OPAQUE',
  'GET_OPAQUE',
  'DELETE_OPAQUE',
  'GET_PSEUDO_RANDOM',
  'RESET_DEVICE',
  'DELETE_ASYMMETRIC_KEY',
  'DELETE_SYMMETRIC_KEY',
  'DELETE_HMAC_KEY',
  'DELETE_WRAP_KEY',
  'PUBLIC_WRAP_KEY_DELETE',
);

export const OPERATOR_CAPABILITIES = capabilities(
  'GENERATE_ASYMMETRIC_KEY',
  'GENERATE_SYMMETRIC_KEY',
  'GENERATE_HMAC_KEY',
  'GENERATE_WRAP_KEY',
  'SIGN_ECDSA',
  'SIGN_HMAC',
  'ENCRYPT_ECB',
  'EXPORT_WRAPPED',
  // Restoring a key from another device of the security domain: the domain wrap key goes in for one step.
  'PUT_WRAP_KEY',
  'IMPORT_WRAPPED',
  'PUBLIC_WRAP_KEY_WRITE',
  'PUBLIC_WRAP_KEY_DELETE',
  'GET_PSEUDO_RANDOM',
  'GET_LOG_ENTRIES',
  'GET_OPTION',
  'PUT_OPAQUE',
  'GET_OPAQUE',
  'DELETE_OPAQUE',
  'DELETE_ASYMMETRIC_KEY',
  'DELETE_SYMMETRIC_KEY',
  'DELETE_HMAC_KEY',
  'DELETE_WRAP_KEY',
  'CHANGE_AUTHENTICATION_KEY',
);

// ---- handles ----

/** An object handle: `<type>:<id>`, or `pub:<id>` for the public half of an asymmetric key. */
export interface ObjectAddress {
  type: number;
  id: number;
  /** The public half of an asymmetric key (the device stores one object for the pair). */
  publicHalf: boolean;
}

export function encodeHandle(a: ObjectAddress): string {
  return a.publicHalf ? `pub:${a.id}` : `${a.type}:${a.id}`;
}

export function decodeHandle(h: unknown): ObjectAddress {
  const m = typeof h === 'string' ? /^(pub|\d{1,2}):(\d{1,5})$/.exec(h) : null;
  const id = m ? Number(m[2]) : NaN;
  if (!m || !(id >= 0 && id <= 0xffff))
    throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `object handle ${JSON.stringify(h)} is not one this YubiHSM token layer issued`, 'Find the object again (findOne) and use the handle it returns.');
  return m[1] === 'pub' ? { type: ObjectType.ASYMMETRIC_KEY, id, publicHalf: true } : { type: Number(m[1]), id, publicHalf: false };
}

export function classOf(a: ObjectAddress): ObjectClass | null {
  if (a.publicHalf || a.type === ObjectType.PUBLIC_WRAP_KEY) return 'PUBLIC_KEY';
  switch (a.type) {
    case ObjectType.ASYMMETRIC_KEY:
      return 'PRIVATE_KEY';
    case ObjectType.SYMMETRIC_KEY:
    case ObjectType.HMAC_KEY:
    case ObjectType.WRAP_KEY:
      return 'SECRET_KEY';
    case ObjectType.OPAQUE:
      return 'DATA';
    default:
      return null;
  }
}

/** Object types LIST_OBJECTS is asked for, per class. Authentication keys never appear as objects. */
export const TYPES_OF_CLASS: Record<ObjectClass, number[]> = {
  DATA: [ObjectType.OPAQUE],
  SECRET_KEY: [ObjectType.SYMMETRIC_KEY, ObjectType.HMAC_KEY, ObjectType.WRAP_KEY],
  PRIVATE_KEY: [ObjectType.ASYMMETRIC_KEY],
  PUBLIC_KEY: [ObjectType.ASYMMETRIC_KEY, ObjectType.PUBLIC_WRAP_KEY],
};

// ---- ids and labels ----

/**
 * CKA_ID -> object id. The device's ids are 16 bits: a 2-byte CKA_ID is used as the id itself; any other
 * CKA_ID (empty, or longer like the 16 random bytes the audit signer uses) lets the device choose, and
 * CKA_ID then reads back as the 2-byte id it chose.
 */
export function objectIdFromCkaId(id: Uint8Array): number {
  if (id.length !== 2) return 0;
  const v = ((id[0] as number) << 8) | (id[1] as number);
  if (v === 0xffff || v === LABEL_OBJECT_ID) throw invalid(`CKA_ID ${v.toString(16)} is reserved on a YubiHSM`, 'Use another id, or an empty one to let the device choose.');
  return v;
}

export const ckaIdOf = (objectId: number) => Uint8Array.of(objectId >> 8, objectId & 0xff);

export function checkLabel(label: unknown, field = 'label'): string {
  if (typeof label !== 'string') throw invalid(`${field} must be a string`);
  if (Buffer.byteLength(label, 'utf8') > 40)
    throw invalid(
      `${field} "${label}" is ${Buffer.byteLength(label, 'utf8')} bytes; a YubiHSM 2 object label holds at most 40 bytes (UTF-8), and keyceremony refuses rather than shorten it`,
      'Choose a label of at most 40 bytes. For a ceremony (e.g. kms-import keyLabel), abort it and start again with a shorter keyLabel; nothing was generated.',
    );
  return label;
}

function invalid(message: string, remedy?: string): TokenError {
  return new TokenError(ErrorCodes.INVALID_ARGUMENT, message, remedy);
}

function unsupported(message: string, remedy: string): TokenError {
  return new TokenError('CKR_TEMPLATE_INCONSISTENT', message, remedy);
}

// ---- templates -> capabilities ----

export function secretKeyCapabilities(kind: 'AES' | 'HMAC' | 'WRAP', t: SecretKeyTemplate): bigint {
  if (!t.sensitive) throw unsupported('A YubiHSM never reveals a key value: a non-sensitive secret key cannot be made.', 'Set sensitive: true.');
  if (t.derive) throw unsupported('A YubiHSM secret key cannot derive other keys.', 'Set derive: false.');
  let caps = 0n;
  if (kind === 'AES') {
    // The device has no CMAC: this layer computes AES-CMAC with the device's AES-ECB (ENCRYPT_ECB), one
    // block at a time, chaining on the host; so sign needs ENCRYPT_ECB, and the key can then also encrypt.
    if (t.verify) throw unsupported('A YubiHSM AES key cannot verify a CMAC.', 'Set verify to false; compute the CMAC with sign and compare.');
    if (t.sign) caps |= Capability.ENCRYPT_ECB;
    if (t.encrypt) caps |= capabilities('ENCRYPT_ECB', 'ENCRYPT_CBC');
    if (t.decrypt) caps |= capabilities('DECRYPT_ECB', 'DECRYPT_CBC');
  } else if (kind === 'HMAC') {
    if (t.encrypt || t.decrypt || t.wrap || t.unwrap) throw unsupported('A YubiHSM HMAC key only signs and verifies.', 'Set encrypt, decrypt, wrap and unwrap to false.');
    if (t.sign) caps |= Capability.SIGN_HMAC;
    if (t.verify) caps |= Capability.VERIFY_HMAC;
  } else {
    if (t.encrypt || t.decrypt || t.sign || t.verify) throw unsupported('A YubiHSM wrap key (AES-CCM) only wraps and unwraps.', 'Use separate keys for wrapping and for encryption.');
    if (t.wrap) caps |= Capability.EXPORT_WRAPPED;
    if (t.unwrap) caps |= Capability.IMPORT_WRAPPED;
  }
  if (t.extractable) {
    if (kind === 'HMAC')
      throw unsupported(
        'The YubiHSM cannot export an HMAC key for a KMS: WRAP_KEY_RSA wraps only asymmetric and AES keys.',
        'Generate the HMAC key with extractable: false, or import HMAC material into the KMS another way.',
      );
    if (kind === 'WRAP')
      throw unsupported('The YubiHSM cannot export a wrap key for a KMS: WRAP_KEY_RSA wraps only asymmetric and AES keys.', 'Set extractable: false for a key that wraps.');
    caps |= Capability.EXPORTABLE_UNDER_WRAP;
  }
  return caps;
}

export function privateKeyCapabilities(type: 'RSA' | 'EC', t: PrivateKeyTemplate): bigint {
  if (!t.sensitive) throw unsupported('A YubiHSM never reveals a private key: a non-sensitive private key cannot be made.', 'Set sensitive: true.');
  if (t.unwrap) throw unsupported('A YubiHSM asymmetric key cannot unwrap keys through this token layer.', 'Set unwrap: false.');
  let caps = 0n;
  if (t.sign) caps |= type === 'EC' ? Capability.SIGN_ECDSA : capabilities('SIGN_PKCS', 'SIGN_PSS');
  if (t.decrypt) {
    if (type === 'EC') throw unsupported('An EC key cannot decrypt.', 'Set decrypt: false.');
    caps |= capabilities('DECRYPT_OAEP', 'DECRYPT_PKCS');
  }
  if (t.derive) {
    if (type === 'RSA') throw unsupported('An RSA key cannot derive.', 'Set derive: false.');
    caps |= Capability.DERIVE_ECDH;
  }
  if (t.extractable) caps |= Capability.EXPORTABLE_UNDER_WRAP;
  return caps;
}

export const EC_ALGORITHM: Record<EcCurve, number> = {
  'P-256': Algorithm.EC_P256,
  'P-384': Algorithm.EC_P384,
  'P-521': Algorithm.EC_P521,
  secp256k1: Algorithm.EC_K256,
};
export const RSA_ALGORITHM: Record<number, number> = { 2048: Algorithm.RSA_2048, 3072: Algorithm.RSA_3072, 4096: Algorithm.RSA_4096 };

/** DER OBJECT IDENTIFIERs for CKA_EC_PARAMS (namedCurve form). */
const EC_PARAMS: Record<number, string> = {
  [Algorithm.EC_P256]: '06082a8648ce3d030107',
  [Algorithm.EC_P384]: '06052b81040022',
  [Algorithm.EC_P521]: '06052b81040023',
  [Algorithm.EC_K256]: '06052b8104000a',
};

// ---- encodings ----

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  if (n < 0x100) return Uint8Array.of(0x81, n);
  return Uint8Array.of(0x82, n >> 8, n & 0xff);
}

/** CKA_EC_POINT: DER OCTET STRING around 0x04 || X || Y. */
export function ecPointAttribute(rawXY: Uint8Array): Uint8Array {
  const point = new Uint8Array([0x04, ...rawXY]);
  return new Uint8Array([0x04, ...derLength(point.length), ...point]);
}

/** The device's DER ECDSA signature -> r || s, each left-padded to the curve size, as PKCS#11 CKM_ECDSA returns. */
export function derSignatureToRaw(der: Uint8Array, size: number): Uint8Array {
  let i = 0;
  const fail = (): never => {
    throw new TokenError('YUBIHSM_BAD_RESPONSE', 'The YubiHSM returned an ECDSA signature that is not valid DER.', 'Try again; if it persists, report it with the transcript.');
  };
  const len = (): number => {
    const first = der[i++] ?? fail();
    if (first < 0x80) return first;
    let n = 0;
    for (let k = 0; k < (first & 0x7f); k++) n = (n << 8) | (der[i++] ?? fail());
    return n;
  };
  if (der[i++] !== 0x30) fail();
  const total = len();
  if (i + total !== der.length) fail();
  const out = new Uint8Array(2 * size);
  for (let part = 0; part < 2; part++) {
    if (der[i++] !== 0x02) fail();
    const n = len();
    let v = der.subarray(i, i + n);
    i += n;
    while (v.length > 0 && v[0] === 0) v = v.subarray(1);
    if (v.length > size) fail();
    out.set(v, part * size + size - v.length);
  }
  return out;
}

export interface PublicParts {
  algorithm: number;
  raw: Uint8Array;
}

const CKO = { DATA: 0, PUBLIC_KEY: 2, PRIVATE_KEY: 3, SECRET_KEY: 4 } as const;
const CKK = { RSA: 0, EC: 3, GENERIC_SECRET: 0x10, AES: 0x1f } as const;

const has = (mask: bigint, ...caps: bigint[]) => caps.some((c) => (mask & c) !== 0n);

/**
 * The attributes we can answer honestly from GET_OBJECT_INFO (and GET_PUBLIC_KEY / GET_OPAQUE when
 * given); null where the device cannot say.
 */
export function attributeOf(
  name: AttributeName,
  a: ObjectAddress,
  info: ObjectInfo,
  extra: { temporary: boolean; publicParts?: PublicParts; opaque?: Uint8Array },
): AttributeValue {
  const cls = classOf(a);
  const caps = info.capabilities;
  const isKey = cls !== 'DATA';
  const isPublic = cls === 'PUBLIC_KEY';
  const rsaBits = RSA_ALGORITHMS[info.algorithm];
  const ec = EC_ALGORITHMS[info.algorithm];
  switch (name) {
    case 'CKA_CLASS':
      return cls === null ? null : CKO[cls];
    case 'CKA_KEY_TYPE':
      if (rsaBits) return CKK.RSA;
      if (ec) return CKK.EC;
      if (a.type === ObjectType.SYMMETRIC_KEY || a.type === ObjectType.WRAP_KEY) return CKK.AES;
      if (a.type === ObjectType.HMAC_KEY) return CKK.GENERIC_SECRET;
      return null;
    case 'CKA_LABEL':
      return info.label;
    case 'CKA_ID':
      return ckaIdOf(info.id);
    case 'CKA_TOKEN':
      return !extra.temporary;
    case 'CKA_PRIVATE':
      // Every object is reachable only inside an authenticated session; a public key's value is public.
      return !isPublic;
    case 'CKA_MODIFIABLE':
      return false;
    case 'CKA_LOCAL':
      return isKey ? info.origin === Origin.GENERATED : null;
    case 'CKA_SENSITIVE':
      return isKey ? !isPublic : null;
    case 'CKA_ALWAYS_SENSITIVE':
      // An imported key was outside the device before.
      return isKey ? !isPublic && info.origin === Origin.GENERATED : null;
    case 'CKA_EXTRACTABLE':
      return isKey && !isPublic ? has(caps, Capability.EXPORTABLE_UNDER_WRAP) : isPublic ? true : null;
    case 'CKA_NEVER_EXTRACTABLE':
      // Capabilities cannot change after creation, so "not exportable now" is "never exportable".
      return isKey && !isPublic ? info.origin === Origin.GENERATED && !has(caps, Capability.EXPORTABLE_UNDER_WRAP) : isPublic ? false : null;
    case 'CKA_ENCRYPT':
      if (isPublic) return a.publicHalf ? has(caps, Capability.DECRYPT_OAEP, Capability.DECRYPT_PKCS) : false;
      return cls === 'SECRET_KEY' ? has(caps, Capability.ENCRYPT_ECB, Capability.ENCRYPT_CBC) : cls === 'PRIVATE_KEY' ? false : null;
    case 'CKA_DECRYPT':
      return isKey && !isPublic ? has(caps, Capability.DECRYPT_ECB, Capability.DECRYPT_CBC, Capability.DECRYPT_OAEP, Capability.DECRYPT_PKCS) : isPublic ? false : null;
    case 'CKA_SIGN':
      if (a.type === ObjectType.SYMMETRIC_KEY) return has(caps, Capability.ENCRYPT_ECB); // AES-CMAC through AES-ECB
      return isKey && !isPublic ? has(caps, Capability.SIGN_ECDSA, Capability.SIGN_PKCS, Capability.SIGN_PSS, Capability.SIGN_HMAC) : isPublic ? false : null;
    case 'CKA_VERIFY':
      if (isPublic) return a.publicHalf ? has(caps, Capability.SIGN_ECDSA, Capability.SIGN_PKCS, Capability.SIGN_PSS) : false;
      return cls === 'SECRET_KEY' ? has(caps, Capability.VERIFY_HMAC) : cls === 'PRIVATE_KEY' ? false : null;
    case 'CKA_WRAP':
      return a.type === ObjectType.PUBLIC_WRAP_KEY || a.type === ObjectType.WRAP_KEY ? has(caps, Capability.EXPORT_WRAPPED) : isKey ? false : null;
    case 'CKA_UNWRAP':
      return a.type === ObjectType.WRAP_KEY ? has(caps, Capability.IMPORT_WRAPPED) : isKey ? false : null;
    case 'CKA_DERIVE':
      return isKey ? has(caps, Capability.DERIVE_ECDH) : null;
    case 'CKA_VALUE':
      return cls === 'DATA' ? (extra.opaque ?? null) : null;
    case 'CKA_VALUE_LEN':
      if (cls === 'SECRET_KEY') return info.size;
      return cls === 'DATA' && extra.opaque ? extra.opaque.length : null;
    case 'CKA_MODULUS':
      return rsaBits && extra.publicParts ? extra.publicParts.raw : null;
    case 'CKA_MODULUS_BITS':
      return rsaBits ?? null;
    case 'CKA_PUBLIC_EXPONENT':
      // The device only makes and takes RSA keys with e = 65537.
      return rsaBits ? Uint8Array.of(1, 0, 1) : null;
    case 'CKA_EC_PARAMS': {
      const oid = EC_PARAMS[info.algorithm];
      return oid ? new Uint8Array(Buffer.from(oid, 'hex')) : null;
    }
    case 'CKA_EC_POINT':
      return ec && extra.publicParts ? ecPointAttribute(extra.publicParts.raw) : null;
    case 'CKA_APPLICATION':
    case 'CKA_KEY_GEN_MECHANISM':
      return null;
    default:
      throw invalid(`attribute ${String(name)} is not one this token layer can read`);
  }
}

/** Which attributes need the public key from the device. */
export const NEEDS_PUBLIC: ReadonlySet<AttributeName> = new Set(['CKA_MODULUS', 'CKA_EC_POINT']);

// ---- mechanisms and the KMS answer ----

const FLAGS = { hw: true, encrypt: false, decrypt: false, digest: false, sign: false, verify: false, generate: false, generateKeyPair: false, wrap: false, unwrap: false, derive: false };
const mech = (name: string, code: number, min: number, max: number, flags: Partial<MechanismInfo['flags']>): MechanismInfo => ({ name, code, minKeySize: min, maxKeySize: max, flags: { ...FLAGS, ...flags } });

/**
 * The PKCS#11-style mechanism list this token layer offers on a YubiHSM. CKM_RSA_AES_KEY_WRAP stands for
 * WRAP_KEY_RSA (firmware 2.4); CKM_RSA_PKCS_OAEP is deliberately absent: the device cannot wrap with
 * RSA-OAEP alone. Digests are computed on the host (hw false).
 */
export function yubiHsmMechanisms(firmware24: boolean): MechanismInfo[] {
  const list = [
    mech('CKM_RSA_PKCS_KEY_PAIR_GEN', 0x0, 2048, 4096, { generateKeyPair: true }),
    mech('CKM_EC_KEY_PAIR_GEN', 0x1040, 256, 521, { generateKeyPair: true }),
    mech('CKM_AES_KEY_GEN', 0x1080, 16, 32, { generate: true }),
    mech('CKM_GENERIC_SECRET_KEY_GEN', 0x350, 1, 64, { generate: true }),
    mech('CKM_ECDSA', 0x1041, 256, 521, { sign: true }),
    mech('CKM_ECDSA_SHA256', 0x1044, 256, 521, { sign: true }),
    mech('CKM_ECDSA_SHA384', 0x1045, 256, 521, { sign: true }),
    mech('CKM_SHA256_HMAC', 0x251, 1, 64, { sign: true }),
    // Computed with the device's AES-ECB, chaining on the host (the device has no CMAC command).
    mech('CKM_AES_CMAC', 0x108a, 16, 32, { sign: true }),
    mech('CKM_SHA_1', 0x220, 0, 0, { hw: false, digest: true }),
    mech('CKM_SHA256', 0x250, 0, 0, { hw: false, digest: true }),
    mech('CKM_SHA384', 0x260, 0, 0, { hw: false, digest: true }),
    mech('CKM_SHA512', 0x270, 0, 0, { hw: false, digest: true }),
  ];
  if (firmware24) list.push(mech('CKM_RSA_AES_KEY_WRAP', 0x1054, 2048, 4096, { wrap: true }));
  return list;
}

/** KmsCapability.method of a one-step RSA_AES_KEY_WRAP starts with this (the WrapMechanism name). */
export const ONE_STEP_RSA_AES_METHOD = 'RSA_AES_KEY_WRAP';

export const OAEP_IMPOSSIBLE =
  'The YubiHSM 2 cannot wrap key material with RSA-OAEP alone: its RSA wrapping (WRAP_KEY_RSA) always adds an AES key wrap, so RSAES_OAEP_* is not possible on this device.';

/** The KMS answer for a YubiHSM, decided from its firmware version (no probe: the device's behaviour is fixed). */
export function yubiHsmKmsCapabilities(version: { major: number; minor: number; patch: number }): KmsCapability[] {
  const v = `${version.major}.${version.minor}.${version.patch}`;
  const fw24 = version.major > 2 || (version.major === 2 && version.minor >= 4);
  const oaep = (algorithm: 'RSAES_OAEP_SHA_1' | 'RSAES_OAEP_SHA_256'): KmsCapability => ({
    algorithm,
    supported: false,
    reason: `${OAEP_IMPOSSIBLE} Ask the KMS for RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256 instead.`,
    probed: false,
  });
  const rsaAes = (algorithm: 'RSA_AES_KEY_WRAP_SHA_1' | 'RSA_AES_KEY_WRAP_SHA_256', hash: string): KmsCapability =>
    fw24
      ? {
          algorithm,
          supported: true,
          // Starts with the WrapMechanism name: the caller does it with one wrapKey({ name: 'RSA_AES_KEY_WRAP', hash }).
          method: `${ONE_STEP_RSA_AES_METHOD} (one step in the device: YubiHSM WRAP_KEY_RSA, RSA-OAEP ${hash}, MGF1-${hash}, AES-256 KWP)`,
          reason: `Firmware ${v} has WRAP_KEY_RSA, which emits exactly this format; AES and asymmetric keys only (not HMAC keys).`,
          probed: false,
        }
      : { algorithm, supported: false, reason: `Firmware ${v} predates WRAP_KEY_RSA (firmware 2.4).`, probed: false };
  return [oaep('RSAES_OAEP_SHA_1'), oaep('RSAES_OAEP_SHA_256'), rsaAes('RSA_AES_KEY_WRAP_SHA_1', 'SHA-1'), rsaAes('RSA_AES_KEY_WRAP_SHA_256', 'SHA-256')];
}

// ---- AES-CMAC (RFC 4493) over a block cipher we can only call: the device's AES-ECB ----

function dbl(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  let carry = 0;
  for (let i = 15; i >= 0; i--) {
    const v = b[i] as number;
    out[i] = ((v << 1) | carry) & 0xff;
    carry = v >> 7;
  }
  if (((b[0] as number) & 0x80) !== 0) out[15] = (out[15] as number) ^ 0x87;
  return out;
}

/**
 * AES-CMAC of `message` with a key we cannot see, given `encryptBlock` (one 16-byte AES-ECB encryption by
 * the device). The host sees E_K(0) and the CBC chain values, never the key.
 */
export async function aesCmacWith(encryptBlock: (block: Uint8Array) => Promise<Uint8Array>, message: Uint8Array): Promise<Uint8Array> {
  const l = await encryptBlock(new Uint8Array(16));
  const k1 = dbl(l);
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(message.length / 16));
  const complete = message.length > 0 && message.length % 16 === 0;
  let x: Uint8Array = new Uint8Array(16);
  for (let i = 0; i < n; i++) {
    const block = new Uint8Array(16);
    const part = message.subarray(i * 16, i * 16 + 16);
    block.set(part);
    if (i === n - 1) {
      if (!complete) block[part.length] = 0x80;
      const k = complete ? k1 : k2;
      for (let j = 0; j < 16; j++) block[j] = (block[j] as number) ^ (k[j] as number);
    }
    for (let j = 0; j < 16; j++) block[j] = (block[j] as number) ^ (x[j] as number);
    x = await encryptBlock(block);
  }
  return x;
}
