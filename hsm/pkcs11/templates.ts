// Our explicit templates as pkcs11js attribute arrays, and attribute values back as typed data. Every
// security-relevant attribute is written out, so nothing depends on a token's defaults (which differ:
// SoftHSM makes secret keys private by default, NSS does not).
import pkcs11js from 'pkcs11js';
import type { Attribute, Template } from 'pkcs11js';
import { ErrorCodes, TokenError } from '../errors.js';
import type {
  AttributeName,
  AttributeValue,
  Bytes,
  DataObjectTemplate,
  EcCurve,
  KeyPairSpec,
  ObjectClass,
  ObjectQuery,
  PrivateKeyTemplate,
  PublicKeyObjectTemplate,
  PublicKeyTemplate,
  SecretKeySpec,
  SecretKeyTemplate,
  UnwrapTarget,
} from '../types.js';
import { CKM } from './mechanisms.js';

const {
  CKA_CLASS,
  CKA_KEY_TYPE,
  CKA_LABEL,
  CKA_ID,
  CKA_TOKEN,
  CKA_PRIVATE,
  CKA_MODIFIABLE,
  CKA_LOCAL,
  CKA_SENSITIVE,
  CKA_ALWAYS_SENSITIVE,
  CKA_EXTRACTABLE,
  CKA_NEVER_EXTRACTABLE,
  CKA_ENCRYPT,
  CKA_DECRYPT,
  CKA_SIGN,
  CKA_VERIFY,
  CKA_WRAP,
  CKA_UNWRAP,
  CKA_DERIVE,
  CKA_VALUE,
  CKA_VALUE_LEN,
  CKA_MODULUS,
  CKA_MODULUS_BITS,
  CKA_PUBLIC_EXPONENT,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_APPLICATION,
  CKA_KEY_GEN_MECHANISM,
  CKO_DATA,
  CKO_SECRET_KEY,
  CKO_PUBLIC_KEY,
  CKO_PRIVATE_KEY,
  CKK_AES,
  CKK_GENERIC_SECRET,
  CKK_RSA,
  CKK_EC,
} = pkcs11js;

type Kind = 'bool' | 'ulong' | 'utf8' | 'bytes';

export const ATTRIBUTES: Record<AttributeName, { type: number; kind: Kind }> = {
  CKA_CLASS: { type: CKA_CLASS, kind: 'ulong' },
  CKA_KEY_TYPE: { type: CKA_KEY_TYPE, kind: 'ulong' },
  CKA_LABEL: { type: CKA_LABEL, kind: 'utf8' },
  CKA_ID: { type: CKA_ID, kind: 'bytes' },
  CKA_TOKEN: { type: CKA_TOKEN, kind: 'bool' },
  CKA_PRIVATE: { type: CKA_PRIVATE, kind: 'bool' },
  CKA_MODIFIABLE: { type: CKA_MODIFIABLE, kind: 'bool' },
  CKA_LOCAL: { type: CKA_LOCAL, kind: 'bool' },
  CKA_SENSITIVE: { type: CKA_SENSITIVE, kind: 'bool' },
  CKA_ALWAYS_SENSITIVE: { type: CKA_ALWAYS_SENSITIVE, kind: 'bool' },
  CKA_EXTRACTABLE: { type: CKA_EXTRACTABLE, kind: 'bool' },
  CKA_NEVER_EXTRACTABLE: { type: CKA_NEVER_EXTRACTABLE, kind: 'bool' },
  CKA_ENCRYPT: { type: CKA_ENCRYPT, kind: 'bool' },
  CKA_DECRYPT: { type: CKA_DECRYPT, kind: 'bool' },
  CKA_SIGN: { type: CKA_SIGN, kind: 'bool' },
  CKA_VERIFY: { type: CKA_VERIFY, kind: 'bool' },
  CKA_WRAP: { type: CKA_WRAP, kind: 'bool' },
  CKA_UNWRAP: { type: CKA_UNWRAP, kind: 'bool' },
  CKA_DERIVE: { type: CKA_DERIVE, kind: 'bool' },
  CKA_VALUE: { type: CKA_VALUE, kind: 'bytes' },
  CKA_VALUE_LEN: { type: CKA_VALUE_LEN, kind: 'ulong' },
  CKA_MODULUS: { type: CKA_MODULUS, kind: 'bytes' },
  CKA_MODULUS_BITS: { type: CKA_MODULUS_BITS, kind: 'ulong' },
  CKA_PUBLIC_EXPONENT: { type: CKA_PUBLIC_EXPONENT, kind: 'bytes' },
  CKA_EC_PARAMS: { type: CKA_EC_PARAMS, kind: 'bytes' },
  CKA_EC_POINT: { type: CKA_EC_POINT, kind: 'bytes' },
  CKA_APPLICATION: { type: CKA_APPLICATION, kind: 'utf8' },
  CKA_KEY_GEN_MECHANISM: { type: CKA_KEY_GEN_MECHANISM, kind: 'ulong' },
};

