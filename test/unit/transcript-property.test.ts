// Property tests: no valid transcript is rejected; every single mutation of one is.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extendChain, genesisInput } from '../../src-main/transcript/build.js';
import { canonicalJson, GENESIS_PREV, sha256Hex } from '../../src-main/transcript/canonical.js';
import { computeEntryHash, type Entry, type EntryInput } from '../../src-main/transcript/entry.js';
import type { JsonValue } from '../../src-main/transcript/json-value.js';
import { prepareBundle } from '../../src-main/transcript/export.js';
import { spkiToPem } from '../../src-main/transcript/ecdsa.js';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { verifyLoaded, type LoadedBundle } from '../../src-main/transcript/verify.js';

const signer = NodeAuditSigner.generate();
const attacker = NodeAuditSigner.generate();
const trustedPem = spkiToPem(signer.spkiDer());
const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '1234abcd', label: 'audit' };

const key = fc.string({ unit: 'grapheme', maxLength: 6 }).filter((k) => k !== '__proto__');
const json: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.integer(),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(key, tie('v'), { maxKeys: 3 }),
  ),
})).v;
const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,10}$/);
const input: fc.Arbitrary<EntryInput> = fc.record({
  ceremonyId: id,
  step: id,
  kind: fc.constantFrom('intent', 'result', 'note', 'ceremony.start', 'ceremony.end'),
  actor: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }),
  data: fc.dictionary(key, json, { maxKeys: 4 }),
});
const transcript = fc
  .record({ inputs: fc.array(input, { minLength: 1, maxLength: 7 }), gaps: fc.array(fc.nat(5000), { minLength: 8, maxLength: 8 }), start: fc.integer({ min: 1.6e12, max: 2e12 }) })
  .map(({ inputs, gaps, start }) => {
    let ms = start;
    const first = inputs[0] as EntryInput;
    return extendChain(null, [genesisInput(first.ceremonyId, first.actor, token, signer.spkiDer()), ...inputs], (i) => {
      ms += gaps[i] ?? 0;
      return new Date(ms).toISOString();
    });
  });

async function bundleOf(entries: Entry[], path: string): Promise<LoadedBundle> {
  const p = await prepareBundle({ entries, signer, appVersion: '0.1.0', now: () => new Date(2e12), genesisSpki: signer.spkiDer() });
  return { path, files: p.files, unexpected: [] };
}

const utf8 = (b: Uint8Array) => Buffer.from(b).toString('utf8');

type Obj = Record<string, unknown>;
type Mutation =
  | { type: 'value'; index: number; field: string }
  | { type: 'delete'; index: number }
  | { type: 'duplicate'; index: number }
  | { type: 'swap'; index: number; other: number }
  | { type: 'insert'; index: number; entry: EntryInput }
  | { type: 'cut'; count: number }
  | { type: 'none' }
  | { type: 'signature' }
  | { type: 'digest'; file: string; what: 'sha256' | 'bytes' };

const CONTENT_FIELDS = ['time', 'ceremonyId', 'step', 'kind', 'actor', 'data'];
const ALL_FIELDS = [...CONTENT_FIELDS, 'seq', 'prev', 'hash'];

function changeField(e: Obj, field: string): void {
  const v = e[field];
  switch (field) {
    case 'seq':
      e.seq = (v as number) + 1;
      break;
    case 'time':
      e.time = new Date(Date.parse(v as string) + 1).toISOString();
      break;
    case 'kind':
      e.kind = v === 'intent' ? 'result' : 'intent';
      break;
    case 'data': {
      const d = { ...(v as Obj) };
      d['~mutated'] = d['~mutated'] === 1 ? 2 : 1;
      e.data = d;
      break;
    }
    case 'prev':
    case 'hash': {
      const s = v as string;
      e[field] = (s[0] === '0' ? '1' : '0') + s.slice(1);
      break;
    }
    default:
      e[field] = `${v as string}x`;
  }
}

interface Applied {
  bundle: LoadedBundle;
  resigned: boolean;
}

