// AES-CMAC (RFC 4493) from node:crypto's AES-ECB, so tests can check a token's CMAC independently.
import { createCipheriv } from 'node:crypto';

function shiftLeft(b: Buffer): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) out[i] = (((b[i] as number) << 1) | (i < 15 ? (b[i + 1] as number) >> 7 : 0)) & 0xff;
  return out;
}

function subkey(b: Buffer): Buffer {
  const s = shiftLeft(b);
  if (((b[0] as number) & 0x80) !== 0) s[15] = (s[15] as number) ^ 0x87;
  return s;
}

export function aesCmac(key: Uint8Array, message: Uint8Array): Buffer {
  const ecb = (block: Buffer) => {
    const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
    c.setAutoPadding(false);
    return Buffer.concat([c.update(block), c.final()]);
  };
  const k1 = subkey(ecb(Buffer.alloc(16)));
  const k2 = subkey(k1);
  const m = Buffer.from(message);
  const n = Math.max(1, Math.ceil(m.length / 16));
  const complete = m.length > 0 && m.length % 16 === 0;
  const last = Buffer.alloc(16);
  const tail = m.subarray((n - 1) * 16);
  tail.copy(last);
  if (!complete) last[tail.length] = 0x80;
  const k = complete ? k1 : k2;
  for (let i = 0; i < 16; i++) last[i] = (last[i] as number) ^ (k[i] as number);
  let x = Buffer.alloc(16);
  for (let i = 0; i < n - 1; i++) {
    const block = m.subarray(i * 16, i * 16 + 16);
    x = ecb(Buffer.from(x.map((v, j) => v ^ (block[j] as number))));
  }
  return ecb(Buffer.from(x.map((v, j) => v ^ (last[j] as number))));
}