export const OBJECT_CLASS: Record<ObjectClass, number> = {
  DATA: CKO_DATA,
  SECRET_KEY: CKO_SECRET_KEY,
  PUBLIC_KEY: CKO_PUBLIC_KEY,
  PRIVATE_KEY: CKO_PRIVATE_KEY,
};

export const KEY_TYPE = { AES: CKK_AES, GENERIC_SECRET: CKK_GENERIC_SECRET, RSA: CKK_RSA, EC: CKK_EC } as const;

/** DER-encoded OBJECT IDENTIFIERs for CKA_EC_PARAMS (namedCurve form). */
export const EC_CURVE_OID: Record<EcCurve, Buffer> = {
  'P-256': Buffer.from('06082a8648ce3d030107', 'hex'), // 1.2.840.10045.3.1.7
  'P-384': Buffer.from('06052b81040022', 'hex'), // 1.3.132.0.34
  'P-521': Buffer.from('06052b81040023', 'hex'), // 1.3.132.0.35
  secp256k1: Buffer.from('06052b8104000a', 'hex'), // 1.3.132.0.10
};

/** Field size in bytes, for padding JWK coordinates into an uncompressed point. */
export const EC_FIELD_BYTES: Record<EcCurve, number> = { 'P-256': 32, 'P-384': 48, 'P-521': 66, secp256k1: 32 };

export const RSA_F4 = Buffer.from([0x01, 0x00, 0x01]);

function bool(type: number, value: boolean): Attribute {
  return { type, value };
}

function text(type: number, value: string): Attribute {
  return { type, value: Buffer.from(value, 'utf8') };
}

function bytes(type: number, value: Bytes): Attribute {
  return { type, value: Buffer.from(value.buffer, value.byteOffset, value.byteLength) };
}

export function secretKeyTemplate(spec: SecretKeySpec, t: SecretKeyTemplate): { mechanism: number; template: Template } {
  let valueLen: number;
  let keyType: number;
  let mechanism: number;
  if (spec.type === 'AES') {
    if (![128, 192, 256].includes(spec.bits)) {
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `spec.bits ${String(spec.bits)} is not an AES key size`, 'Use 128, 192 or 256.');
    }
    valueLen = spec.bits / 8;
    keyType = CKK_AES;
    mechanism = CKM.AES_KEY_GEN;
  } else {
    if (!Number.isInteger(spec.bytes) || spec.bytes < 1) {
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `spec.bytes ${String(spec.bytes)} must be a positive whole number of bytes`);
    }
    valueLen = spec.bytes;
    keyType = CKK_GENERIC_SECRET;
    mechanism = CKM.GENERIC_SECRET_KEY_GEN;
  }
  return {
    mechanism,
    template: [
      { type: CKA_CLASS, value: CKO_SECRET_KEY },
      { type: CKA_KEY_TYPE, value: keyType },
      { type: CKA_VALUE_LEN, value: valueLen },
      text(CKA_LABEL, t.label),
      bytes(CKA_ID, t.id),
      bool(CKA_TOKEN, t.token),
      bool(CKA_PRIVATE, t.private),
      bool(CKA_SENSITIVE, t.sensitive),
      bool(CKA_EXTRACTABLE, t.extractable),
      bool(CKA_ENCRYPT, t.encrypt),
      bool(CKA_DECRYPT, t.decrypt),
      bool(CKA_SIGN, t.sign),
      bool(CKA_VERIFY, t.verify),
      bool(CKA_WRAP, t.wrap),
      bool(CKA_UNWRAP, t.unwrap),
      bool(CKA_DERIVE, t.derive),
    ],
  };
}

