// The verifier's fast paths must agree exactly with the definitions they shortcut.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src-main/transcript/canonical.js';
import { computeEntryHash, entryLine, fastEntryCheckForTests, hashedText, parseEntry, sealEntry, type Entry } from '../../src-main/transcript/entry.js';
import { jsonProblem } from '../../src-main/transcript/json-value.js';
import { hashedTextFromCanonicalLine, isCanonicalText } from '../../src-main/transcript/line.js';

const anyJson = fc.jsonValue({ maxDepth: 3 });
const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 5 }), fc.constantFrom('hash', '"hash"', ',"hash":"', '10', '9', '__proto__', 'é', '\u{1F511}', '\uffff'));
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double(),
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.constantFrom(',"hash":"' + 'a'.repeat(64) + '"', '\u2028', '\ud800'),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(key, tie('v'), { maxKeys: 3 }),
  ),
})).v;
const time = fc.oneof(
  fc.date({ min: new Date('0000-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 })).map(
    ([y, mo, d, h, mi, s]) => `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}.000Z`,
  ),
  fc.string({ maxLength: 26 }),
);
const candidate = fc.record(
  {
    seq: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string()),
    time,
    ceremonyId: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,5}$/), fc.string({ maxLength: 4 })),
    step: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,5}$/), fc.string({ maxLength: 4 })),
    kind: fc.oneof(fc.constantFrom('intent', 'result', 'genesis'), fc.string({ maxLength: 4 })),
    actor: fc.string({ maxLength: 4 }),
    data: fc.oneof(fc.dictionary(key, value, { maxKeys: 4 }), anyJson),
    prev: fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.string({ maxLength: 3 })),
    hash: fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.string({ maxLength: 3 })),
    extra: fc.constant(1),
  },
  { requiredKeys: ['seq', 'time', 'ceremonyId', 'step', 'kind', 'actor', 'data', 'prev'] },
);

describe('fast paths agree with their definitions', () => {
  it('the fast entry check accepts only what the zod schema accepts', () => {
    fc.assert(
      fc.property(candidate, (c) => {
        if (fastEntryCheckForTests(c)) expect(parseEntry(JSON.parse(JSON.stringify(c)))).toMatchObject({ ok: true });
        // And every entry zod accepts has a valid time by Date's own round trip.
        const r = parseEntry(c);
        if (r.ok) expect(new Date(Date.parse(r.value.time)).toISOString()).toBe(r.value.time);
      }),
      { numRuns: 2000 },
    );
  });

  it('the time check is Date#toISOString round-tripping', () => {
    fc.assert(
      fc.property(time, (t) => {
        const e = { ...sealEntry({ seq: 1, time: '2026-01-01T00:00:00.000Z', ceremonyId: 'c', step: 's', kind: 'intent', actor: 'a', data: {}, prev: '0'.repeat(64) }), time: t };
        const ms = Date.parse(t);
        const expected = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(t) && Number.isFinite(ms) && new Date(ms).toISOString() === t;
        expect(parseEntry(e).ok).toBe(expected);
      }),
      { numRuns: 2000 },
    );
    expect(parseEntry({ ...sealEntry({ seq: 1, time: '2024-02-29T23:59:59.999Z', ceremonyId: 'c', step: 's', kind: 'intent', actor: 'a', data: {}, prev: '0'.repeat(64) }) }).ok).toBe(true);
    expect(parseEntry({ ...sealEntry({ seq: 1, time: '2100-02-29T00:00:00.000Z', ceremonyId: 'c', step: 's', kind: 'intent', actor: 'a', data: {}, prev: '0'.repeat(64) }) }).ok).toBe(false);
  });

  it('the canonical-text check and the hash cut from the line equal JCS', () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 5 }), fc.boolean(), (data, reorder) => {
        fc.pre(jsonProblem(data, 'data') === undefined);
        const r = parseEntry({ ...sealEntry({ seq: 3, time: '2026-01-01T00:00:00.000Z', ceremonyId: 'c', step: 's', kind: 'intent', actor: 'a', data: data as Entry['data'], prev: '0'.repeat(64) }) });
        fc.pre(r.ok);
        const entry = (r as { value: Entry }).value;
        const line = entryLine(entry).slice(0, -1);
        expect(isCanonicalText(JSON.parse(line), line)).toBe(true);
        expect(hashedTextFromCanonicalLine(line)).toBe(hashedText(entry));
        const other = reorder ? JSON.stringify(JSON.parse(line), null, 0) : JSON.stringify(entry);
        expect(isCanonicalText(JSON.parse(line), other)).toBe(canonicalJson(entry) === other);
        expect(computeEntryHash(entry)).toBe(entry.hash);
      }),
      { numRuns: 1000 },
    );
  });
});
