// The simulated device's RSA signing and decryption (SIGN_PKCS1, SIGN_PSS, DECRYPT_PKCS1, DECRYPT_OAEP)
// and ECDH (DERIVE_ECDH). Payloads as python-yubihsm's AsymmetricKey sends them: the host hashes, the
// device pads (PKCS#1 v1.5 DigestInfo or EMSA-PSS, RFC 8017) and does the private-key operation.
import { constants as cryptoConstants, createECDH, createHash, privateDecrypt, randomBytes, type KeyObject } from 'node:crypto';
import type { Reader } from '../../hsm/yubihsm/bytes.js';
import { Capability, DeviceError, ObjectType } from '../../hsm/yubihsm/constants.js';
import { RSA_ALGORITHMS } from '../../hsm/yubihsm/keys.js';
import { ecScalar, SIM_EC } from './ec-curves.js';
import { MGF_HASH } from './algorithms.js';
import type { SimObject } from './device.js';
import { fail } from './failure.js';
import { mgf1, oaepDecrypt } from './key-material.js';

export interface KeyHost {
  require(capability: bigint): SimObject;
  visible(id: number, type: number): SimObject;
}

/** The hash a digest's length names (the device infers it the same way). */
const HASH_BY_LENGTH: Record<number, { name: string; digestInfo: string }> = {
  20: { name: 'sha1', digestInfo: '3021300906052b0e03021a05000414' },
  32: { name: 'sha256', digestInfo: '3031300d060960864801650304020105000420' },
  48: { name: 'sha384', digestInfo: '3041300d060960864801650304020205000430' },
  64: { name: 'sha512', digestInfo: '3051300d060960864801650304020305000440' },
};

/** The RSA key `id`, after the session's and the key's capability checks. */
function rsaKey(host: KeyHost, id: number, capability: bigint): { key: KeyObject; bytes: number } {
  host.require(capability);
  const o = host.visible(id, ObjectType.ASYMMETRIC_KEY);
  if ((o.capabilities & capability) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
  const bits = RSA_ALGORITHMS[o.algorithm] ?? fail(DeviceError.INVALID_DATA);
  return { key: o.privateKey as KeyObject, bytes: bits / 8 };
}

/** m^d mod n: node's privateDecrypt without padding is exactly the raw private-key operation. */
function rawPrivate(key: KeyObject, input: Uint8Array): Uint8Array {
  try {
    return new Uint8Array(privateDecrypt({ key, padding: cryptoConstants.RSA_NO_PADDING }, input));
  } catch {
    return fail(DeviceError.INVALID_DATA);
  }
}

export function signPkcs1(host: KeyHost, r: Reader): { body: Uint8Array; target: number } {
  const id = r.u16();
  const digest = r.rest();
  const { key, bytes } = rsaKey(host, id, Capability.SIGN_PKCS);
  const h = HASH_BY_LENGTH[digest.length] ?? fail(DeviceError.INVALID_DATA);
  const t = Buffer.concat([Buffer.from(h.digestInfo, 'hex'), digest]);
  if (t.length > bytes - 11) fail(DeviceError.INVALID_DATA);
  const em = Buffer.concat([Buffer.of(0, 1), Buffer.alloc(bytes - t.length - 3, 0xff), Buffer.of(0), t]);
  return { body: rawPrivate(key, em), target: id };
}

export function signPss(host: KeyHost, r: Reader): { body: Uint8Array; target: number } {
  const id = r.u16();
  const mgf = MGF_HASH[r.u8()] ?? fail(DeviceError.INVALID_DATA);
  const saltLength = r.u16();
  const mHash = r.rest();
  const { key, bytes } = rsaKey(host, id, Capability.SIGN_PSS);
  const h = HASH_BY_LENGTH[mHash.length] ?? fail(DeviceError.INVALID_DATA);
  const modBits = bytes * 8;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = mHash.length;
  if (emLen < hLen + saltLength + 2) fail(DeviceError.INVALID_DATA);
  const salt = randomBytes(saltLength);
  const hm = createHash(h.name).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - saltLength - hLen - 2), Buffer.of(1), salt]);
  const mask = mgf1(mgf, hm, db.length);
  const masked = Buffer.from(db.map((b, i) => b ^ (mask[i] as number)));
  masked[0] = (masked[0] as number) & (0xff >> (8 * emLen - emBits));
  const em = Buffer.concat([Buffer.alloc(bytes - emLen), masked, hm, Buffer.of(0xbc)]);
  return { body: rawPrivate(key, em), target: id };
}

export function decryptPkcs1(host: KeyHost, r: Reader): { body: Uint8Array; target: number } {
  const id = r.u16();
  const ciphertext = r.rest();
  const { key, bytes } = rsaKey(host, id, Capability.DECRYPT_PKCS);
  if (ciphertext.length !== bytes) fail(DeviceError.INVALID_DATA);
  const em = rawPrivate(key, ciphertext);
  // 00 02, at least 8 non-zero padding bytes, 00, the message.
  const end = em.indexOf(0, 2);
  if (em[0] !== 0 || em[1] !== 2 || end < 10) fail(DeviceError.INVALID_DATA);
  return { body: em.slice(end + 1), target: id };
}

export function decryptOaep(host: KeyHost, r: Reader): { body: Uint8Array; target: number } {
  const id = r.u16();
  const mgf = MGF_HASH[r.u8()] ?? fail(DeviceError.INVALID_DATA);
  const rest = r.rest();
  const { key, bytes } = rsaKey(host, id, Capability.DECRYPT_OAEP);
  // The label's digest follows the ciphertext; its length names the OAEP hash.
  if (!HASH_BY_LENGTH[rest.length - bytes]) fail(DeviceError.INVALID_DATA);
  return { body: oaepDecrypt(key, rest.subarray(0, bytes), mgf, rest.subarray(bytes)), target: id };
}

export function deriveEcdh(host: KeyHost, r: Reader): { body: Uint8Array; target: number } {
  const id = r.u16();
  const point = r.rest();
  host.require(Capability.DERIVE_ECDH);
  const o = host.visible(id, ObjectType.ASYMMETRIC_KEY);
  if ((o.capabilities & Capability.DERIVE_ECDH) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
  const ec = SIM_EC[o.algorithm] ?? fail(DeviceError.INVALID_DATA);
  if (point.length !== 1 + 2 * ec.bytes || point[0] !== 4) fail(DeviceError.INVALID_DATA);
  const ecdh = createECDH(ec.nodeCurve);
  ecdh.setPrivateKey(ecScalar(o.privateKey as KeyObject, ec.bytes));
  try {
    // computeSecret refuses a point that is not on the curve (or is the point at infinity).
    return { body: new Uint8Array(ecdh.computeSecret(point)), target: id };
  } catch {
    return fail(DeviceError.INVALID_DATA);
  }
}
