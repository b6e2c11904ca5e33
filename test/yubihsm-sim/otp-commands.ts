// Yubico OTP in the simulated device: OTP AEAD keys (PUT/GENERATE_OTP_AEAD_KEY), AEADs (CREATE, RANDOMIZE,
// REWRAP_OTP_AEAD) and DECRYPT_OTP. The AEAD layout is the one python-yubihsm's test_otp.py opens with
// AESCCM: a 6-byte nonce || AES-CCM(key, nonce id (4 bytes as stored) || nonce || 00 00 00, 8-byte tag) of
// the token's AES-128 key (16) || private id (6). An OTP is AES-128-ECB of private id (6) || use counter
// (u16 LE) || timestamp low (u16 LE) || timestamp high || session counter || random (2) || CRC-16 (LE).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { concat, u16, u8, type Reader } from '../../hsm/yubihsm/bytes.js';
import { Algorithm, Capability, DeviceError, ObjectType, Origin } from '../../hsm/yubihsm/constants.js';
import type { SimObject } from './device.js';
import { fail } from './failure.js';
import type { WrapHost } from './wrap-commands.js';

const OTP_KEY_LENGTH: Record<number, number> = { [Algorithm.AES128_YUBICO_OTP]: 16, [Algorithm.AES192_YUBICO_OTP]: 24, [Algorithm.AES256_YUBICO_OTP]: 32 };
type CcmName = 'aes-128-ccm' | 'aes-192-ccm' | 'aes-256-ccm';
const AEAD_LENGTH = 6 + 16 + 6 + 8;

export function putOtpAeadKey(host: WrapHost, r: Reader, generate: boolean): { body: Uint8Array; target: number } {
  host.require(generate ? Capability.GENERATE_OTP_AEAD_KEY : Capability.PUT_OTP_AEAD_KEY);
  const o = host.newObject(r, ObjectType.OTP_AEAD_KEY, false);
  const length = OTP_KEY_LENGTH[o.algorithm] ?? fail(DeviceError.INVALID_DATA);
  const otpNonceId = r.bytes(4).slice();
  const secret = generate ? new Uint8Array(randomBytes(length)) : r.rest().slice();
  if (r.remaining !== 0 || secret.length !== length) fail(DeviceError.INVALID_DATA);
  host.create({ ...o, type: ObjectType.OTP_AEAD_KEY, origin: generate ? Origin.GENERATED : Origin.IMPORTED, secret, otpNonceId });
  return { body: u16(o.id), target: o.id };
}

function otpKey(host: WrapHost, id: number, capability: bigint): SimObject & { secret: Uint8Array; otpNonceId: Uint8Array } {
  host.require(capability);
  const k = host.visible(id, ObjectType.OTP_AEAD_KEY);
  if ((k.capabilities & capability) === 0n) fail(DeviceError.INSUFFICIENT_PERMISSIONS);
  return k as SimObject & { secret: Uint8Array; otpNonceId: Uint8Array };
}

const ccmNonce = (k: { otpNonceId: Uint8Array }, nonce: Uint8Array) => concat(k.otpNonceId, nonce, new Uint8Array(3));

function seal(k: { secret: Uint8Array; otpNonceId: Uint8Array }, plain: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(randomBytes(6));
  const c = createCipheriv(`aes-${k.secret.length * 8}-ccm` as CcmName, k.secret, ccmNonce(k, nonce), { authTagLength: 8 });
  const body = Buffer.concat([c.update(plain), c.final()]);
  return concat(nonce, body, c.getAuthTag());
}

function open(k: { secret: Uint8Array; otpNonceId: Uint8Array }, aead: Uint8Array): Uint8Array {
  if (aead.length !== AEAD_LENGTH) fail(DeviceError.INVALID_DATA);
  const d = createDecipheriv(`aes-${k.secret.length * 8}-ccm` as CcmName, k.secret, ccmNonce(k, aead.subarray(0, 6)), { authTagLength: 8 });
  d.setAuthTag(aead.subarray(AEAD_LENGTH - 8));
  try {
    const out = d.update(aead.subarray(6, AEAD_LENGTH - 8));
    d.final();
    return new Uint8Array(out);
  } catch {
    return fail(DeviceError.INVALID_DATA);
  }
}

export function createOtpAead(host: WrapHost, r: Reader, random: boolean): { body: Uint8Array; target: number } {
  const id = r.u16();
  const k = otpKey(host, id, random ? Capability.RANDOMIZE_OTP_AEAD : Capability.CREATE_OTP_AEAD);
  const plain = random ? new Uint8Array(randomBytes(22)) : r.bytes(22);
  if (r.remaining !== 0) fail(DeviceError.WRONG_LENGTH);
  return { body: seal(k, plain), target: id };
}

export function rewrapOtpAead(host: WrapHost, r: Reader): { body: Uint8Array; target: number; second: number } {
  const from = r.u16();
  const to = r.u16();
  const aead = r.rest();
  const source = otpKey(host, from, Capability.REWRAP_FROM_OTP_AEAD_KEY);
  const target = otpKey(host, to, Capability.REWRAP_TO_OTP_AEAD_KEY);
  return { body: seal(target, open(source, aead)), target: from, second: to };
}

/** CRC-16 (ISO 13239) of a whole token, CRC included, is this residue when the token is intact. */
function crcResidueOk(token: Uint8Array): boolean {
  let crc = 0xffff;
  for (const b of token) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >> 1) ^ 0x8408 : crc >> 1;
  }
  return crc === 0xf0b8;
}

export function decryptOtp(host: WrapHost, r: Reader): { body: Uint8Array; target: number } {
  const id = r.u16();
  const aead = r.bytes(AEAD_LENGTH);
  const otp = r.rest();
  if (otp.length !== 16) fail(DeviceError.WRONG_LENGTH);
  const k = otpKey(host, id, Capability.DECRYPT_OTP);
  const plain = open(k, aead);
  const d = createDecipheriv('aes-128-ecb', plain.subarray(0, 16), null).setAutoPadding(false);
  const token = new Uint8Array(Buffer.concat([d.update(otp), d.final()]));
  if (!crcResidueOk(token) || Buffer.compare(Buffer.from(token.subarray(0, 6)), Buffer.from(plain.subarray(16, 22))) !== 0) fail(DeviceError.INVALID_OTP);
  // Answer: use counter (u16 LE), session counter, timestamp high, timestamp low (u16 LE).
  return { body: concat(token.subarray(6, 8), u8(token[11] as number), u8(token[10] as number), token.subarray(8, 10)), target: id };
}
