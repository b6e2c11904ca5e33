// An RSA key pair generated deterministically from a seed, so that every holder of the domain secret derives
// the same pair and none has to be stored. Probable primes as FIPS 186-4 B.3.3 shapes them (top two bits set,
// so p*q has exactly the asked size; gcd(e, p-1) = 1; |p - q| > 2^(nlen/2 - 100)), tested by Miller-Rabin
// with bases drawn from the same stream, with more rounds than FIPS 186-4 Table C.3 asks for these sizes.
import { createHmac, createPrivateKey, type KeyObject } from 'node:crypto';

export const RSA_PUBLIC_EXPONENT = 65537n;
/** Rounds on a candidate that survived trial division; Table C.3 asks 4 (1536-bit) to 5 (1024-bit) for 2^-100. */
export const MILLER_RABIN_ROUNDS = 64;

/** HMAC-SHA-256 in counter mode: a stream of bytes that depends on nothing but the seed and the purpose. */
export class SeededStream {
  private counter = 0;
  constructor(private readonly seed: Uint8Array, private readonly purpose: string) {}

  bytes(n: number): Buffer {
    const blocks: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const counter = Buffer.alloc(4);
      counter.writeUInt32BE(this.counter++);
      const block = createHmac('sha256', this.seed).update(this.purpose, 'utf8').update(counter).digest();
      blocks.push(block);
      have += block.length;
    }
    return Buffer.concat(blocks).subarray(0, n);
  }

  /** A number of exactly `bits` bits read from the stream (the excess top bits of the first byte cleared). */
  bigint(bits: number): bigint {
    const buf = this.bytes(Math.ceil(bits / 8));
    const excess = buf.length * 8 - bits;
    buf[0] = buf[0]! & (0xff >> excess);
    return BigInt('0x' + buf.toString('hex'));
  }
}

const SMALL_PRIMES: bigint[] = (() => {
  const limit = 2000;
  const sieve = new Uint8Array(limit + 1);
  const out: bigint[] = [];
  for (let i = 2; i <= limit; i++) {
    if (sieve[i]) continue;
    out.push(BigInt(i));
    for (let j = i * i; j <= limit; j += i) sieve[j] = 1;
  }
  return out;
})();

export function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('no modular inverse');
  return ((oldS % m) + m) % m;
}

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

/** Miller-Rabin, bases uniform in [2, w-2] from the stream (FIPS 186-4 C.3.1). */
export function isProbablePrime(w: bigint, rounds: number, stream: SeededStream): boolean {
  if (w < 4n) return w === 2n || w === 3n;
  if ((w & 1n) === 0n) return false;
  let m = w - 1n;
  let a = 0;
  while ((m & 1n) === 0n) {
    m >>= 1n;
    a++;
  }
  const wlen = bitLength(w);
  for (let i = 0; i < rounds; i++) {
    let b: bigint;
    do b = stream.bigint(wlen);
    while (b <= 1n || b >= w - 1n);
    let z = modPow(b, m, w);
    if (z === 1n || z === w - 1n) continue;
    let composite = true;
    for (let j = 1; j < a; j++) {
      z = (z * z) % w;
      if (z === w - 1n) {
        composite = false;
        break;
      }
      if (z === 1n) break;
    }
    if (composite) return false;
  }
  return true;
}

function nextPrime(bits: number, stream: SeededStream, avoid?: bigint): bigint {
  const topTwo = 3n << BigInt(bits - 2);
  const minDistance = 1n << BigInt(bits - 100);
  for (;;) {
    const candidate = stream.bigint(bits) | topTwo | 1n;
    if (SMALL_PRIMES.some((sp) => candidate % sp === 0n)) continue;
    if (gcd(RSA_PUBLIC_EXPONENT, candidate - 1n) !== 1n) continue;
    if (avoid !== undefined) {
      const distance = candidate > avoid ? candidate - avoid : avoid - candidate;
      if (distance <= minDistance) continue;
    }
    // One round weeds out almost every composite cheaply; the full count runs only on the survivor.
    if (!isProbablePrime(candidate, 1, stream)) continue;
    if (isProbablePrime(candidate, MILLER_RABIN_ROUNDS, stream)) return candidate;
  }
}

function toB64url(n: bigint): string {
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return Buffer.from(hex, 'hex').toString('base64url');
}

/**
 * The RSA private key (e = 65537, modulus of exactly `modulusBits`) that `seed` determines. `purpose` separates
 * streams so that one seed could feed unrelated keys.
 */
export function deterministicRsaKey(seed: Uint8Array, modulusBits: 2048 | 3072, purpose: string): KeyObject {
  const stream = new SeededStream(seed, purpose);
  const half = modulusBits / 2;
  const p0 = nextPrime(half, stream);
  const q0 = nextPrime(half, stream, p0);
  const [p, q] = p0 > q0 ? [p0, q0] : [q0, p0];
  const n = p * q;
  if (bitLength(n) !== modulusBits) throw new Error(`modulus of ${bitLength(n)} bits`);
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  const d = modInverse(RSA_PUBLIC_EXPONENT, lambda);
  // FIPS 186-4 B.3.1: d must exceed 2^(nlen/2); with e this small it always does, but say so if not.
  if (d <= 1n << BigInt(half)) throw new Error('private exponent too small');
  return createPrivateKey({
    format: 'jwk',
    key: {
      kty: 'RSA',
      n: toB64url(n),
      e: toB64url(RSA_PUBLIC_EXPONENT),
      d: toB64url(d),
      p: toB64url(p),
      q: toB64url(q),
      dp: toB64url(d % (p - 1n)),
      dq: toB64url(d % (q - 1n)),
      qi: toB64url(modInverse(q, p)),
    },
  });
}
