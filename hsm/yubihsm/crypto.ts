// The cryptography of the YubiHSM secure channel (a profile of GlobalPlatform SCP03), built on node:crypto:
// AES-CMAC (RFC 4493 / NIST SP 800-38B), the SCP03 KDF (NIST SP 800-108 counter mode with AES-CMAC as PRF),
// PBKDF2 password-to-key, the per-message IV, and ISO/IEC 9797-1 method 2 padding (0x80 then zeros).
import { createCipheriv, createDecipheriv, pbkdf2Sync } from 'node:crypto';
import { concat } from './bytes.js';

/** Derivation constants (GlobalPlatform Card Specification Amendment D, table 4-1). */
export const DerivationConstant = {
  CARD_CRYPTOGRAM: 0x00,
  HOST_CRYPTOGRAM: 0x01,
  S_ENC: 0x04,
  S_MAC: 0x06,
  S_RMAC: 0x07,
} as const;

function ecb(key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}

function doubleBlock(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = (((b[i] as number) << 1) | (i < 15 ? (b[i + 1] as number) >> 7 : 0)) & 0xff;
  if (((b[0] as number) & 0x80) !== 0) out[15] = (out[15] as number) ^ 0x87;
  return out;
}

/** AES-CMAC (RFC 4493) with an AES-128, -192 or -256 key; the full 16-byte tag. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  if (![16, 24, 32].includes(key.length)) throw new RangeError(`AES-CMAC key must be 16, 24 or 32 bytes, not ${key.length}`);
  // Every block but the last goes through CBC-MAC; node's CBC with a zero IV does exactly that.
  const k1 = doubleBlock(ecb(key, new Uint8Array(16)));
  const k2 = doubleBlock(k1);
  const n = Math.max(1, Math.ceil(message.length / 16));
  const complete = message.length > 0 && message.length % 16 === 0;
  const last = new Uint8Array(16);
  const tail = message.subarray((n - 1) * 16);
  last.set(tail);
  if (!complete) last[tail.length] = 0x80;
  const k = complete ? k1 : k2;
  for (let i = 0; i < 16; i++) last[i] = (last[i] as number) ^ (k[i] as number);
  let x: Uint8Array = new Uint8Array(16);
  if (n > 1) {
    const c = createCipheriv(`aes-${key.length * 8}-cbc`, key, new Uint8Array(16));
    c.setAutoPadding(false);
    const out = Buffer.concat([c.update(message.subarray(0, (n - 1) * 16)), c.final()]);
    x = new Uint8Array(out.subarray(out.length - 16));
  }
  for (let i = 0; i < 16; i++) x[i] = (x[i] as number) ^ (last[i] as number);
  return ecb(key, x);
}

/**
 * SCP03 KDF: one AES-CMAC over label (11 zero bytes, then the derivation constant) || 0x00 separator ||
 * L (u16, bits) || counter 0x01 || context (host challenge || card challenge). `bits` is 64 for a
 * cryptogram and 128 for a session key; the output is the first bits/8 bytes.
 */
export function scp03Derive(key: Uint8Array, constant: number, context: Uint8Array, bits: 64 | 128): Uint8Array {
  const input = concat(new Uint8Array(11), Uint8Array.of(constant, 0x00, (bits >> 8) & 0xff, bits & 0xff, 0x01), context);
  return aesCmac(key, input).subarray(0, bits / 8);
}

export interface StaticKeys {
  /** K-ENC: 16 bytes. */
  encKey: Uint8Array;
  /** K-MAC: 16 bytes. */
  macKey: Uint8Array;
}

export interface SessionKeys {
  sEnc: Uint8Array;
  sMac: Uint8Array;
  sRmac: Uint8Array;
}

export function deriveSessionKeys(keys: StaticKeys, context: Uint8Array): SessionKeys {
  return {
    sEnc: scp03Derive(keys.encKey, DerivationConstant.S_ENC, context, 128),
    sMac: scp03Derive(keys.macKey, DerivationConstant.S_MAC, context, 128),
    sRmac: scp03Derive(keys.macKey, DerivationConstant.S_RMAC, context, 128),
  };
}

export const cardCryptogram = (sMac: Uint8Array, context: Uint8Array) => scp03Derive(sMac, DerivationConstant.CARD_CRYPTOGRAM, context, 64);
export const hostCryptogram = (sMac: Uint8Array, context: Uint8Array) => scp03Derive(sMac, DerivationConstant.HOST_CRYPTOGRAM, context, 64);

/** The password an authentication key is made from: PBKDF2-HMAC-SHA256, salt "Yubico", 10 000 rounds, 32 bytes. */
export function passwordToKeys(password: string): StaticKeys {
  const k = new Uint8Array(pbkdf2Sync(Buffer.from(password, 'utf8'), 'Yubico', 10_000, 32, 'sha256'));
  return { encKey: k.slice(0, 16), macKey: k.slice(16, 32) };
}

/** IV for message number `counter` of a session: AES-ECB(S-ENC, counter as a 16-byte big-endian number). */
export function messageIv(sEnc: Uint8Array, counter: bigint): Uint8Array {
  const block = new Uint8Array(16);
  new DataView(block.buffer).setBigUint64(8, BigInt.asUintN(64, counter));
  new DataView(block.buffer).setBigUint64(0, BigInt.asUintN(64, counter >> 64n));
  return ecb(sEnc, block);
}

/** 0x80 then zero bytes up to the next multiple of 16 (always at least one byte). */
export function pad80(data: Uint8Array): Uint8Array {
  const out = new Uint8Array((Math.floor(data.length / 16) + 1) * 16);
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

/** Strip 0x80-and-zeros padding; undefined when the padding is malformed. */
export function unpad80(data: Uint8Array): Uint8Array | undefined {
  let i = data.length - 1;
  while (i >= 0 && data[i] === 0x00) i--;
  if (i < 0 || data[i] !== 0x80 || data.length - i > 16) return undefined;
  return data.subarray(0, i);
}

export function cbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

export function cbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const d = createDecipheriv(`aes-${key.length * 8}-cbc`, key, iv);
  d.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([d.update(data), d.final()]));
}