async function mutate(original: LoadedBundle, m: Mutation, level: 0 | 1 | 2 | 3): Promise<Applied> {
  const files = new Map(original.files);
  const b: LoadedBundle = { path: original.path, files, unexpected: [] };
  let entries = utf8(files.get('transcript.jsonl') as Uint8Array).trimEnd().split('\n').map((l) => JSON.parse(l) as Obj);
  const n = entries.length;
  const at = (i: number) => ((i % n) + n) % n;
  switch (m.type) {
    case 'value':
      changeField(entries[at(m.index)] as Obj, m.field);
      break;
    case 'delete':
      entries.splice(at(m.index), 1);
      break;
    case 'duplicate':
      entries.splice(at(m.index), 0, { ...(entries[at(m.index)] as Obj) });
      break;
    case 'swap': {
      const i = at(m.index);
      let j = at(m.other);
      if (i === j) j = (i + 1) % n;
      if (i === j) entries.push({ ...(entries[i] as Obj) });
      else [entries[i], entries[j]] = [entries[j] as Obj, entries[i] as Obj];
      break;
    }
    case 'insert': {
      const i = at(m.index);
      const near = entries[i] as Obj;
      entries.splice(i, 0, { ...m.entry, seq: near.seq, time: near.time, prev: near.prev, hash: '0'.repeat(64) });
      break;
    }
    case 'cut':
      entries = entries.slice(0, Math.max(0, n - 1 - (m.count % n)));
      break;
    default:
      break;
  }
  if (level >= 1 && entries.length > 0) {
    // The attacker recomputes the chain: renumber, relink, rehash.
    const firstSeq = (entries[0] as Obj).seq as number;
    let prev = firstSeq === 0 ? GENESIS_PREV : ((entries[0] as Obj).prev as string);
    entries.forEach((e, i) => {
      e.seq = firstSeq + i;
      e.prev = prev;
      e.hash = computeEntryHash(e as unknown as Entry);
      prev = e.hash as string;
    });
  }
  if (m.type !== 'signature' && m.type !== 'digest') files.set('transcript.jsonl', Buffer.from(entries.map((e) => `${canonicalJson(e)}\n`).join('')));
  let resigned = false;
  if (m.type === 'signature' || level >= 3) {
    files.set('transcript.jsonl.sig', await attacker.sign(files.get('transcript.jsonl') as Uint8Array));
    resigned = true;
    if (level >= 3 || m.type === 'signature') files.set('audit-public-key.pem', Buffer.from(spkiToPem(attacker.spkiDer())));
  }
  const manifest = JSON.parse(utf8(files.get('manifest.json') as Uint8Array));
  if (level >= 2 || m.type === 'signature') {
    // The attacker rewrites the manifest to match.
    if (entries.length > 0) {
      const first = entries[0] as Obj;
      const last = entries.at(-1) as Obj;
      const ids: string[] = [];
      for (const e of entries) if (!ids.includes(e.ceremonyId as string)) ids.push(e.ceremonyId as string);
      Object.assign(manifest, { entries: { first: first.seq, last: last.seq, count: entries.length }, prev: first.prev, head: last.hash, ceremonyIds: ids, ceremony: ids.length === 1 ? ids[0] : null });
    }
    if (resigned) manifest.auditKey.spkiSha256 = sha256Hex(attacker.spkiDer());
    for (const f of ['transcript.jsonl', 'transcript.jsonl.sig', 'audit-public-key.pem', 'VERIFY.md']) {
      const bytes = files.get(f) as Uint8Array;
      manifest.files[f] = { sha256: sha256Hex(bytes), bytes: bytes.length };
    }
  }
  if (m.type === 'digest') {
    const d = manifest.files[m.file];
    if (m.what === 'bytes') d.bytes += 1;
    else d.sha256 = (d.sha256[0] === '0' ? '1' : '0') + d.sha256.slice(1);
  }
  files.set('manifest.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  // The manifest is signed too: an attacker who re-signed the transcript re-signs the manifest with the same key.
  if (resigned) files.set('manifest.json.sig', await attacker.sign(files.get('manifest.json') as Uint8Array));
  return { bundle: b, resigned };
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ type: fc.constant('value' as const), index: fc.nat(), field: fc.constantFrom(...ALL_FIELDS) }),
  fc.record({ type: fc.constant('delete' as const), index: fc.nat() }),
  fc.record({ type: fc.constant('duplicate' as const), index: fc.nat() }),
  fc.record({ type: fc.constant('swap' as const), index: fc.nat(), other: fc.nat() }),
  fc.record({ type: fc.constant('insert' as const), index: fc.nat(), entry: input }),
  fc.record({ type: fc.constant('cut' as const), count: fc.nat() }),
  fc.record({ type: fc.constant('signature' as const) }),
  fc.record({ type: fc.constant('digest' as const), file: fc.constantFrom('transcript.jsonl', 'transcript.jsonl.sig', 'audit-public-key.pem', 'VERIFY.md'), what: fc.constantFrom('sha256' as const, 'bytes' as const) }),
);

