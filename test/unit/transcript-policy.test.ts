// The verifier's verdict on the kind of ceremony: production OK only for a shipped (or allowed) script, not
// a rehearsal (unless allowed), offline at its air-gap step; a format-1 bundle (manifest not signed) is never
// production OK. The script hashes come from the files in ceremonies/, hashed here with node:crypto.
import { describe, expect, it } from 'vitest';
import { extendChain, genesisInput } from '../../src-main/transcript/build.js';
import { type Entry, type EntryInput } from '../../src-main/transcript/entry.js';
import { prepareBundle } from '../../src-main/transcript/export.js';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { verifyLoaded, type LoadedBundle, type VerifyOptions } from '../../src-main/transcript/verify.js';
import { ceremonyStart, scriptBytes, sha256, weakenedInitToken } from '../helpers/ceremony-records.js';

const signer = NodeAuditSigner.generate();
const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '1234abcd', label: 'test' };
const t = (i: number) => new Date(Date.parse('2026-01-31T12:00:00.000Z') + i * 1000).toISOString();
const INIT = sha256(scriptBytes('init-token'));
const KMS = sha256(scriptBytes('kms-import'));

function chainOf(...ceremonies: EntryInput[][]): Entry[] {
  return extendChain(null, [genesisInput('c1', 'administrator', token, signer.spkiDer()), ...ceremonies.flat()], t);
}
const work = (ceremonyId: string): EntryInput[] => [
  { ceremonyId, step: 'generate', kind: 'intent', actor: 'administrator', data: { action: 'generate-key' } },
  { ceremonyId, step: 'generate', kind: 'result', actor: 'token', data: { action: 'generate-key' } },
  { ceremonyId, step: 'end', kind: 'completed', actor: 'administrator', data: {} },
];
const init = (o: Partial<Parameters<typeof ceremonyStart>[0]> = {}) => [
  ...ceremonyStart({ ceremonyId: 'c1', kind: 'pre-genesis', script: { name: 'init-token', sha256: INIT }, rehearsal: false, offline: true, ...o }),
  ...work('c1'),
];
const kms = (o: Partial<Parameters<typeof ceremonyStart>[0]> = {}) => [
  ...ceremonyStart({ ceremonyId: 'c2', kind: 'pre-chain', script: { name: 'kms-import', sha256: KMS }, rehearsal: false, offline: true, ...o }),
  ...work('c2'),
];

async function bundle(entries: Entry[], path = 'b'): Promise<LoadedBundle> {
  const p = await prepareBundle({ entries, signer, appVersion: '0.1.0', now: () => new Date(t(100)) });
  return { path, files: p.files, unexpected: [] };
}
const verdictOf = async (entries: Entry[], options: VerifyOptions = {}) => verifyLoaded([await bundle(entries)], options);

