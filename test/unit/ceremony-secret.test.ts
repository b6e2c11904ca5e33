import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { combine } from 'shamir-secret-sharing';
import {
  binomial,
  combineShares,
  generateCeremonySecret,
  proveSubsets,
  secretCheck,
  secretMatchesCheck,
  splitSecret,
  subsets,
} from '../../src-main/ceremony/quorum/secret.js';
import { checkQuorumShape } from '../../src-main/ceremony/quorum/custodians.js';
import { isWiped, wipe, withWiped } from '../../src-main/ceremony/quorum/wipe.js';
import { derivePins, deriveYubiHsmAuthPassword, pinLength } from '../../src-main/ceremony/quorum/pins.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => `c${i + 1}`);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('quorum shape', () => {
  const cases: [string, string[], number, string][] = [
    ['one custodian', ['alice'], 2, 'custodians: 1 named; a quorum needs from 2 to 255 custodians'],
    ['threshold 1', ['alice', 'bob'], 1, 'threshold: 1 is not allowed with 2 custodians; it must be an integer from 2 to 2'],
    ['threshold above N', ['alice', 'bob', 'carol'], 4, 'threshold: 4 is not allowed with 3 custodians; it must be an integer from 2 to 3'],
    ['fractional threshold', ['alice', 'bob', 'carol'], 2.5, 'threshold: 2.5 is not allowed with 3 custodians; it must be an integer from 2 to 3'],
    ['empty name', ['alice', ''], 2, 'custodians[1]: must be a non-empty name'],
    ['name with a slash', ['alice', 'bob/x'], 2, 'custodians[1]: must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit'],
    ['duplicate ignoring case', ['alice', 'bob', 'Alice'], 2, "custodians[2]: 'Alice' is already custodians[0] ('alice'); names must be unique (ignoring case)"],
    ['256 custodians', names(256), 2, 'custodians: 256 named; a quorum needs from 2 to 255 custodians'],
  ];
  it.each(cases)('%s', (_n, custodians, threshold, message) => {
    expect(() => checkQuorumShape(custodians, threshold)).toThrow(message);
  });
  it('accepts 2-of-2 and 255-of-255', () => {
    expect(() => checkQuorumShape(['a', 'b'], 2)).not.toThrow();
    expect(() => checkQuorumShape(names(255), 255)).not.toThrow();
  });
});

describe('split and combine', () => {
  it('every M-subset rebuilds S; no (M-1)-subset does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 2, max: n }))),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        async ([n, m], secret) => {
          const shares = await splitSecret(secret, names(n), m);
          expect(shares.map((s) => s.index)).toEqual(names(n).map((_, i) => i + 1));
          for (const pick of subsets(n, m)) {
            const s = await combineShares(pick.map((i) => shares[i]!.share), m);
            expect(same(s, secret)).toBe(true);
          }
          for (const pick of subsets(n, m - 1)) {
            const fewer = pick.map((i) => shares[i]!.share);
            // Our combine refuses outright...
            await expect(combineShares(fewer, m)).rejects.toThrow(`${m - 1} share${m - 1 === 1 ? '' : 's'} given; ${m} are needed`);
            // ...and the library itself, asked anyway, throws for one share and silently returns another secret for more.
            if (fewer.length < 2) await expect(combine(fewer)).rejects.toThrow('shares must have at least 2');
            else expect(same(await combine(fewer), secret)).toBe(false);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses the same share twice and malformed shares', async () => {
    const shares = await splitSecret(generateCeremonySecret(), ['alice', 'bob', 'carol'], 2);
    await expect(combineShares([shares[0]!.share, shares[0]!.share], 2)).rejects.toThrow('shares[1] is the same share as shares[0]');
    await expect(combineShares([shares[0]!.share, new Uint8Array(32)], 2)).rejects.toThrow('shares[1]: not a 33-byte share');
    await expect(combineShares([shares[0]!.share, shares[1]!.share], 1)).rejects.toThrow('threshold: 1 must be an integer of at least 2');
  });

  it('split validates its inputs', async () => {
    await expect(splitSecret(new Uint8Array(16), ['a', 'b'], 2)).rejects.toThrow('secret: expected 32 bytes');
    await expect(splitSecret(generateCeremonySecret(), ['a', 'b'], 3)).rejects.toThrow('threshold: 3 is not allowed with 2 custodians');
  });

  it('proves every subset against the public check and notices a wrong share', async () => {
    const secret = generateCeremonySecret();
    const check = secretCheck(secret, 'cer-1');
    expect(check).toMatch(/^[0-9a-f]{64}$/);
    expect(secretMatchesCheck(secret, 'cer-1', check)).toBe(true);
    expect(secretMatchesCheck(secret, 'cer-2', check)).toBe(false);
    const shares = await splitSecret(secret, ['alice', 'bob', 'carol', 'dave'], 3);
    const proof = await proveSubsets(shares, 3, 'cer-1', check);
    expect(proof.allOk).toBe(true);
    expect(proof.subsets.map((s) => s.custodians.join('+'))).toEqual(['alice+bob+carol', 'alice+bob+dave', 'alice+carol+dave', 'bob+carol+dave']);
    const damaged = shares.map((s) => ({ ...s, share: Uint8Array.from(s.share) }));
    damaged[3]!.share[0]! ^= 1;
    const bad = await proveSubsets(damaged, 3, 'cer-1', check);
    expect(bad.allOk).toBe(false);
    expect(bad.subsets.filter((s) => !s.ok).length).toBe(3);
  });

  it('subsets and binomial agree', () => {
    for (let n = 0; n <= 7; n++) for (let k = 0; k <= n; k++) expect([...subsets(n, k)].length).toBe(binomial(n, k));
  });
});

