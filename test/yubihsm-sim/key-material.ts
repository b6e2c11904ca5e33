// Key material as the simulated device holds it: private keys rebuilt from the device's raw encodings
// (RSA p || q, the EC scalar), and RSA-OAEP with the label given as its digest and MGF1 over its own hash,
// which node:crypto's publicEncrypt/privateDecrypt cannot express.
import { constants as cryptoConstants, createCipheriv, createDecipheriv, createHash, createPrivateKey, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { u32 } from '../../hsm/yubihsm/bytes.js';
import { Algorithm, DeviceError } from '../../hsm/yubihsm/constants.js';
import { RSA_ALGORITHMS } from '../../hsm/yubihsm/keys.js';
import { ecPrivateFromScalar } from './ec-curves.js';
import { fail } from './failure.js';

/** PKCS#8 prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function importPrivate(algorithm: number, raw: Uint8Array): KeyObject {
  if (algorithm === Algorithm.EC_ED25519) {
    if (raw.length !== 32) fail(DeviceError.INVALID_DATA);
    return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  }
  const bits = RSA_ALGORITHMS[algorithm];
  if (bits) {
    if (raw.length !== bits / 8) fail(DeviceError.INVALID_DATA);
    const p = toBig(raw.subarray(0, bits / 16));
    const q = toBig(raw.subarray(bits / 16));
    const e = 65537n;
    const n = p * q;
    // d modulo lcm(p-1, q-1), as OpenSSL computes it.
    const g = gcd(p - 1n, q - 1n);
    const d = modInverse(e, ((p - 1n) * (q - 1n)) / g);
    const jwk = { kty: 'RSA', n: b64(n), e: b64(e), d: b64(d), p: b64(p), q: b64(q), dp: b64(d % (p - 1n)), dq: b64(d % (q - 1n)), qi: b64(modInverse(q, p)) };
    try {
      return createPrivateKey({ key: jwk, format: 'jwk' });
    } catch {
      return fail(DeviceError.INVALID_DATA);
    }
  }
  return ecPrivateFromScalar(algorithm, raw);
}

export const toBig = (b: Uint8Array) => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'));
function b64(v: bigint): string {
  let h = v.toString(16);
  if (h.length % 2) h = '0' + h;
  return Buffer.from(h, 'hex').toString('base64url');
}
function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}
function modInverse(a: bigint, n: bigint): bigint {
  let [r0, r1] = [((a % n) + n) % n, n];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) fail(DeviceError.INVALID_DATA);
  return ((s0 % n) + n) % n;
}

export function mgf1(hash: string, seed: Uint8Array, length: number): Buffer {
  const out: Buffer[] = [];
  for (let c = 0; out.length * createHash(hash).digest().length < length; c++) out.push(createHash(hash).update(seed).update(u32(c)).digest());
  return Buffer.concat(out).subarray(0, length);
}

/** RSAES-OAEP (RFC 8017 7.1.1) with the label given as its digest and MGF1 over its own hash. */
export function oaepEncrypt(publicKey: KeyObject, message: Uint8Array, mgfHash: string, labelHash: Uint8Array): Uint8Array {
  const k = Buffer.from(publicKey.export({ format: 'jwk' }).n ?? '', 'base64url').length;
  const hLen = labelHash.length;
  if (message.length > k - 2 * hLen - 2) fail(DeviceError.INVALID_DATA);
  const db = Buffer.concat([labelHash, Buffer.alloc(k - message.length - 2 * hLen - 2), Buffer.of(1), message]);
  const seed = randomBytes(hLen);
  const dbMask = mgf1(mgfHash, seed, db.length);
  const maskedDb = Buffer.from(db.map((b, i) => b ^ (dbMask[i] as number)));
  const seedMask = mgf1(mgfHash, maskedDb, hLen);
  const maskedSeed = Buffer.from(seed.map((b, i) => b ^ (seedMask[i] as number)));
  return new Uint8Array(publicEncrypt({ key: publicKey, padding: cryptoConstants.RSA_NO_PADDING }, Buffer.concat([Buffer.of(0), maskedSeed, maskedDb])));
}

/** RSAES-OAEP decryption (RFC 8017 7.1.2); any inconsistency is the device's INVALID_DATA. */
export function oaepDecrypt(privateKey: KeyObject, ciphertext: Uint8Array, mgfHash: string, labelHash: Uint8Array): Uint8Array {
  const k = Buffer.from(privateKey.export({ format: 'jwk' }).n ?? '', 'base64url').length;
  const hLen = labelHash.length;
  if (ciphertext.length !== k || k < 2 * hLen + 2) fail(DeviceError.INVALID_DATA);
  let em: Buffer;
  try {
    em = privateDecrypt({ key: privateKey, padding: cryptoConstants.RSA_NO_PADDING }, ciphertext);
  } catch {
    return fail(DeviceError.INVALID_DATA);
  }
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seedMask = mgf1(mgfHash, maskedDb, hLen);
  const seed = Buffer.from(maskedSeed.map((b, i) => b ^ (seedMask[i] as number)));
  const dbMask = mgf1(mgfHash, seed, maskedDb.length);
  const db = Buffer.from(maskedDb.map((b, i) => b ^ (dbMask[i] as number)));
  const one = db.indexOf(1, hLen);
  if (em[0] !== 0 || !db.subarray(0, hLen).equals(Buffer.from(labelHash)) || one < 0 || db.subarray(hLen, one).some((b) => b !== 0)) fail(DeviceError.INVALID_DATA);
  return new Uint8Array(db.subarray(one + 1));
}

/** AES key wrap with padding (RFC 5649), the second half of CKM_RSA_AES_KEY_WRAP. */
export function kwpWrap(key: Uint8Array, material: Uint8Array): Uint8Array {
  const c = createCipheriv(`id-aes${key.length * 8}-wrap-pad`, key, Buffer.from('a65959a6', 'hex'));
  return new Uint8Array(Buffer.concat([c.update(material), c.final()]));
}

export function kwpUnwrap(key: Uint8Array, wrapped: Uint8Array): Uint8Array {
  try {
    const d = createDecipheriv(`id-aes${key.length * 8}-wrap-pad`, key, Buffer.from('a65959a6', 'hex'));
    return new Uint8Array(Buffer.concat([d.update(wrapped), d.final()]));
  } catch {
    return fail(DeviceError.INVALID_DATA);
  }
}
