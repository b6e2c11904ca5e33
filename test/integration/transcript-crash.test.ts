// Crash test: a child process appends entries and is killed with SIGKILL at random moments, hundreds of
// times. Every reopen must yield a valid chain holding every entry whose append had returned. Some rounds
// also leave a torn record at the end of the journal (what a power loss mid-write can leave), which the
// next open must report and cut.
import { spawn } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { JOURNAL_FILE, TranscriptStore } from '../../src-main/transcript/store.js';
import { scanJournal } from '../../src-main/transcript/journal.js';

const ROUNDS = Number(process.env.KC_CRASH_ROUNDS ?? 200);
const LANES = 2;
// Inside the project so the bundle's bare imports (sql.js, canonicalize, zod) resolve from node_modules.
const outDir = resolve('node_modules/.cache/keyceremony-crash-child');
let child: string;
let work: string;

beforeAll(async () => {
  await build({
    configFile: false,
    logLevel: 'silent',
    // zod as many small ESM files costs ~150 ms per child start; bundled it loads much faster.
    ssr: { noExternal: ['zod'] },
    build: {
      ssr: resolve('test/integration/transcript-crash-child.ts'),
      outDir,
      emptyOutDir: true,
      target: 'node20',
      rollupOptions: { output: { entryFileNames: 'child.mjs', format: 'es' } },
    },
  });
  child = join(outDir, 'child.mjs');
  work = await mkdtemp(join(tmpdir(), 'kc-crash-'));
}, 60_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Round {
  acked: Map<number, string>;
  ready: boolean;
  /** The child's uptime when its store was open. */
  readyMs?: number;
}

/** Kill `delayMs` after spawn (early), or `delayMs` after the child acknowledged `afterAcks` appends. */
function runAndKill(dir: string, spki: string, early: boolean, afterAcks: number, delayMs: number): Promise<Round> {
  return new Promise((resolveRound, reject) => {
    const p = spawn(process.execPath, [child, dir, spki], { stdio: ['ignore', 'pipe', 'pipe'] });
    const round: Round = { acked: new Map(), ready: false };
    let buffer = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = () => p.kill('SIGKILL');
    if (early) timer = setTimeout(kill, delayMs);
    let acks = 0;
    const maybeKill = () => {
      if (!early && timer === undefined && acks >= afterAcks) timer = setTimeout(kill, delayMs);
    };
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const [word, seq, hash] = line.split(' ');
        if (word === 'ready') {
          round.ready = true;
          round.readyMs = Number(seq);
          maybeKill();
        } else if (word === 'ack') {
          round.acked.set(Number(seq), hash as string);
          acks += 1;
          maybeKill();
        }
      }
    });
    p.stderr.on('data', (d) => (stderr += String(d)));
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself (code ${code}): ${stderr}`));
      else resolveRound(round);
    });
  });
}

describe('crash safety', () => {
  it(`keeps every acknowledged entry across ${ROUNDS} SIGKILLs`, async () => {
    const spki = Buffer.from(NodeAuditSigner.generate().spkiDer()).toString('base64');
    const stats = { childReadyMs: [] as number[], fullOpens: 0, tailsSeenByScan: 0, childMs: 0, reopenMs: 0, kills: 0, acked: 0, repairsReported: 0, tornInjected: 0, killedBeforeReady: 0 };
    const lane = async (n: number) => {
      const dir = join(work, `lane-${n}`);
      await mkdir(dir);
      const acked = new Map<number, string>();
      for (let r = 0; r < ROUNDS / LANES; r += 1) {
        const early = Math.random() < 0.15;
        const t0 = performance.now();
        const round = await runAndKill(dir, spki, early, Math.floor(Math.random() * 12), early ? Math.random() * 300 : Math.random() * 4);
        const t1 = performance.now();
        stats.childMs += t1 - t0;
        if (round.readyMs !== undefined) stats.childReadyMs.push(round.readyMs);
        stats.kills += 1;
        if (!round.ready) stats.killedBeforeReady += 1;
        for (const [seq, hash] of round.acked) acked.set(seq, hash);
        stats.acked += round.acked.size;
        let injected = false;
        if (Math.random() < 0.2) {
          // A torn record: the first part of a plausible line, without its newline.
          const text = await readFile(join(dir, JOURNAL_FILE), 'utf8').catch(() => '');
          const last = text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
          if (last.length > 2) {
            await appendFile(join(dir, JOURNAL_FILE), last.slice(0, 1 + Math.floor(Math.random() * (last.length - 2))));
            stats.tornInjected += 1;
            injected = true;
          }
        }
        // Every acknowledged entry is there, with the hash the child was told. A full open (which cuts and
        // reports a damaged tail) runs after every injected tear and every 10th round; otherwise a read-only
        // scan of the journal (the same checks, no repair) keeps the rounds fast. The next child's open
        // repairs whatever the scan saw.
        let entries: Map<number, string>;
        if (injected || r % 10 === 0) {
          const { store, report } = await TranscriptStore.open(dir);
          if (report.tailRepair) stats.repairsReported += 1;
          if (injected) expect(report.tailRepair?.reason).toMatch(/^line \d+ is incomplete \(\d+ bytes without a newline\): a write torn by a crash$/);
          const head = store.head();
          expect(store.size).toBe((head?.seq ?? -1) + 1);
          entries = new Map(store.entries(0, head?.seq ?? -1).map((e) => [e.seq, e.hash]));
          await store.close();
          stats.fullOpens += 1;
        } else {
          const scan = scanJournal(await readFile(join(dir, JOURNAL_FILE)).catch(() => new Uint8Array(0)), JOURNAL_FILE);
          if (scan.repair) stats.tailsSeenByScan += 1;
          entries = new Map(scan.entries.map((e) => [e.seq, e.hash]));
        }
        for (const [seq, hash] of acked) expect(entries.get(seq), `seq ${seq}`).toBe(hash);
        stats.reopenMs += performance.now() - t1;
      }
    };
    await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
    // Final: the whole journal verifies as one chain from genesis.
    for (let i = 0; i < LANES; i += 1) {
      const { store, report } = await TranscriptStore.open(join(work, `lane-${i}`));
      expect(report.tailRepair).toBeUndefined();
      if (store.size > 0) expect(store.entryAt(0)?.kind).toBe('genesis');
      await store.close();
    }
    const ready = [...stats.childReadyMs].sort((a, b) => a - b);
    const { childReadyMs: _r, ...rest } = stats;
    console.log(`crash test: ${JSON.stringify({ ...rest, childMs: Math.round(rest.childMs), reopenMs: Math.round(rest.reopenMs), medianChildReadyMs: ready[Math.floor(ready.length / 2)] })}`);
    expect(stats.kills).toBe(ROUNDS);
    expect(stats.acked).toBeGreaterThan(ROUNDS);
    expect(stats.repairsReported).toBeGreaterThanOrEqual(stats.tornInjected);
  }, 240_000);
});
