// What a strict receiver (AWS KMS, Python `cryptography`'s load_der_private_key, Go's ParsePKCS8PrivateKey)
// demands of unwrapped key material: symmetric and HMAC keys exactly their length; private keys one DER
// PrivateKeyInfo whose outer SEQUENCE covers every byte (no trailing zeros), of the key spec's algorithm
// and size. Lenient parsers (openssl pkey, node's createPrivateKey) read the first DER object and ignore
// what follows, so they cannot be the judge. Pure: used on throw-away probe material only (exactness.ts).
import { KEY_SPECS, EC_FIELD_BYTES } from './keyspecs.js';
import type { KmsKeySpec } from './types.js';

export interface MaterialVerdict {
  ok: boolean;
  /** Bytes the receiver unwraps. */
  bytes: number;
  /** Length the outer DER SEQUENCE claims (header included), for private keys. */
  derLength?: number;
  /**
   * Private keys: true when every key of this spec encodes to the same length (an EC key's private value is
   * a fixed-length OCTET STRING, RFC 5915); false for RSA, whose integers vary in length from key to key.
   */
  fixedLength?: boolean;
  /** When bytes follow the DER: whether they are all zero (a token's padding rather than garbage). */
  trailingZero?: boolean;
  reason?: string;
}

class DerError extends Error {}

interface Tlv {
  tag: number;
  /** Offset of the content. */
  start: number;
  /** Offset just past the content. */
  end: number;
}