describe('transcript properties', () => {
  it('accepts every valid transcript, whole or split into consecutive bundles', async () => {
    await fc.assert(
      fc.asyncProperty(transcript, fc.array(fc.nat(), { maxLength: 3 }), async (entries, cuts) => {
        const whole = await verifyLoaded([await bundleOf(entries, 'whole')], { expectAuditKeyPem: trustedPem });
        expect(whole.firstFailure).toBeNull();
        const points = [...new Set(cuts.map((c) => 1 + (c % entries.length)))].filter((p) => p < entries.length).sort((a, b) => a - b);
        const parts: Entry[][] = [];
        let from = 0;
        for (const p of [...points, entries.length]) {
          parts.push(entries.slice(from, p));
          from = p;
        }
        const bundles = await Promise.all(parts.map((p, i) => bundleOf(p, `part${i}`)));
        const split = await verifyLoaded(bundles.reverse());
        expect(split.firstFailure).toBeNull();
        expect(split.entries).toEqual(entries);
      }),
      { numRuns: 60 },
    );
  }, 60_000);

  it('rejects every single mutation, even with the chain, manifest and signature recomputed', async () => {
    await fc.assert(
      fc.asyncProperty(transcript, mutation, fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>, async (entries, m, level) => {
        // Recomputing the chain would undo an edit of seq, prev or hash: those are mutated at level 0 only.
        fc.pre(!(m.type === 'value' && !CONTENT_FIELDS.includes(m.field) && level > 0));
        const original = await bundleOf(entries, 'b');
        const { bundle, resigned } = await mutate(original, m, level);
        const anchored = await verifyLoaded([bundle], { expectAuditKeyPem: trustedPem });
        expect(anchored.ok, `${JSON.stringify(m)} level ${level}`).toBe(false);
        expect(anchored.firstFailure).not.toBeNull();
        if (!resigned) expect((await verifyLoaded([bundle])).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  }, 60_000); // 300 runs, each signing twice (transcript and manifest): seconds on a loaded machine

  it('control: the mutation harness without a mutation keeps a bundle valid', async () => {
    await fc.assert(
      fc.asyncProperty(transcript, fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>, async (entries, level) => {
        const { bundle } = await mutate(await bundleOf(entries, 'b'), { type: 'none' }, level);
        expect((await verifyLoaded([bundle])).firstFailure).toBeNull();
      }),
      { numRuns: 30 },
    );
  });

  it('rejects a middle bundle left out of a chain of bundles', async () => {
    await fc.assert(
      fc.asyncProperty(transcript.filter((e) => e.length >= 3), async (entries) => {
        const a = await bundleOf(entries.slice(0, 1), 'a');
        const c = await bundleOf(entries.slice(2), 'c');
        const r = await verifyLoaded([a, c]);
        expect(r.firstFailure).toMatchObject({ id: 'chain', seq: 1 });
      }),
      { numRuns: 20 },
    );
  });
});
