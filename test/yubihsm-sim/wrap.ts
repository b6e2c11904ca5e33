// The device's wrapped-object format (EXPORT_WRAPPED / IMPORT_WRAPPED) and its AES-CCM envelope.
//
// Facts followed (read, not copied):
// - Yubico's command reference (Export Wrapped, Import Wrapped, Wrap Data): the answer is a 13-byte nonce
//   followed by the AES-CCM ciphertext and its 16-byte MAC, under the wrap key, no associated data.
// - yubihsm-shell's yubihsm-wrap tool (yhwrap/main.c, lib util.c read_private_key with internal_repr), which
//   builds blobs IMPORT_WRAPPED accepts: a 59-byte header (wrap key algorithm, capabilities u64, id u16,
//   body length u16, domains u16, type, algorithm, sequence, origin, 40-byte label) then the body:
//   RSA p || q || dp || dq || qinv (half the modulus each) || n; EC d || x || y; HMAC (key ^ 0x36) || (key ^
//   0x5c) over one hash block; authentication and wrap keys their delegated capabilities (u64) then the key
//   (K-ENC || K-MAC for authentication keys); opaque data and AES keys as they are.
// python-yubihsm's test_wrap.py decrypts such a blob the same way (nonce = wrapped[:13]).
import { createCipheriv, createDecipheriv, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { concat, packLabel, Reader, u16, u64, u8, unpackLabel } from '../../hsm/yubihsm/bytes.js';
import { Algorithm, DeviceError, ObjectType } from '../../hsm/yubihsm/constants.js';
import { RSA_ALGORITHMS } from '../../hsm/yubihsm/keys.js';
import { ecPoint, ecScalar, SIM_EC } from './ec-curves.js';
import type { SimObject } from './device.js';
import { fail } from './failure.js';
import { importPrivate, toBig } from './key-material.js';

export const CCM_NONCE_LENGTH = 13;
export const CCM_TAG_LENGTH = 16;
export const WRAP_HEADER_LENGTH = 59;

type CcmName = 'aes-128-ccm' | 'aes-192-ccm' | 'aes-256-ccm';
const HMAC_BLOCK: Record<number, number> = { 19: 64, 20: 64, 21: 128, 22: 128 };

/** nonce || AES-CCM(key, nonce, data) || 16-byte MAC. */
export function ccmSeal(key: Uint8Array, data: Uint8Array): Uint8Array {
  const nonce = randomBytes(CCM_NONCE_LENGTH);
  const c = createCipheriv(`aes-${key.length * 8}-ccm` as CcmName, key, nonce, { authTagLength: CCM_TAG_LENGTH });
  const body = Buffer.concat([c.update(data), c.final()]);
  return concat(nonce, body, c.getAuthTag());
}

/** Opens what ccmSeal made; a wrong key or any changed byte is the device's INVALID_DATA. */
export function ccmOpen(key: Uint8Array, sealed: Uint8Array): Uint8Array {
  if (sealed.length < CCM_NONCE_LENGTH + CCM_TAG_LENGTH) fail(DeviceError.INVALID_DATA);
  const nonce = sealed.subarray(0, CCM_NONCE_LENGTH);
  const tag = sealed.subarray(sealed.length - CCM_TAG_LENGTH);
  const d = createDecipheriv(`aes-${key.length * 8}-ccm` as CcmName, key, nonce, { authTagLength: CCM_TAG_LENGTH });
  d.setAuthTag(tag);
  try {
    const out = d.update(sealed.subarray(CCM_NONCE_LENGTH, sealed.length - CCM_TAG_LENGTH));
    d.final();
    return new Uint8Array(out);
  } catch {
    return fail(DeviceError.INVALID_DATA);
  }
}

const jwkBytes = (s: string | undefined, length: number) => {
  const b = Buffer.from(s ?? '', 'base64url');
  return new Uint8Array(Buffer.concat([Buffer.alloc(Math.max(0, length - b.length)), b]));
};

/** EC d || x || y, or RSA p || q || dp || dq || qinv || n: the device's internal key representation. */
function privateBody(algorithm: number, key: KeyObject, withSeed: boolean): Uint8Array {
  const ec = SIM_EC[algorithm];
  if (ec) return concat(ecScalar(key, ec.bytes), ecPoint(key, ec.bytes));
  const jwk = key.export({ format: 'jwk' });
  // Ed25519: the 32-byte seed, as yubihsm-wrap builds it (read_ed25519_key). MODEL: with the seed format
  // (EXPORT_WRAPPED format 1) the public key follows; Yubico does not document that body.
  if (algorithm === Algorithm.EC_ED25519) return withSeed ? concat(jwkBytes(jwk.d, 32), jwkBytes(jwk.x, 32)) : jwkBytes(jwk.d, 32);
  const bits = RSA_ALGORITHMS[algorithm];
  if (bits) {
    const half = bits / 16;
    return concat(jwkBytes(jwk.p, half), jwkBytes(jwk.q, half), jwkBytes(jwk.dp, half), jwkBytes(jwk.dq, half), jwkBytes(jwk.qi, half), jwkBytes(jwk.n, bits / 8));
  }
  return fail(DeviceError.INVALID_DATA);
}

/** The private key a privateBody describes, refused unless its stored public half is the one it computes. */
function privateFromBody(algorithm: number, body: Uint8Array): KeyObject {
  let key: KeyObject;
  let stored: Uint8Array;
  if (algorithm === Algorithm.EC_ED25519) {
    if (body.length !== 32 && body.length !== 64) fail(DeviceError.INVALID_DATA);
    key = importPrivate(algorithm, body.subarray(0, 32));
    if (body.length === 64 && !Buffer.from(body.subarray(32)).equals(Buffer.from(jwkBytes(key.export({ format: 'jwk' }).x, 32)))) fail(DeviceError.INVALID_DATA);
    return key;
  }
  const bits = RSA_ALGORITHMS[algorithm];
  if (bits) {
    if (body.length !== (bits / 16) * 7) fail(DeviceError.INVALID_DATA);
    key = importPrivate(algorithm, body.subarray(0, bits / 8));
    stored = body.subarray((bits / 16) * 5);
    if (toBig(stored) !== toBig(jwkBytes(key.export({ format: 'jwk' }).n, bits / 8))) fail(DeviceError.INVALID_DATA);
    return key;
  }
  const ec = SIM_EC[algorithm] ?? fail(DeviceError.INVALID_DATA);
  if (body.length !== ec.bytes * 3) fail(DeviceError.INVALID_DATA);
  key = importPrivate(algorithm, body.subarray(0, ec.bytes));
  stored = body.subarray(ec.bytes);
  if (Buffer.compare(Buffer.from(stored), Buffer.from(ecPoint(key, ec.bytes))) !== 0) fail(DeviceError.INVALID_DATA);
  return key;
}

/** The body of one object, or INVALID_DATA for a kind this model does not export. */
function objectBody(o: SimObject, withSeed: boolean): Uint8Array {
  switch (o.type) {
    case ObjectType.OPAQUE:
    case ObjectType.SYMMETRIC_KEY:
      return o.secret ?? fail(DeviceError.INVALID_DATA);
    case ObjectType.ASYMMETRIC_KEY:
      return privateBody(o.algorithm, o.privateKey ?? fail(DeviceError.INVALID_DATA), withSeed);
    case ObjectType.HMAC_KEY: {
      const block = HMAC_BLOCK[o.algorithm] ?? fail(DeviceError.INVALID_DATA);
      const key = new Uint8Array(block);
      key.set(o.secret ?? fail(DeviceError.INVALID_DATA));
      return concat(key.map((b) => b ^ 0x36), key.map((b) => b ^ 0x5c));
    }
    case ObjectType.AUTHENTICATION_KEY: {
      const k = o.staticKeys ?? fail(DeviceError.INVALID_DATA);
      return concat(u64(o.delegatedCapabilities), k.encKey, k.macKey);
    }
    case ObjectType.WRAP_KEY:
      // MODEL: an RSA wrap key is not exported (only AES wrap keys have a documented body).
      return concat(u64(o.delegatedCapabilities), o.secret ?? fail(DeviceError.INVALID_DATA));
    default:
      return fail(DeviceError.INVALID_DATA);
  }
}

/** Header and body of an object, the plaintext both CCM and (MODEL) the RSA export wrap. */
export function serializeObject(wrapAlgorithm: number, o: SimObject, withSeed = false): Uint8Array {
  const body = objectBody(o, withSeed);
  return concat(u8(wrapAlgorithm), u64(o.capabilities), u16(o.id), u16(body.length), u16(o.domains), u8(o.type), u8(o.algorithm), u8(o.sequence), u8(o.origin), packLabel(o.label), body);
}

/** What serializeObject wrote, as an object to store (key material rebuilt and checked). */
export function parseObject(plain: Uint8Array): { wrapAlgorithm: number; object: SimObject } {
  const r = new Reader(plain);
  let object: SimObject;
  let wrapAlgorithm: number;
  try {
    wrapAlgorithm = r.u8();
    const capabilities = r.u64();
    const id = r.u16();
    const length = r.u16();
    const domains = r.u16();
    const type = r.u8();
    const algorithm = r.u8();
    const sequence = r.u8();
    const origin = r.u8();
    const label = unpackLabel(r.bytes(40));
    const body = r.bytes(length).slice();
    if (r.remaining !== 0) fail(DeviceError.INVALID_DATA);
    object = { id, type, algorithm, label, domains, capabilities, delegatedCapabilities: 0n, origin, sequence };
    switch (type) {
      case ObjectType.OPAQUE:
      case ObjectType.SYMMETRIC_KEY:
        object.secret = body;
        break;
      case ObjectType.ASYMMETRIC_KEY:
        object.privateKey = privateFromBody(algorithm, body);
        object.publicKey = createPublicKey(object.privateKey);
        break;
      case ObjectType.HMAC_KEY: {
        const block = HMAC_BLOCK[algorithm] ?? fail(DeviceError.INVALID_DATA);
        if (body.length !== 2 * block) fail(DeviceError.INVALID_DATA);
        // The zero-padded key: HMAC pads a shorter key with zeros itself, so the MACs are the same.
        object.secret = body.subarray(0, block).map((b) => b ^ 0x36);
        break;
      }
      case ObjectType.AUTHENTICATION_KEY: {
        if (body.length !== 8 + 32) fail(DeviceError.INVALID_DATA);
        const b = new Reader(body);
        object.delegatedCapabilities = b.u64();
        object.staticKeys = { encKey: b.bytes(16).slice(), macKey: b.bytes(16).slice() };
        break;
      }
      case ObjectType.WRAP_KEY: {
        const b = new Reader(body);
        object.delegatedCapabilities = b.u64();
        object.secret = b.rest().slice();
        break;
      }
      default:
        fail(DeviceError.INVALID_DATA);
    }
  } catch (e) {
    if (e instanceof RangeError) fail(DeviceError.INVALID_DATA);
    throw e;
  }
  return { wrapAlgorithm, object };
}