describe('verdict: what kind of ceremony', () => {
  it('a production ceremony from shipped scripts, offline, is production OK, and each ceremony is described', async () => {
    const r = await verdictOf(chainOf(init(), kms({ airGapIn: 'chain' })));
    expect(r.ok).toBe(true);
    expect(r.verdict).toEqual({ status: 'production', reasons: [] });
    expect(r.ceremonies).toMatchObject([
      { ceremonyId: 'c1', judged: true, startSeq: 1, rehearsal: false, airGap: 'offline', appVersions: ['0.1.0'], state: 'completed', script: { name: 'init-token', sha256: INIT, status: 'shipped', shippedIn: ['0.1.0'] } },
      { ceremonyId: 'c2', judged: true, rehearsal: false, airGap: 'offline', script: { name: 'kms-import', sha256: KMS, status: 'shipped' } },
    ]);
  });

  it('a rehearsal is not production unless --allow-rehearsal', async () => {
    const entries = chainOf(init(), kms({ rehearsal: true, offline: false }));
    const r = await verdictOf(entries);
    expect(r.ok).toBe(true);
    expect(r.verdict).toEqual({ status: 'not-production', reasons: ['ceremony c2: it is a rehearsal, not a production ceremony (pass --allow-rehearsal to accept rehearsals)'] });
    expect(r.ceremonies[1]).toMatchObject({ rehearsal: true, airGap: 'online' });
    expect((await verdictOf(entries, { allowRehearsal: true })).verdict.status).toBe('production');
  });

  it('a production ceremony recorded online, or with no air-gap check, fails policy', async () => {
    const online = await verdictOf(chainOf(init({ offline: false })));
    expect(online.verdict.reasons).toEqual(['ceremony c1: it is recorded as a production ceremony, but its air-gap check found the laptop online (record 1 of the pre-genesis entry, seq 1)']);
    const chained = await verdictOf(chainOf(init(), kms({ offline: false, airGapIn: 'chain' })));
    expect(chained.verdict.reasons).toEqual(['ceremony c2: it is recorded as a production ceremony, but its air-gap check found the laptop online (seq 6)']);
    const none = await verdictOf(chainOf(init({ offline: undefined })));
    expect(none.verdict.reasons).toEqual(['ceremony c1: it is recorded as a production ceremony, but no air-gap check is recorded']);
  });

  it('a modified script (air gap, prove and sign-off dropped, head quorum off, 0 witnesses) is never production OK', async () => {
    const original = scriptBytes('init-token').toString('utf8');
    const modified = weakenedInitToken(original);
    expect(modified).not.toContain('check-airgap');
    expect(modified).not.toContain('prove-subsets');
    expect(modified).not.toContain('witness-sign-off');
    const hash = sha256(modified);
    expect(hash).not.toBe(INIT);
    const entries = chainOf(init({ script: { name: 'init-token', sha256: hash }, offline: undefined }));
    const r = await verdictOf(entries);
    expect(r.ok).toBe(true);
    expect(r.verdict.status).toBe('not-production');
    expect(r.verdict.reasons).toEqual([
      `ceremony c1: it ran script 'init-token' with SHA-256 ${hash}, which no keyceremony release shipped; if you reviewed that script, pass --allow-script ${hash}`,
      'ceremony c1: it is recorded as a production ceremony, but no air-gap check is recorded',
    ]);
    expect(r.ceremonies[0]?.script?.status).toBe('unknown');
    // Allowing the script does not make up for the missing air-gap check.
    const allowed = await verdictOf(entries, { allowScripts: [hash] });
    expect(allowed.ceremonies[0]?.script?.status).toBe('allowed');
    expect(allowed.verdict.reasons).toEqual(['ceremony c1: it is recorded as a production ceremony, but no air-gap check is recorded']);
    // A reviewed script that kept its air-gap step passes with --allow-script.
    const kept = chainOf(init({ script: { name: 'init-token', sha256: hash } }));
    expect((await verdictOf(kept)).verdict.status).toBe('not-production');
    expect((await verdictOf(kept, { allowScripts: [hash.toUpperCase()] })).verdict.status).toBe('production');
  });

  it('records that do not chain, or a start without ceremony-start, fail policy', async () => {
    const [start, ...rest] = init();
    const data = structuredClone((start as EntryInput).data) as { records: { data: { rehearsal: boolean } }[] };
    (data.records[0] as { data: { rehearsal: boolean } }).data.rehearsal = true; // claims rehearsal, record hash no longer matches
    const r = await verdictOf(chainOf([{ ...(start as EntryInput), data: data as never }, ...rest]));
    expect(r.ok).toBe(true);
    expect(r.verdict.reasons).toEqual(['ceremony c1: seq 1 (pre-genesis): record 0 of the log written before the chain does not chain (n, prev, hash or ceremony id)']);
    const empty = { ...(start as EntryInput), data: { ...(start as EntryInput).data, records: [] } };
    expect((await verdictOf(chainOf([empty, ...rest]))).verdict.reasons).toEqual(['ceremony c1: seq 1 (pre-genesis) holds no ceremony-start record']);
  });

  it('a ceremony that started in an earlier bundle is listed, not judged; with no ceremony judged, the verdict is not production', async () => {
    const entries = chainOf(init(), kms());
    const c2start = entries.findIndex((e) => e.ceremonyId === 'c2');
    const tail = entries.slice(c2start - 1); // c1's completed entry, then c2
    const pem = (await bundle(entries)).files.get('audit-public-key.pem') as Uint8Array;
    const r = await verifyLoaded([await bundle(tail)], { expectAuditKeyPem: Buffer.from(pem).toString('utf8') });
    expect(r.ok).toBe(true);
    expect(r.ceremonies.map((c) => [c.ceremonyId, c.judged])).toEqual([['c1', false], ['c2', true]]);
    expect(r.verdict.status).toBe('production');
    const onlyC1 = await verifyLoaded([await bundle(entries.slice(2, c2start))], { expectAuditKeyPem: Buffer.from(pem).toString('utf8') });
    expect(onlyC1.verdict).toEqual({
      status: 'not-production',
      reasons: ['no ceremony starts in these bundles (no pre-genesis or pre-chain entry), so what kind of ceremony they record cannot be judged; give the bundle that holds the start as well'],
    });
  });

  it('integrity failures come first: the verdict is broken', async () => {
    const b = await bundle(chainOf(init()));
    const m = JSON.parse(Buffer.from(b.files.get('manifest.json') as Uint8Array).toString('utf8'));
    m.appVersion = '9.9.9'; // informational, but the manifest is signed: any change breaks it
    b.files.set('manifest.json', Buffer.from(`${JSON.stringify(m, null, 2)}\n`));
    const r = await verifyLoaded([b]);
    expect(r.ok).toBe(false);
    expect(r.firstFailure).toMatchObject({ id: 'manifest-signature', detail: 'manifest.json.sig is not a valid ECDSA-SHA384 signature of manifest.json by audit-public-key.pem' });
    expect(r.verdict).toEqual({ status: 'broken', reasons: ["check 'manifest-signature' in b: manifest.json.sig is not a valid ECDSA-SHA384 signature of manifest.json by audit-public-key.pem"] });
  });
});

