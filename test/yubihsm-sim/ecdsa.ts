// ECDSA over a caller-supplied digest (what SIGN_ECDSA does), which node:crypto's sign() cannot do: it
// always hashes its input. k*G comes from node's ECDH (a point multiplication by the base point); the rest
// is bigint arithmetic modulo the group order.
import { createECDH, randomBytes } from 'node:crypto';

export const CURVE_ORDERS: Record<string, bigint> = {
  prime256v1: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  secp384r1: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  secp521r1:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  secp256k1: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
  secp224r1: 0xffffffffffffffffffffffffffff16a2e0b8f03e13dd29455c5c2a3dn,
  brainpoolP256r1: 0xa9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7n,
  brainpoolP384r1: 0x8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565n,
  brainpoolP512r1: 0xaadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069n,
};

const toBig = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex')));

function toBytes(v: bigint, length: number): Buffer {
  return Buffer.from(v.toString(16).padStart(length * 2, '0'), 'hex');
}

function mod(a: bigint, n: bigint): bigint {
  const r = a % n;
  return r < 0n ? r + n : r;
}

function inverse(a: bigint, n: bigint): bigint {
  let [r0, r1] = [mod(a, n), n];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, n);
}

function derInteger(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let b = Buffer.from(hex, 'hex');
  if ((b[0] as number) & 0x80) b = Buffer.concat([Buffer.of(0), b]);
  return Buffer.concat([Buffer.of(0x02), derLength(b.length), b]);
}

function derLength(n: number): Buffer {
  return n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff);
}

/** DER ECDSA-Sig-Value over `digest` with private scalar `d` on `curve` (node curve name). */
export function signDigest(curve: string, d: Uint8Array, digest: Uint8Array): Uint8Array {
  const n = CURVE_ORDERS[curve];
  if (n === undefined) throw new Error(`no order for curve ${curve}`);
  const nBits = n.toString(2).length;
  const nBytes = Math.ceil(nBits / 8);
  let z = toBig(digest);
  if (digest.length * 8 > nBits) z >>= BigInt(digest.length * 8 - nBits);
  const dBig = toBig(d);
  for (;;) {
    const k = mod(toBig(randomBytes(nBytes + 8)), n - 1n) + 1n;
    const ecdh = createECDH(curve);
    ecdh.setPrivateKey(toBytes(k, nBytes));
    const point = ecdh.getPublicKey();
    const x = toBig(point.subarray(1, 1 + (point.length - 1) / 2));
    const r = mod(x, n);
    if (r === 0n) continue;
    const s = mod(inverse(k, n) * (z + r * dBig), n);
    if (s === 0n) continue;
    const body = Buffer.concat([derInteger(r), derInteger(s)]);
    return new Uint8Array(Buffer.concat([Buffer.of(0x30), derLength(body.length), body]));
  }
}
