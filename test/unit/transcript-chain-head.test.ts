import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareChainHead, decodeChainHead, encodeChainHead, type ChainView } from '../../src-main/transcript/chain-head.js';
import { p384SpkiFromEcPoint, rawToDer } from '../../src-main/transcript/ecdsa.js';

const h = (c: string) => c.repeat(64);
function view(hashes: string[]): ChainView {
  return { head: () => (hashes.length ? { seq: hashes.length - 1, hash: hashes.at(-1) as string } : null), hashAt: (s) => hashes[s] };
}

describe('chain head object', () => {
  it('encodes canonical JSON and decodes strictly', () => {
    expect(Buffer.from(encodeChainHead({ seq: 7, hash: h('a') })).toString()).toBe(`{"hash":"${h('a')}","seq":7}`);
    expect(decodeChainHead(encodeChainHead({ seq: 7, hash: h('a') }))).toEqual({ seq: 7, hash: h('a') });
    const bad: [string, string][] = [
      ['nope', 'it is not JSON'],
      ['[]', 'it is not a JSON object'],
      [`{"hash":"${h('a')}"}`, 'it must hold exactly the fields hash and seq, not hash'],
      [`{"hash":"${h('a')}","seq":-1}`, "field 'seq' must be a non-negative integer"],
      [`{"hash":"ABC","seq":1}`, "field 'hash' must be 64 lowercase hexadecimal digits"],
      [`{"seq":1,"hash":"${h('a')}"}`, 'it is not in canonical JSON (RFC 8785) form'],
    ];
    for (const [text, why] of bad) expect(() => decodeChainHead(Buffer.from(text))).toThrow(`The token's chain head object 'keyceremony-chain-head' is invalid: ${why}.`);
  });

  it('explains every way the store and the token can differ', () => {
    expect(compareChainHead(null, view([])).status).toBe('both-empty');
    expect(compareChainHead(null, view([h('a')])).message).toBe(
      'The token holds no chain head, but the local transcript has entries up to seq 0: either the first ceremony on this token ended before its head was written, or this transcript belongs to another token (check its genesis entry).',
    );
    expect(compareChainHead({ seq: 2, hash: h('c') }, view([]))).toEqual({
      status: 'store-empty',
      message: `The token's chain head is seq 2 (${'c'.repeat(16)}…) but the local transcript is empty: entries 0-2 were written on another computer.`,
      missing: { first: 0, last: 2 },
    });
    expect(compareChainHead({ seq: 1, hash: h('b') }, view([h('a'), h('b')])).status).toBe('equal');
    expect(compareChainHead({ seq: 3, hash: h('d') }, view([h('a'), h('b')]))).toEqual({
      status: 'store-behind',
      message: `The token's chain head is seq 3 (${'d'.repeat(16)}…) but the local transcript ends at seq 1: entries 2-3 were written on another computer and are missing here.`,
      missing: { first: 2, last: 3 },
    });
    expect(compareChainHead({ seq: 0, hash: h('a') }, view([h('a'), h('b')])).message).toBe(
      "The local transcript (head seq 1) runs past the token's chain head (seq 0) and agrees with it there: the last ceremony ended before its head was written to the token.",
    );
    expect(compareChainHead({ seq: 1, hash: h('e') }, view([h('a'), h('b')])).message).toBe(
      `The local transcript's entry seq 1 has hash ${'b'.repeat(16)}… but the token's chain head says ${'e'.repeat(16)}…: this transcript is not this token's history, or one of them was altered.`,
    );
  });
});

describe('ECDSA encodings', () => {
  it('raw r||s converts to the DER node:crypto produces and verifies', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        const raw = sign('sha384', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        const der = rawToDer(raw);
        expect(verify('sha384', data, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
      }),
      { numRuns: 50 },
    );
    // Small and high-bit values: leading zeros stripped, a 0x00 added before a set high bit.
    expect(Buffer.from(rawToDer(Uint8Array.from([0, 0, 1, 0x80, 0, 0, 0, 0]))).toString('hex')).toBe('300702020180020100');
    expect(Buffer.from(rawToDer(Uint8Array.from([0x80, 0x01]))).toString('hex')).toBe('3007020200800201' + '01');
  });

  it('builds the SPKI from CKA_EC_POINT with or without its OCTET STRING wrapper', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const point = spki.subarray(spki.length - 97);
    expect(Buffer.from(p384SpkiFromEcPoint(point)).equals(spki)).toBe(true);
    expect(Buffer.from(p384SpkiFromEcPoint(Buffer.concat([Buffer.from([0x04, 0x61]), point]))).equals(spki)).toBe(true);
    expect(() => p384SpkiFromEcPoint(point.subarray(1))).toThrow('CKA_EC_POINT of 96 bytes is not an uncompressed P-384 point');
  });
});