describe('format-1 bundles (only transcript.jsonl signed)', () => {
  const asFormat1 = (b: LoadedBundle, edit: (m: Record<string, unknown>) => void = () => undefined) => {
    b.files.delete('manifest.json.sig');
    const m = JSON.parse(Buffer.from(b.files.get('manifest.json') as Uint8Array).toString('utf8'));
    m.format = 'keyceremony-transcript-bundle/1';
    edit(m);
    b.files.set('manifest.json', Buffer.from(`${JSON.stringify(m, null, 2)}\n`));
    return b;
  };

  it('verify for integrity, and are never production OK', async () => {
    const b = asFormat1(await bundle(chainOf(init())));
    const r = await verifyLoaded([b]);
    expect(r.ok).toBe(true);
    expect(r.checks.find((c) => c.id === 'manifest-signature')).toMatchObject({ status: 'skipped', detail: 'bundle format 1 has no manifest.json.sig: manifest.json and VERIFY.md are not signed' });
    expect(r.bundles[0]?.format).toBe(1);
    expect(r.verdict).toEqual({
      status: 'not-production',
      reasons: ['b is a format-1 bundle: its transcript is signed but its manifest.json and VERIFY.md are not, so the bundle as a whole is not proven; import it and export it again with this version'],
    });
  });

  it('a format-2 bundle whose signature was removed and format downgraded gains nothing', async () => {
    const b = asFormat1(await bundle(chainOf(init())), (m) => void (m.createdAt = '2030-01-01T00:00:00.000Z'));
    expect((await verifyLoaded([b])).verdict.status).toBe('not-production');
    const kept = await bundle(chainOf(init()));
    kept.files.delete('manifest.json.sig');
    const r = await verifyLoaded([kept]);
    expect(r.firstFailure).toMatchObject({ id: 'files', detail: "missing file 'manifest.json.sig'" });
  });
});
