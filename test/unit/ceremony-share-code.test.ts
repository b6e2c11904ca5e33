import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BASE32_ALPHABET } from '../../src-main/ceremony/quorum/base32.js';
import {
  CODE_LENGTH,
  ceremonyBinding,
  decodeShareCode,
  decodeSharePayload,
  encodeShareCode,
  encodeSharePayload,
  ShareCodeError,
} from '../../src-main/ceremony/quorum/share-code.js';

const fields = fc.record({
  ceremonyId: fc.string({ minLength: 1, maxLength: 40 }),
  index: fc.integer({ min: 1, max: 255 }),
  threshold: fc.integer({ min: 2, max: 255 }),
  share: fc
    .tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 255 }))
    .map(([body, x]) => Uint8Array.from([...body, x])),
});

const flat = (code: string) => code.replace(/-/g, '');
const regroup = (chars: string) => chars.match(/.{1,5}/g)!.join('-');
const rejects = (code: string) => {
  try {
    decodeShareCode(code);
    return false;
  } catch (e) {
    return e instanceof ShareCodeError;
  }
};

// A fixed share so that the error table below is stable.
const SHARE = Uint8Array.from({ length: 33 }, (_, i) => (i * 37 + 11) & 255);
SHARE[32] = 200;
const CODE = encodeShareCode({ ceremonyId: 'cer-1', index: 2, threshold: 3, share: SHARE });
const CHARS = flat(CODE);
const swap = (s: string, i: number) => s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
const other = (c: string) => (c === 'A' ? 'B' : 'A');
const at = (i: number, c: string) => CHARS.slice(0, i) + c + CHARS.slice(i + 1);

describe('share code', () => {
  it('has 18 groups of 5 base32 characters', () => {
    expect(CODE).toMatch(/^[A-Z2-7]{5}(-[A-Z2-7]{5}){17}$/);
  });

  it('round-trips any share, forgiving case and separators', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const code = encodeShareCode(f);
        for (const typed of [code, code.toLowerCase(), flat(code), code.replace(/-/g, ' '), `  ${code.replace(/-/g, ' -  ')}\n`]) {
          const d = decodeShareCode(typed, { ceremonyId: f.ceremonyId });
          expect(d).toEqual({ version: 1, binding: ceremonyBinding(f.ceremonyId).toString('hex'), index: f.index, threshold: f.threshold, share: f.share });
        }
      }),
      { numRuns: 200 },
    );
  });

  it('catches every single-character substitution and every adjacent transposition', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const chars = flat(encodeShareCode(f));
        expect(chars).toHaveLength(CODE_LENGTH);
        for (let i = 0; i < CODE_LENGTH; i++) {
          for (const c of BASE32_ALPHABET) {
            if (c !== chars[i]) expect(rejects(regroup(chars.slice(0, i) + c + chars.slice(i + 1)))).toBe(true);
          }
          if (i + 1 < CODE_LENGTH && chars[i] !== chars[i + 1]) expect(rejects(regroup(swap(chars, i)))).toBe(true);
        }
      }),
      { numRuns: 10 }, // exhaustive per code: 90 x 31 substitutions + 89 swaps each
    );
  });

  it('0 is read as O; swapping two whole groups is caught', () => {
    const withO = CHARS.indexOf('O');
    if (withO >= 0) expect(decodeShareCode(at(withO, '0')).share).toEqual(SHARE);
    const groups = CODE.split('-');
    const swapped = [groups[1], groups[0], ...groups.slice(2)].join('-');
    expect(() => decodeShareCode(swapped)).toThrow('share code: groups 1 and 2 look mistyped (the check character does not match)');
  });

  const g = CODE.split('-');
  const cases: [string, string, string, number[]][] = [
    ['empty', '   ', 'share code: nothing was entered', []],
    ['1 is ambiguous', at(7, '1'), "share code group 2, character 3: '1' is not used in share codes; it is either the letter I or the letter L", [2]],
    ['8 is not base32', at(12, '8'), "share code group 3, character 3: '8' is not used in share codes (only A-Z and 2-7)", [3]],
    ['non-ASCII', at(0, 'É'), 'share code group 1, character 1: U+00C9 is not used in share codes (only A-Z and 2-7)', [1]],
    ['a short group', [...g.slice(0, 4), g[4]!.slice(0, 4), ...g.slice(5)].join('-'), 'share code group 5: 4 characters; every group has 5', [5]],
    ['a missing group, no separators', CHARS.slice(5), 'share code: 85 characters; a share code has 90 (18 groups of 5)', []],
    ['an extra character', CHARS + 'A', 'share code: 91 characters; a share code has 90 (18 groups of 5)', []],
    ['a substitution', regroup(at(33, other(CHARS[33]!))), 'share code: group 7 looks mistyped (the check character does not match)', [7]],
    ['a transposition across groups', regroup(swap(CHARS, 9)), 'share code: groups 2 and 3 look mistyped (the check character does not match)', [2, 3]],
  ];
  it.each(cases)('rejects %s', (_n, typed, message, groups) => {
    let error: unknown;
    try {
      decodeShareCode(typed);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ShareCodeError);
    expect((error as ShareCodeError).message).toBe(message);
    expect((error as ShareCodeError).groups).toEqual(groups);
  });

  it('rejects a share of another ceremony by its binding', () => {
    expect(() => decodeShareCode(CODE, { ceremonyId: 'cer-2' })).toThrow(
      `share: this share belongs to another ceremony (its ceremony fingerprint is ${ceremonyBinding('cer-1').toString('hex')}; ceremony cer-2 has ${ceremonyBinding('cer-2').toString('hex')})`,
    );
  });

  it('checks the payload: whole-code check byte, version, contents', () => {
    const p = encodeSharePayload({ ceremonyId: 'cer-1', index: 2, threshold: 3, share: SHARE });
    const flipped = Uint8Array.from(p);
    flipped[20]! ^= 1;
    expect(() => decodeSharePayload(flipped)).toThrow('share code: every group checks but the code as a whole does not');
    expect(() => decodeSharePayload(p.subarray(0, 44))).toThrow('share: expected 45 bytes, got 44');
    expect(decodeSharePayload(p).index).toBe(2);
  });

  it('never repeats a valid share character in an error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: CODE_LENGTH - 2 }), (i) => {
        try {
          decodeShareCode(regroup(swap(CHARS, i)));
        } catch (e) {
          const msg = (e as Error).message;
          // Messages may contain the words of the sentence, never a run of share characters.
          for (const grp of g) expect(msg).not.toContain(grp);
        }
      }),
    );
  });

  it('validates what it encodes', () => {
    expect(() => encodeShareCode({ ceremonyId: 'c', index: 0, threshold: 2, share: SHARE })).toThrow('index: 0 must be 1..255');
    expect(() => encodeShareCode({ ceremonyId: 'c', index: 1, threshold: 1, share: SHARE })).toThrow('threshold: 1 must be 2..255');
    expect(() => encodeShareCode({ ceremonyId: 'c', index: 1, threshold: 2, share: new Uint8Array(33) })).toThrow('share: expected a 33-byte Shamir share');
  });
});
