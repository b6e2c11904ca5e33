import { describe, expect, it } from 'vitest';
import { extendChain, genesisInput } from '../../src-main/transcript/build.js';
import { sha256Hex } from '../../src-main/transcript/canonical.js';
import { entryLine, sealEntry, type Entry } from '../../src-main/transcript/entry.js';
import { prepareBundle } from '../../src-main/transcript/export.js';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { verifyLoaded, type LoadedBundle } from '../../src-main/transcript/verify.js';

const signer = NodeAuditSigner.generate();
const other = NodeAuditSigner.generate();
const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '1234abcd', label: 'test' };
const t = (i: number) => new Date(Date.parse('2026-01-31T12:00:00.000Z') + i * 1000).toISOString();
const chain: Entry[] = extendChain(null, [
  genesisInput('c1', 'administrator', token, signer.spkiDer()),
  { ceremonyId: 'c1', step: 'generate', kind: 'intent', actor: 'administrator', data: { label: 'k1' } },
  { ceremonyId: 'c1', step: 'generate', kind: 'result', actor: 'token', data: { handle: 'x' } },
  { ceremonyId: 'c2', step: 'wrap', kind: 'intent', actor: 'administrator', data: {} },
  { ceremonyId: 'c2', step: 'wrap', kind: 'result', actor: 'token', data: { bytes: 40 } },
], t);

async function bundle(entries: Entry[], path = 'b1', s = signer): Promise<LoadedBundle> {
  const p = await prepareBundle({ entries, signer: s, appVersion: '0.1.0', now: () => new Date(t(100)), ...(s === signer ? { genesisSpki: signer.spkiDer() } : {}) });
  return { path, files: p.files, unexpected: [] };
}

const text = (b: LoadedBundle, name: string) => Buffer.from(b.files.get(name) as Uint8Array).toString('utf8');
const setText = (b: LoadedBundle, name: string, value: string) => b.files.set(name, Buffer.from(value, 'utf8'));
function editLine(b: LoadedBundle, index: number, edit: (e: Record<string, unknown>) => void, rehash = false) {
  const lines = text(b, 'transcript.jsonl').trimEnd().split('\n');
  const e = JSON.parse(lines[index] as string) as Record<string, unknown>;
  edit(e);
  if (rehash) Object.assign(e, sealEntry({ ...(e as unknown as Entry) }));
  lines[index] = entryLine(e as unknown as Entry).trimEnd();
  setText(b, 'transcript.jsonl', `${lines.join('\n')}\n`);
}

