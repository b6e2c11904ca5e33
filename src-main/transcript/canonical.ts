// JCS (RFC 8785) canonical JSON and SHA-256, the two primitives every transcript hash is built from.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** The `prev` of the genesis entry: 64 zeros. */
export const GENESIS_PREV = '0'.repeat(64);

/** The RFC 8785 canonical JSON text of a value. Throws for values JSON cannot carry (NaN, lone surrogates, undefined). */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}