describe('wipe', () => {
  it('zeroes buffers, even when the callback throws', async () => {
    const a = generateCeremonySecret();
    const b = Buffer.from([1, 2, 3]);
    wipe(a, undefined, b);
    expect(isWiped(a) && isWiped(b)).toBe(true);
    const c = generateCeremonySecret();
    await expect(withWiped(c, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(isWiped(c)).toBe(true);
  });
});

describe('PINs', () => {
  const secret = new Uint8Array(32).fill(7);
  it('are 32 base32 characters, distinct, deterministic and bound to the ceremony', () => {
    const pins = derivePins(secret, 'cer-1');
    expect(pins.userPin).toMatch(/^[A-Z2-7]{32}$/);
    expect(pins.soPin).toMatch(/^[A-Z2-7]{32}$/);
    expect(pins.userPin).not.toBe(pins.soPin);
    expect(derivePins(secret, 'cer-1')).toEqual(pins);
    expect(derivePins(secret, 'cer-2').userPin).not.toBe(pins.userPin);
    const yubi = deriveYubiHsmAuthPassword(secret, 'cer-1');
    expect(yubi).toMatch(/^[A-Z2-7]{32}$/);
    expect([pins.userPin, pins.soPin]).not.toContain(yubi);
  });
  it('fit the token limits', () => {
    expect(pinLength({ minPinLength: 4, maxPinLength: 255 })).toBe(32); // SoftHSM
    expect(pinLength({ minPinLength: 0, maxPinLength: 20 })).toBe(20);
    expect(pinLength({ minPinLength: 40, maxPinLength: 255 })).toBe(40);
    expect(derivePins(secret, 'c', { maxPinLength: 20 }).userPin).toHaveLength(20);
    expect(derivePins(secret, 'c', { maxPinLength: 20 }).userPin).toBe(derivePins(secret, 'c').userPin.slice(0, 20));
  });
  const bad: [string, { minPinLength?: number; maxPinLength?: number }, string][] = [
    ['max below 16', { maxPinLength: 8 }, 'token PIN length: the token accepts at most 8 characters but a derived PIN needs at least 16'],
    ['min above max', { minPinLength: 64, maxPinLength: 32 }, 'token PIN length: the minimum 64 exceeds the maximum 32'],
    ['absurd min', { minPinLength: 5000 }, 'token PIN length: a minimum of 5000 characters is beyond 1024'],
  ];
  it.each(bad)('refuses %s', (_n, limits, message) => {
    expect(() => pinLength(limits)).toThrow(message);
  });
  it('needs a 32-byte secret', () => {
    expect(() => derivePins(new Uint8Array(31), 'c')).toThrow('secret: expected 32 bytes');
  });
});
