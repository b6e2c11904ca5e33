// Transcript benchmarks (issue 3):
//  1. verifying a 100,000-entry transcript vs hashing the same bytes with node:crypto (target <= 3x);
//  2. a durable append at entry 100 vs at entry 50,000 (target <= 1.5).
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extendChain, genesisInput } from '../../src-main/transcript/build.js';
import { entryLine, type Entry, type EntryInput } from '../../src-main/transcript/entry.js';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { JOURNAL_FILE, TranscriptStore } from '../../src-main/transcript/store.js';
import { prepareBundle } from '../../src-main/transcript/export.js';
import { verifyLoaded } from '../../src-main/transcript/verify.js';

const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '1234abcd', label: 'bench' };

function makeChain(n: number, signer = NodeAuditSigner.generate()): Entry[] {
  const inputs: EntryInput[] = [genesisInput('bench-0', 'administrator', token, signer.spkiDer())];
  for (let i = 1; i < n; i += 1) {
    inputs.push({
      ceremonyId: `bench-${Math.floor(i / 1000)}`,
      step: `step-${i % 40}`,
      kind: i % 2 === 0 ? 'intent' : 'result',
      actor: i % 7 === 0 ? 'custodian:alice' : 'administrator',
      data: { i, label: `kms-key-${i % 13}`, ok: i % 3 !== 0, handle: `0x${(i * 2654435761 % 2 ** 32).toString(16)}`, detail: { bits: 256, mechanism: 'CKM_AES_KEY_WRAP_PAD' } },
    });
  }
  const start = Date.parse('2026-01-31T12:00:00.000Z');
  return extendChain(null, inputs, (i) => new Date(start + i * 37).toISOString());
}

function best(runs: number, f: () => void): number {
  let min = Infinity;
  for (let r = 0; r < runs; r += 1) {
    const t = performance.now();
    f();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (ms: number) => `${ms.toFixed(ms < 1 ? 3 : 1)} ms`;

async function benchVerify(): Promise<void> {
  const n = 100_000;
  const signer = NodeAuditSigner.generate();
  const chain = makeChain(n, signer);
  const bytes = Buffer.from(chain.map(entryLine).join(''), 'utf8');
  const prepared = await prepareBundle({ entries: chain, signer, appVersion: 'bench' });
  let ok = true;
  let verify = Infinity;
  for (let r = 0; r < 3; r += 1) {
    const t = performance.now();
    const report = await verifyLoaded([{ path: 'bench', files: prepared.files, unexpected: [] }]);
    verify = Math.min(verify, performance.now() - t);
    ok = report.ok && report.entryCount === n;
  }
  const hashWhole = best(5, () => {
    createHash('sha256').update(bytes).digest();
  });
  const lines = bytes.toString('utf8').split('\n');
  const hashLines = best(3, () => {
    for (const l of lines) createHash('sha256').update(l).digest();
  });
  const signatureCheck = best(5, () => {
    createHash('sha384').update(bytes).digest();
  });
  console.log(`\nVerify a ${n.toLocaleString('en')}-entry transcript (${(bytes.length / 1e6).toFixed(1)} MB), best of 3, ${ok ? 'valid' : 'INVALID?'}:`);
  console.log(`  verifier (lines, parse, validate, canonical check, hash, link, digests, both signatures, per-ceremony policy):  ${fmt(verify)}`);
  console.log(`  baseline: one SHA-256 over the same bytes:               ${fmt(hashWhole)}   ratio ${(verify / hashWhole).toFixed(2)}x (target <= 3x)`);
  console.log(`  reference: one SHA-256 per line (${n.toLocaleString('en')} calls):           ${fmt(hashLines)}   ratio ${(verify / hashLines).toFixed(2)}x`);
  console.log(`  (of which the transcript signature check is one SHA-384 over the file: ${fmt(signatureCheck)})`);
}

async function benchAppend(): Promise<void> {
  const samples = 300;
  const results: { at: number; latencies: number[]; openMs: number }[] = [];
  const dirs: string[] = [];
  try {
    for (const at of [100, 50_000]) {
      const dir = await mkdtemp(join(tmpdir(), `kc-bench-${at}-`));
      dirs.push(dir);
      await writeFile(join(dir, JOURNAL_FILE), makeChain(at).map(entryLine).join(''));
      const t = performance.now();
      const { store } = await TranscriptStore.open(dir);
      const openMs = performance.now() - t;
      const latencies: number[] = [];
      // Warm up, then measure one append at a time, each awaited (fdatasync included).
      for (let i = 0; i < 20; i += 1) await store.append({ ceremonyId: 'bench', step: 'warm', kind: 'intent', actor: 'administrator', data: { i } });
      for (let i = 0; i < samples; i += 1) {
        const s = performance.now();
        await store.append({ ceremonyId: 'bench', step: `s${i}`, kind: 'intent', actor: 'administrator', data: { i, label: 'kms-key' } });
        latencies.push(performance.now() - s);
      }
      const c = performance.now();
      await store.checkpoint();
      const checkpointMs = performance.now() - c;
      await store.close();
      results.push({ at, latencies, openMs });
      if (at === 50_000) {
        const every = Math.max(1000, Math.floor(at / 4));
        console.log(`  checkpoint of the sql.js database at ${at.toLocaleString('en')} entries: ${fmt(checkpointMs)}, once per ${every.toLocaleString('en')} appends = ${fmt(checkpointMs / every)} amortised per append`);
      }
    }
  } finally {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
  const [small, large] = results as [(typeof results)[0], (typeof results)[0]];
  console.log(`\nDurable append (journal write + fdatasync + sql.js insert), ${samples} appends each:`);
  for (const r of results) console.log(`  at entry ${r.at.toLocaleString('en').padStart(6)}: median ${fmt(median(r.latencies))}, mean ${fmt(mean(r.latencies))} (store opened in ${fmt(r.openMs)})`);
  console.log(`  ratio at 50,000 / at 100: median ${(median(large.latencies) / median(small.latencies)).toFixed(2)}, mean ${(mean(large.latencies) / mean(small.latencies)).toFixed(2)} (target <= 1.5)`);
}

export async function main(): Promise<void> {
  await benchVerify();
  await benchAppend();
}
