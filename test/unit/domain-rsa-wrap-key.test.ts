// The domain RSA wrap key: every host that rebuilds the secret must derive the same pair, another secret
// another pair, and the pair must be a sound RSA key by independent judges (node's OpenSSL sign/verify and
// OAEP, `openssl pkey -check`, Python `cryptography`'s strict PKCS#8 loader).
import { execFileSync } from 'node:child_process';
import { checkPrimeSync, constants, createPublicKey, privateDecrypt, publicEncrypt, randomBytes, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DOMAIN_RSA_WRAP_KEY_BITS, domainRsaWrapKey } from '../../src-main/ceremony/quorum/domain.js';
import { deterministicRsaKey, isProbablePrime, SeededStream } from '../../src-main/ceremony/quorum/deterministic-rsa.js';
import { pythonLoadPrivateKey } from '../helpers/strict-pkcs8.js';

const secretA = Buffer.alloc(32, 0xa5);
const secretB = Buffer.alloc(32, 0x5a);

function pkcs8(key: ReturnType<typeof domainRsaWrapKey>): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' });
}

describe('domain RSA wrap key', () => {
  const started = Date.now();
  const a1 = domainRsaWrapKey(secretA);
  console.log(`domain RSA-${DOMAIN_RSA_WRAP_KEY_BITS} wrap key derived in ${Date.now() - started} ms`);

  it('is the same for the same secret and different for another', () => {
    const a2 = domainRsaWrapKey(Buffer.from(secretA));
    const b = domainRsaWrapKey(secretB);
    expect(pkcs8(a2).equals(pkcs8(a1))).toBe(true);
    expect(pkcs8(b).equals(pkcs8(a1))).toBe(false);
    const nA = a1.export({ format: 'jwk' }).n;
    expect(b.export({ format: 'jwk' }).n).not.toBe(nA);
  });

  it('has the asked size and e = 65537', () => {
    expect(a1.asymmetricKeyType).toBe('rsa');
    expect(a1.asymmetricKeyDetails?.modulusLength).toBe(DOMAIN_RSA_WRAP_KEY_BITS);
    expect(a1.asymmetricKeyDetails?.publicExponent).toBe(65537n);
  });

  it('signs and verifies, and OAEP-SHA-1 round-trips, with node:crypto', () => {
    const msg = randomBytes(64);
    const sig = sign('sha256', msg, a1);
    const pub = createPublicKey(a1);
    expect(verify('sha256', msg, pub, sig)).toBe(true);
    expect(verify('sha256', Buffer.concat([msg, Buffer.from([0])]), pub, sig)).toBe(false);
    const aesKey = randomBytes(32);
    const ct = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, aesKey);
    expect(privateDecrypt({ key: a1, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, ct).equals(aesKey)).toBe(true);
  });

  it('passes openssl pkey -check and Python cryptography loads it strictly', () => {
    const pem = a1.export({ format: 'pem', type: 'pkcs8' });
    const out = execFileSync('openssl', ['pkey', '-check', '-noout'], { input: pem, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    expect(out).toMatch(/valid/i);
    expect(pythonLoadPrivateKey(pkcs8(a1))).toBe(`RSA ${DOMAIN_RSA_WRAP_KEY_BITS}`);
  });

  it('its primes are prime by OpenSSL (checkPrimeSync) and |p - q| is large', () => {
    const jwk = a1.export({ format: 'jwk' });
    const p = Buffer.from(jwk.p as string, 'base64url');
    const q = Buffer.from(jwk.q as string, 'base64url');
    expect(checkPrimeSync(p, { checks: 64 })).toBe(true);
    expect(checkPrimeSync(q, { checks: 64 })).toBe(true);
    const diff = BigInt('0x' + p.toString('hex')) - BigInt('0x' + q.toString('hex'));
    expect((diff < 0n ? -diff : diff) > 1n << BigInt(DOMAIN_RSA_WRAP_KEY_BITS / 2 - 100)).toBe(true);
  });

  it('primality test: known primes pass, known composites (a Carmichael number) fail', () => {
    const s = new SeededStream(Buffer.alloc(32, 1), 'test');
    const m127 = (1n << 127n) - 1n; // Mersenne prime
    expect(isProbablePrime(m127, 20, s)).toBe(true);
    expect(isProbablePrime(m127 * 3n, 20, s)).toBe(false);
    expect(isProbablePrime(561n, 20, s)).toBe(false);
    expect(isProbablePrime((1n << 89n) - 1n, 20, s)).toBe(true);
    expect(isProbablePrime((1n << 67n) - 1n, 20, s)).toBe(false); // 193707721 * 761838257287
  });

  it('the purpose separates streams from one seed', () => {
    const seed = randomBytes(32);
    const t = Date.now();
    const x = deterministicRsaKey(seed, 2048, 'one');
    console.log(`RSA-2048 from a seed in ${Date.now() - t} ms`);
    const y = deterministicRsaKey(seed, 2048, 'two');
    expect(x.export({ format: 'jwk' }).n).not.toBe(y.export({ format: 'jwk' }).n);
    expect(x.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('refuses a secret of the wrong size', () => {
    expect(() => domainRsaWrapKey(Buffer.alloc(31))).toThrow(/expected 32 bytes/);
  });
});
