import { describe, expect, it } from 'vitest';
import { computeEntryHash, parseEntry, sealEntry, type EntryBody } from '../../src-main/transcript/entry.js';
import { GENESIS_PREV } from '../../src-main/transcript/canonical.js';

const body: EntryBody = {
  seq: 1,
  time: '2026-01-31T12:00:00.000Z',
  ceremonyId: 'c1',
  step: 'generate-key',
  kind: 'intent',
  actor: 'administrator',
  data: { label: 'kms-key', bits: 256 },
  prev: GENESIS_PREV,
};

describe('entry parsing', () => {
  it('accepts a sealed entry and hashes deterministically', () => {
    const e = sealEntry(body);
    expect(parseEntry(e)).toEqual({ ok: true, value: e });
    expect(computeEntryHash(e)).toBe(e.hash);
  });
  const cases: [string, unknown, string][] = [
    ['not an object', [1], 'must be a JSON object'],
    ['missing seq', (() => { const { seq: _s, ...r } = sealEntry(body); return r; })(), "field 'seq' is missing"],
    ['negative seq', { ...sealEntry(body), seq: -1 }, "field 'seq' must be a non-negative integer"],
    ['fractional seq', { ...sealEntry(body), seq: 1.5 }, "field 'seq' must be a non-negative integer"],
    ['string seq', { ...sealEntry(body), seq: '1' }, "field 'seq' must be a non-negative integer"],
    ['local time', { ...sealEntry(body), time: '2026-01-31T12:00:00+01:00' }, "field 'time' must be an ISO 8601 UTC time like 2026-01-31T12:00:00.000Z"],
    ['impossible date', { ...sealEntry(body), time: '2026-02-30T12:00:00.000Z' }, "field 'time' must be an ISO 8601 UTC time like 2026-01-31T12:00:00.000Z"],
    ['empty ceremonyId', { ...sealEntry(body), ceremonyId: '' }, "field 'ceremonyId' must be 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit"],
    ['bad kind', { ...sealEntry(body), kind: 'Intent' }, "field 'kind' must be 1-64 characters of a-z 0-9 . - starting with a letter"],
    ['empty actor', { ...sealEntry(body), actor: '' }, "field 'actor' must be a non-empty string of at most 256 characters"],
    ['array data', { ...sealEntry(body), data: [] }, "field 'data' must be a JSON object"],
    ['float in data', { ...sealEntry(body), data: { a: { b: [1, 2.5] } } }, 'field data.a.b[1] must be an integer between -(2^53-1) and 2^53-1 (got 2.5); put other numbers in a string'],
    ['lone surrogate in data', { ...sealEntry(body), data: { a: '\ud800' } }, 'field data.a contains a lone UTF-16 surrogate'],
    ['uppercase prev', { ...sealEntry(body), prev: 'A'.repeat(64) }, "field 'prev' must be 64 lowercase hexadecimal digits (a SHA-256)"],
    ['missing hash', body, "field 'hash' is missing"],
    ['unknown field', { ...sealEntry(body), extra: 1 }, "unknown field 'extra'"],
  ];
  it.each(cases)('%s', (_name, value, message) => {
    expect(parseEntry(value)).toEqual({ ok: false, error: message });
  });
});