describe('verifier', () => {
  it('accepts a valid bundle and a valid pair of bundles', async () => {
    const one = await verifyLoaded([await bundle(chain)]);
    expect(one.ok).toBe(true);
    expect(one.checks.map((c) => `${c.id}:${c.status}`)).toEqual([
      'files:pass', 'manifest:pass', 'entries:pass', 'manifest-content:pass', 'digests:pass', 'signature:pass', 'manifest-signature:pass', 'chain:pass', 'audit-key:pass', 'approvals:skipped',
    ]);
    const two = await verifyLoaded([await bundle(chain.slice(3), 'b2'), await bundle(chain.slice(0, 3), 'b1')]);
    expect(two.firstFailure).toBeNull();
    expect(two.entries.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuses a range without an anchor, accepts it with --expect-audit-key', async () => {
    const b = await bundle(chain.slice(2));
    expect((await verifyLoaded([b])).firstFailure?.detail).toBe('the audit key is not anchored: no bundle holds the genesis entry (seq 0) and no --expect-audit-key was given');
    const pem = text(b, 'audit-public-key.pem');
    expect((await verifyLoaded([b], { expectAuditKeyPem: pem })).ok).toBe(true);
  });

  const H = '[0-9a-f]{64}';
  const cases: [string, (b: LoadedBundle) => void | Promise<void>, string, string | RegExp, number?][] = [
    ['a missing file', (b) => void b.files.delete('transcript.jsonl.sig'), 'files', "missing file 'transcript.jsonl.sig'"],
    ['an unexpected file', (b) => void b.unexpected.push('notes.txt'), 'files', "unexpected file 'notes.txt'; a bundle holds exactly transcript.jsonl, transcript.jsonl.sig, audit-public-key.pem, manifest.json, manifest.json.sig, VERIFY.md"],
    ['a manifest that is not JSON', (b) => setText(b, 'manifest.json', '{'), 'manifest', 'manifest.json is not valid JSON'],
    ['a manifest with an unknown field', (b) => setText(b, 'manifest.json', JSON.stringify({ ...JSON.parse(text(b, 'manifest.json')), extra: 1 })), 'manifest', "manifest.json has unknown field 'extra'"],
    ['a manifest without entries.first', (b) => { const m = JSON.parse(text(b, 'manifest.json')); delete m.entries.first; setText(b, 'manifest.json', JSON.stringify(m)); }, 'manifest', "manifest.json: field 'entries.first' is missing"],
    ['a manifest digest changed', (b) => { const m = JSON.parse(text(b, 'manifest.json')); m.files['VERIFY.md'].sha256 = '0'.repeat(64); setText(b, 'manifest.json', JSON.stringify(m)); }, 'digests', new RegExp(`^VERIFY.md has SHA-256 ${H} but manifest.json records 0{64}$`)],
    ['a manifest head changed', (b) => { const m = JSON.parse(text(b, 'manifest.json')); m.head = 'a'.repeat(64); setText(b, 'manifest.json', JSON.stringify(m)); }, 'manifest-content', new RegExp(`^manifest.json says head is a{64} but the last entry's hash is ${H}$`)],
    ['a changed value', (b) => editLine(b, 2, (e) => { (e.data as Record<string, unknown>).handle = 'y'; }), 'entries', new RegExp(`^transcript.jsonl line 3 \\(seq 2\\): hash ${H} does not match the entry's content, which hashes to ${H}$`), 2],
    ['a changed value, rehashed', (b) => editLine(b, 2, (e) => { e.actor = 'mallory'; }, true), 'entries', new RegExp(`^transcript.jsonl line 4 \\(seq 3\\): prev ${H} is not the hash of seq 2 \\(${H}\\)$`), 3],
    ['a deleted entry', (b) => { const l = text(b, 'transcript.jsonl').split('\n'); l.splice(1, 1); setText(b, 'transcript.jsonl', l.join('\n')); }, 'entries', 'transcript.jsonl line 2 (seq 2): seq 2 follows seq 0; expected seq 1', 2],
    ['time going backwards', (b) => { editLine(b, 3, (e) => { e.time = '2026-01-31T11:00:00.000Z'; }, true); }, 'entries', 'transcript.jsonl line 4 (seq 3): time 2026-01-31T11:00:00.000Z is earlier than the time of seq 2 (2026-01-31T12:00:02.000Z)', 3],
    ['a line not canonical', (b) => setText(b, 'transcript.jsonl', text(b, 'transcript.jsonl').replace('{"actor":"token"', '{ "actor":"token"')), 'entries', 'transcript.jsonl line 3 (seq 2) is not in canonical JSON (RFC 8785) form', 2],
    ['a bad field', (b) => editLine(b, 1, (e) => { e.kind = 'INTENT'; }), 'entries', "transcript.jsonl line 2 (seq 1): field 'kind' must be 1-64 characters of a-z 0-9 . - starting with a letter", 1],
    ['garbage line', (b) => setText(b, 'transcript.jsonl', `${text(b, 'transcript.jsonl')}garbage\n`), 'entries', 'transcript.jsonl line 6 (expected seq 5) is not valid JSON', 5],
    ['a missing final newline', (b) => setText(b, 'transcript.jsonl', text(b, 'transcript.jsonl').trimEnd()), 'entries', 'transcript.jsonl does not end with a newline'],
    ['a signature by another key', async (b) => void b.files.set('transcript.jsonl.sig', await other.sign(b.files.get('transcript.jsonl') as Uint8Array)), 'digests', new RegExp(`^transcript.jsonl.sig has SHA-256 ${H} but manifest.json records ${H}$`)],
    ['a public key that is not P-384', (b) => setText(b, 'audit-public-key.pem', 'nonsense'), 'digests', new RegExp('^audit-public-key.pem has SHA-256')],
    ['an approval entry', async (b) => {
      const more = extendChain(chain.at(-1) as Entry, [{ ceremonyId: 'c2', step: 'approve', kind: 'approval', actor: 'custodian:alice', data: {} }], () => t(10));
      const nb = await bundle([...chain, ...more]);
      b.files = nb.files;
    }, 'approvals', 'these entries hold custodian approvals but no enrolment to check them against; verify them together with the init-token bundle', 5],
  ];
  it.each(cases)('reports %s', async (_name, mutate, id, detail, seq) => {
    const b = await bundle(chain);
    await mutate(b);
    const r = await verifyLoaded([b]);
    expect(r.ok).toBe(false);
    expect(r.firstFailure?.id).toBe(id);
    if (typeof detail === 'string') expect(r.firstFailure?.detail).toBe(detail);
    else expect(r.firstFailure?.detail).toMatch(detail);
    expect(r.firstFailure?.seq).toBe(seq);
  });

  it('reports bundles that do not chain', async () => {
    const a = await bundle(chain.slice(0, 2), 'a');
    const c = await bundle(chain.slice(3), 'c');
    expect((await verifyLoaded([a, c])).firstFailure).toMatchObject({ id: 'chain', seq: 2, bundle: 'c', detail: 'c starts at seq 3 but a ends at seq 1: entry 2 is missing' });
    const a2 = await bundle(chain.slice(0, 3), 'a2');
    const b2 = await bundle(chain.slice(2), 'b2');
    expect((await verifyLoaded([a2, b2])).firstFailure).toMatchObject({ id: 'chain', detail: 'b2 starts at seq 2, which a2 (seq 0-2) already holds: bundles overlap' });
    const foreign = await bundle(chain.slice(2), 'f', other);
    expect((await verifyLoaded([a, foreign])).firstFailure?.detail).toBe('f is signed by a different audit key than a');
  });

  it('reports a bundle whose public key and signature were both replaced', async () => {
    const forged = await prepareBundle({ entries: chain, signer: signer, appVersion: '0.1.0' });
    const b: LoadedBundle = { path: 'x', files: forged.files, unexpected: [] };
    const swap = await prepareBundle({ entries: chain.slice(1), signer: other, appVersion: '0.1.0' });
    // Same transcript, re-signed and re-manifested with another key: only the genesis anchor can catch it.
    const g = chain[0] as Entry;
    const tr = Buffer.from(chain.map(entryLine).join(''));
    b.files.set('transcript.jsonl.sig', await other.sign(tr));
    b.files.set('audit-public-key.pem', swap.files.get('audit-public-key.pem') as Uint8Array);
    const m = JSON.parse(text(b, 'manifest.json'));
    for (const f of ['transcript.jsonl.sig', 'audit-public-key.pem']) m.files[f] = { sha256: sha256Hex(b.files.get(f) as Uint8Array), bytes: (b.files.get(f) as Uint8Array).length };
    m.auditKey.spkiSha256 = sha256Hex(other.spkiDer());
    setText(b, 'manifest.json', JSON.stringify(m));
    b.files.set('manifest.json.sig', await other.sign(b.files.get('manifest.json') as Uint8Array));
    expect(g.seq).toBe(0);
    expect((await verifyLoaded([b])).firstFailure).toMatchObject({ id: 'audit-key', seq: 0, detail: 'audit-public-key.pem is not the audit key recorded in the genesis entry (seq 0)' });
  });
});
