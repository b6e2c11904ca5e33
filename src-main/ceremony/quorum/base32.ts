// RFC 4648 base32 (alphabet A-Z 2-7), without padding. Used for PINs and share codes: upper-case letters and
// digits only, no characters a token PIN pad, a keyboard layout or a pair of eyes would confuse with 0/1/8.
export const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

const VALUE = new Map<string, number>([...BASE32_ALPHABET].map((c, i) => [c, i]));

/** Value 0..31 of one base32 character, or undefined. Case-sensitive: callers normalise first. */
export function base32Value(c: string): number | undefined {
  return VALUE.get(c);
}

/** Encode bytes; the final character's unused low bits are zero. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = ((buffer << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** Decode base32 digit values (0..31) into bytes. Returns undefined when leftover bits are not zero. */
export function base32DecodeValues(values: readonly number[]): Uint8Array | undefined {
  const out = new Uint8Array(Math.floor((values.length * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let n = 0;
  for (const v of values) {
    buffer = ((buffer << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out[n++] = (buffer >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  if (bits > 0 && (buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}