export function keyPairTemplates(
  spec: KeyPairSpec,
  pub: PublicKeyTemplate,
  priv: PrivateKeyTemplate,
): { mechanism: number; publicTemplate: Template; privateTemplate: Template } {
  let keyType: number;
  let mechanism: number;
  let specific: Template;
  if (spec.type === 'RSA') {
    if (![2048, 3072, 4096].includes(spec.bits)) {
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `spec.bits ${String(spec.bits)} is not a supported RSA size`, 'Use 2048, 3072 or 4096.');
    }
    keyType = CKK_RSA;
    mechanism = CKM.RSA_PKCS_KEY_PAIR_GEN;
    specific = [
      { type: CKA_MODULUS_BITS, value: spec.bits },
      { type: CKA_PUBLIC_EXPONENT, value: RSA_F4 },
    ];
  } else {
    const oid = EC_CURVE_OID[spec.curve];
    if (!oid) {
      throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `spec.curve "${String(spec.curve)}" is not supported`, `Use one of ${Object.keys(EC_CURVE_OID).join(', ')}.`);
    }
    keyType = CKK_EC;
    mechanism = CKM.EC_KEY_PAIR_GEN;
    specific = [{ type: CKA_EC_PARAMS, value: oid }];
  }
  return {
    mechanism,
    publicTemplate: [
      { type: CKA_CLASS, value: CKO_PUBLIC_KEY },
      { type: CKA_KEY_TYPE, value: keyType },
      text(CKA_LABEL, pub.label),
      bytes(CKA_ID, pub.id),
      bool(CKA_TOKEN, pub.token),
      // Public keys are not secret; a private public key could not be read before login.
      bool(CKA_PRIVATE, false),
      bool(CKA_ENCRYPT, pub.encrypt),
      bool(CKA_VERIFY, pub.verify),
      bool(CKA_WRAP, pub.wrap),
      ...specific,
    ],
    privateTemplate: [
      { type: CKA_CLASS, value: CKO_PRIVATE_KEY },
      { type: CKA_KEY_TYPE, value: keyType },
      text(CKA_LABEL, priv.label),
      bytes(CKA_ID, priv.id),
      bool(CKA_TOKEN, priv.token),
      bool(CKA_PRIVATE, priv.private),
      bool(CKA_SENSITIVE, priv.sensitive),
      bool(CKA_EXTRACTABLE, priv.extractable),
      bool(CKA_DECRYPT, priv.decrypt),
      bool(CKA_SIGN, priv.sign),
      bool(CKA_UNWRAP, priv.unwrap),
      bool(CKA_DERIVE, priv.derive),
    ],
  };
}

function commonPublic(t: PublicKeyObjectTemplate, keyType: number): Template {
  return [
    { type: CKA_CLASS, value: CKO_PUBLIC_KEY },
    { type: CKA_KEY_TYPE, value: keyType },
    text(CKA_LABEL, t.label),
    bool(CKA_TOKEN, t.token),
    bool(CKA_PRIVATE, false),
    bool(CKA_ENCRYPT, t.encrypt),
    bool(CKA_WRAP, t.wrap),
    bool(CKA_VERIFY, t.verify),
  ];
}

export function rsaPublicKeyTemplate(t: PublicKeyObjectTemplate, modulus: Bytes, exponent: Bytes): Template {
  return [...commonPublic(t, CKK_RSA), bytes(CKA_MODULUS, modulus), bytes(CKA_PUBLIC_EXPONENT, exponent)];
}

/** `point` is the DER OCTET STRING around the uncompressed point, as CKA_EC_POINT requires. */
export function ecPublicKeyTemplate(t: PublicKeyObjectTemplate, curve: EcCurve, point: Bytes): Template {
  return [...commonPublic(t, CKK_EC), { type: CKA_EC_PARAMS, value: EC_CURVE_OID[curve] }, bytes(CKA_EC_POINT, point)];
}

export function dataObjectTemplate(t: DataObjectTemplate, value: Bytes): Template {
  return [
    { type: CKA_CLASS, value: CKO_DATA },
    text(CKA_LABEL, t.label),
    text(CKA_APPLICATION, t.application),
    bool(CKA_TOKEN, t.token),
    bool(CKA_PRIVATE, t.private),
    bool(CKA_MODIFIABLE, true),
    bytes(CKA_VALUE, value),
  ];
}

/**
 * For tokens that keep no CKO_DATA objects (NSS softoken: session ones only) and force every token key
 * sensitive: a generated generic secret key, usable for nothing, whose CKA_ID carries the value a data object
 * would (public, like the chain head), under the same label and CKA_TOKEN/CKA_PRIVATE. CKA_ID stays
 * readable and settable on every key.
 */
export function dataHolderKeyTemplate(t: Pick<DataObjectTemplate, 'label' | 'token' | 'private'>, value: Bytes): { mechanism: number; template: Template } {
  return {
    mechanism: CKM.GENERIC_SECRET_KEY_GEN,
    template: [
      { type: CKA_CLASS, value: CKO_SECRET_KEY },
      { type: CKA_KEY_TYPE, value: CKK_GENERIC_SECRET },
      { type: CKA_VALUE_LEN, value: 32 },
      text(CKA_LABEL, t.label),
      bytes(CKA_ID, value),
      bool(CKA_TOKEN, t.token),
      bool(CKA_PRIVATE, t.private),
      bool(CKA_EXTRACTABLE, false),
      bool(CKA_SIGN, false),
      bool(CKA_VERIFY, false),
      bool(CKA_ENCRYPT, false),
      bool(CKA_DECRYPT, false),
      bool(CKA_WRAP, false),
      bool(CKA_UNWRAP, false),
      bool(CKA_DERIVE, false),
    ],
  };
}