/** One DER TLV at `off`, inside `limit`: definite, minimally encoded lengths only. */
function tlv(b: Uint8Array, off: number, limit: number): Tlv {
  if (off + 2 > limit) throw new DerError(`truncated at byte ${off}`);
  const tag = b[off] as number;
  const first = b[off + 1] as number;
  let len: number;
  let start: number;
  if (first < 0x80) {
    len = first;
    start = off + 2;
  } else {
    const n = first & 0x7f;
    if (n === 0 || n > 3) throw new DerError(`length form 0x${first.toString(16)} at byte ${off + 1} is not DER`);
    if (off + 2 + n > limit) throw new DerError(`truncated length at byte ${off + 1}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[off + 2 + i] as number);
    if (b[off + 2] === 0 || len < 0x80) throw new DerError(`length at byte ${off + 1} is not minimally encoded`);
    start = off + 2 + n;
  }
  if (start + len > limit) throw new DerError(`the object at byte ${off} claims ${len} bytes, but only ${limit - start} follow`);
  return { tag, start, end: start + len };
}

function expectTag(t: Tlv, tag: number, what: string): Tlv {
  if (t.tag !== tag) throw new DerError(`${what}: tag 0x${t.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return t;
}

function hex(b: Uint8Array, t: Tlv): string {
  return Buffer.from(b.subarray(t.start, t.end)).toString('hex');
}

/** A positive, minimally encoded INTEGER; returns its magnitude in bytes. */
function positiveInteger(b: Uint8Array, t: Tlv, what: string): number {
  expectTag(t, 0x02, what);
  const len = t.end - t.start;
  if (len === 0) throw new DerError(`${what} is empty`);
  const lead = b[t.start] as number;
  if (lead & 0x80) throw new DerError(`${what} is negative`);
  if (len > 1 && lead === 0 && ((b[t.start + 1] as number) & 0x80) === 0) throw new DerError(`${what} has a redundant leading zero`);
  return lead === 0 ? len - 1 : len;
}

const RSA_OID = '2a864886f70d010101';
const EC_OID = '2a8648ce3d0201';

/** Throws DerError naming what is wrong; returns whether the spec's encoding has a fixed length. */
function checkPrivateKeyInfo(b: Uint8Array, keySpec: KmsKeySpec): boolean {
  const info = KEY_SPECS[keySpec];
  const outer = expectTag(tlv(b, 0, b.length), 0x30, 'PrivateKeyInfo');
  const version = tlv(b, outer.start, outer.end);
  if (positiveInteger(b, version, 'version') > 1 || ((b[version.start] as number) !== 0 && (b[version.start] as number) !== 1)) throw new DerError('version is not 0 or 1');
  const alg = expectTag(tlv(b, version.end, outer.end), 0x30, 'AlgorithmIdentifier');
  const oid = expectTag(tlv(b, alg.start, alg.end), 0x06, 'algorithm');
  let fixed = false;
  if (info.kind === 'rsa') {
    if (hex(b, oid) !== RSA_OID) throw new DerError(`algorithm ${hex(b, oid)} is not rsaEncryption`);
    if (oid.end !== alg.end) {
      const p = tlv(b, oid.end, alg.end);
      if (p.tag !== 0x05 || p.end !== p.start || p.end !== alg.end) throw new DerError('rsaEncryption parameters are not NULL');
    }
  } else if (info.kind === 'ec') {
    if (hex(b, oid) !== EC_OID) throw new DerError(`algorithm ${hex(b, oid)} is not id-ecPublicKey`);
    const curve = tlv(b, oid.end, alg.end);
    if (curve.end !== alg.end || Buffer.from(b.subarray(oid.end, curve.end)).toString('hex') !== info.oidDer) throw new DerError(`the curve is not ${info.curve} (${info.oidDer})`);
  } else {
    throw new DerError(`${keySpec} is not a private key spec`);
  }
  const key = expectTag(tlv(b, alg.end, outer.end), 0x04, 'privateKey');
  // Optional [0] attributes and (version 1) [1] publicKey, nothing else.
  let at = key.end;
  for (const tag of [0xa0, 0x81, 0xa1]) {
    if (at < outer.end && (b[at] as number) === tag) at = tlv(b, at, outer.end).end;
  }
  if (at !== outer.end) throw new DerError(`${outer.end - at} unexpected bytes inside PrivateKeyInfo after the private key`);
  const inner = expectTag(tlv(b, key.start, key.end), 0x30, 'the inner private key');
  if (inner.end !== key.end) throw new DerError(`${key.end - inner.end} bytes follow the inner private key`);
  if (info.kind === 'rsa') {
    let p = inner.start;
    let modulus: Tlv | undefined;
    for (const name of ['version', 'modulus', 'publicExponent', 'privateExponent', 'prime1', 'prime2', 'exponent1', 'exponent2', 'coefficient']) {
      const t = tlv(b, p, inner.end);
      const size = positiveInteger(b, t, name);
      if (name === 'modulus' && size === info.bits / 8) modulus = t;
      p = t.end;
    }
    if (p !== inner.end) throw new DerError('RSAPrivateKey has more than nine integers (multi-prime keys are not accepted)');
    // The magnitude's first byte has its top bit set: exactly `bits` bits.
    if (!modulus || ((b[modulus.end - info.bits / 8] as number) & 0x80) === 0) throw new DerError(`the modulus is not ${info.bits} bits`);
  } else {
    const v = tlv(b, inner.start, inner.end);
    if (positiveInteger(b, v, 'ECPrivateKey version') !== 1 || (b[v.start] as number) !== 1) throw new DerError('ECPrivateKey version is not 1');
    const d = expectTag(tlv(b, v.end, inner.end), 0x04, 'ECPrivateKey privateKey');
    const want = EC_FIELD_BYTES[info.curve as keyof typeof EC_FIELD_BYTES];
    if (d.end - d.start !== want) throw new DerError(`the private value is ${d.end - d.start} bytes, not ${want} (RFC 5915 fixes its length)`);
    let q = d.end;
    for (const tag of [0xa0, 0xa1]) {
      if (q < inner.end && (b[q] as number) === tag) q = tlv(b, q, inner.end).end;
    }
    if (q !== inner.end) throw new DerError('unexpected bytes inside ECPrivateKey');
    fixed = true;
  }
  if (outer.end !== b.length) throw new DerError(`the DER is ${outer.end} bytes but ${b.length} were unwrapped: ${b.length - outer.end} trailing bytes`);
  return fixed;
}

/** The strict verdict on material as the receiver unwraps it. */
export function checkMaterial(keySpec: KmsKeySpec, material: Uint8Array): MaterialVerdict {
  const info = KEY_SPECS[keySpec];
  const bytes = material.length;
  if (info.kind === 'aes' || info.kind === 'hmac') {
    return bytes === info.bytes ? { ok: true, bytes } : { ok: false, bytes, reason: `${bytes} bytes, not the ${info.bytes} of ${keySpec}` };
  }
  let derLength: number | undefined;
  try {
    const outer = tlv(material, 0, material.length);
    derLength = outer.end;
  } catch {
    // Reported below by the full check.
  }
  try {
    const fixedLength = checkPrivateKeyInfo(material, keySpec);
    return { ok: true, bytes, derLength: derLength as number, fixedLength };
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    const trailing = derLength !== undefined && derLength < bytes ? { trailingZero: material.subarray(derLength).every((x) => x === 0) } : {};
    return { ok: false, bytes, ...(derLength !== undefined ? { derLength } : {}), ...trailing, reason: e.message };
  }
}