export function queryTemplate(q: ObjectQuery): Template {
  const out: Template = [];
  if (q.class !== undefined) {
    const cls = OBJECT_CLASS[q.class];
    if (cls === undefined) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `query.class "${String(q.class)}" is not one of ${Object.keys(OBJECT_CLASS).join(', ')}`);
    out.push({ type: CKA_CLASS, value: cls });
  }
  if (q.label !== undefined) out.push(text(CKA_LABEL, q.label));
  if (q.id !== undefined) out.push(bytes(CKA_ID, q.id));
  return out;
}

/** DER definite length. */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const octets: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) octets.unshift(v & 0xff);
  return Buffer.from([0x80 | octets.length, ...octets]);
}

export function derOctetString(content: Bytes): Buffer {
  return Buffer.concat([Buffer.from([0x04]), derLength(content.length), content]);
}

export { unwrapEcPoint } from '../ec-point.js';

function readUlong(buf: Buffer): number {
  if (buf.length === 8) {
    const v = buf.readBigUInt64LE(0);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : Number.NaN;
  }
  if (buf.length === 4) return buf.readUInt32LE(0);
  throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `the module returned a ${buf.length}-byte CK_ULONG`);
}

export function decodeAttribute(name: AttributeName, value: Buffer): AttributeValue {
  const kind = ATTRIBUTES[name].kind;
  switch (kind) {
    case 'bool':
      return value.length > 0 && value[0] !== 0;
    case 'ulong':
      return readUlong(value);
    case 'utf8':
      return value.toString('utf8');
    case 'bytes':
      return new Uint8Array(value);
  }
}

/** A secret key object from its value (C_CreateObject): the generation template with CKA_VALUE instead of CKA_VALUE_LEN. */
export function secretKeyValueTemplate(spec: SecretKeySpec, value: Uint8Array, t: SecretKeyTemplate): Template {
  const { template } = secretKeyTemplate(spec, t);
  const want = template.find((a) => a.type === CKA_VALUE_LEN)?.value as number;
  if (value.length !== want) throw new TokenError(ErrorCodes.INVALID_ARGUMENT, `value: ${value.length} bytes, but the key spec is ${want}`, 'Pass the key value of the spec given.');
  // A copy the caller does not hold: the driver clears it once the module has the key.
  return [...template.filter((a) => a.type !== CKA_VALUE_LEN), { type: CKA_VALUE, value: Buffer.from(Uint8Array.from(value)) }];
}

/**
 * The template of the object C_UnwrapKey creates. CKA_VALUE_LEN is left out for secret keys: PKCS#11 says it
 * must not be given to C_UnwrapKey (SoftHSM 2.6.1 refuses it as read-only, and then reports 0 for the new
 * object). The caller proves the object by wrapping it back out to the very bytes it unwrapped.
 */
export function unwrapTemplate(target: UnwrapTarget): Template {
  if (target.kind === 'secret') return secretKeyTemplate(target.spec, target.template).template.filter((a) => a.type !== CKA_VALUE_LEN);
  const priv = target.template;
  return [
    { type: CKA_CLASS, value: CKO_PRIVATE_KEY },
    { type: CKA_KEY_TYPE, value: target.keyType === 'RSA' ? CKK_RSA : CKK_EC },
    text(CKA_LABEL, priv.label),
    bytes(CKA_ID, priv.id),
    bool(CKA_TOKEN, priv.token),
    bool(CKA_PRIVATE, priv.private),
    bool(CKA_SENSITIVE, priv.sensitive),
    bool(CKA_EXTRACTABLE, priv.extractable),
    bool(CKA_DECRYPT, priv.decrypt),
    bool(CKA_SIGN, priv.sign),
    bool(CKA_UNWRAP, priv.unwrap),
    bool(CKA_DERIVE, priv.derive),
    ...(target.ecParams ? [bytes(CKA_EC_PARAMS, target.ecParams)] : []),
  ];
}

/** NSS softoken's vendor attribute CKA_NSS_DB (CKA_NETSCAPE_DB): the public value it keeps with a private key. */
export const CKA_NSS_DB = 0xd5a0db00;
