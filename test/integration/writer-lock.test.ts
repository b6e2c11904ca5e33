// One writer per chain (issue 12, item 4), with real processes: a child holds a chain's store open for
// writing; a second child is refused at once, naming the holder's pid, its start and its command, and
// writes nothing. After kill -9 of the holder its lock is stale and the next writer takes it over and goes
// on with the same chain. Several children finding the same stale lock at once: exactly one wins, the
// others are refused naming the winner. A pid that now belongs to another process (start time differs) is
// stale; a lock from another host is never taken over; a second writer in the same process is refused too.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { processStartTime, WRITER_LOCK_FILE } from '../../src-main/transcript/writer-lock.js';

const outDir = resolve('node_modules/.cache/keyceremony-writer-lock-child');
let child: string;
let work: string;
const spki = Buffer.from(NodeAuditSigner.generate().spkiDer()).toString('base64');

interface Child {
  pid: number;
  lines: string[];
  /** Resolves with the first line that starts with one of the prefixes (or the exit). */
  until(prefix: string): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(dir: string, mode: 'hold' | 'once', count: number): Child {
  const p = spawn(process.execPath, [child, dir, mode, String(count), spki], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  let stderr = '';
  p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  p.stdout.setEncoding('utf8').on('data', (c: string) => {
    buffer += c;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => p.on('exit', (code, signal) => {
    for (const w of waiters.splice(0)) w();
    done({ code, signal });
  }));
  let ended = false;
  void exited.then(() => (ended = true));
  return {
    pid: p.pid as number,
    lines,
    exited,
    async until(prefix) {
      for (;;) {
        const hit = lines.find((l) => l.startsWith(prefix) || l.startsWith('{"refused"'));
        if (hit) return hit;
        if (ended) throw new Error(`child ${p.pid} exited without '${prefix}': ${lines.join(' | ')} ${stderr}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

const journalSeqs = async (dir: string) => (await readFile(join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { seq: number; ceremonyId: string });

beforeAll(async () => {
  await build({
    configFile: false,
    logLevel: 'silent',
    ssr: { noExternal: ['zod'] },
    build: { ssr: resolve('test/integration/writer-lock-child.ts'), outDir, emptyOutDir: true, target: 'node20', rollupOptions: { output: { entryFileNames: 'child.mjs', format: 'es' } } },
  });
  child = join(outDir, 'child.mjs');
  work = await mkdtemp(join(tmpdir(), 'kc-writer-lock-'));
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the chain writer lock across processes', () => {
  it('refuses a second writer at once, naming the holder; after kill -9 the next writer takes the lock over and continues the chain', async () => {
    const dir = join(work, 'a');
    const holder = start(dir, 'hold', 3);
    expect(await holder.until('holding')).toBe('holding');
    const before = await journalSeqs(dir);
    expect(before.map((e) => e.seq)).toEqual([0, 1, 2, 3]);

    const second = start(dir, 'once', 2);
    const refusal = JSON.parse(await second.until('locked')) as { refused: { code: string; message: string } };
    expect((await second.exited).code).toBe(3);
    expect(refusal.refused.code).toBe('TRANSCRIPT_CHAIN_IN_USE');
    expect(refusal.refused.message).toMatch(new RegExp(`is in use by process ${holder.pid} since \\d{4}-\\d\\d-\\d\\dT[^ ]+Z, command writer-lock-child hold; one writer at a time`));
    expect(await journalSeqs(dir)).toEqual(before);
    const lock = JSON.parse(await readFile(join(dir, WRITER_LOCK_FILE), 'utf8')) as { pid: number; startTime: string | null; hostname: string };
    expect(lock).toMatchObject({ pid: holder.pid, hostname: hostname(), startTime: processStartTime(holder.pid) });

    process.kill(holder.pid, 'SIGKILL');
    expect((await holder.exited).signal).toBe('SIGKILL');
    const next = start(dir, 'once', 2);
    expect(await next.until('closed')).toBe('closed');
    expect((await next.exited).code).toBe(0);
    const after = await journalSeqs(dir);
    expect(after.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(after.slice(4).every((e) => e.ceremonyId === `child-${next.pid}`)).toBe(true);
    // Released on close: the next writer takes it without any takeover.
    const { store } = await TranscriptStore.open(dir);
    expect(store.size).toBe(6);
    await store.close();
  });

  it('four writers finding the same stale lock at once: exactly one takes it over, the others are refused naming it', async () => {
    const dir = join(work, 'race');
    const first = start(dir, 'hold', 0);
    await first.until('holding');
    process.kill(first.pid, 'SIGKILL');
    await first.exited;
    const contenders = [0, 1, 2, 3].map(() => start(dir, 'hold', 1));
    const outcomes = await Promise.all(contenders.map((c) => c.until('holding')));
    const winners = contenders.filter((_, i) => outcomes[i] === 'holding');
    expect(winners).toHaveLength(1);
    const winner = winners[0] as Child;
    for (const [i, c] of contenders.entries()) {
      if (c === winner) continue;
      expect((JSON.parse(outcomes[i] as string) as { refused: { message: string } }).refused.message).toContain(`in use by process ${winner.pid} since`);
      expect((await c.exited).code).toBe(3);
    }
    // Only the winner wrote: genesis, then its one entry.
    expect((await journalSeqs(dir)).map((e) => e.ceremonyId)).toEqual(['lock-test', `child-${winner.pid}`]);
    process.kill(winner.pid, 'SIGKILL');
    await winner.exited;
  });

  it('a pid reused by another process is stale; a lock from another host is never taken; the same process cannot open a second writer', async () => {
    const dir = join(work, 'forged');
    await mkdir(dir, { recursive: true });
    // This test process is alive, but it was not started at the time the lock records: the pid was reused.
    await writeFile(join(dir, WRITER_LOCK_FILE), `${JSON.stringify({ pid: process.pid, startTime: '1', hostname: hostname(), since: '2026-01-01T00:00:00.000Z', command: 'gone' })}\n`);
    const { store } = await TranscriptStore.open(dir);
    await expect(TranscriptStore.open(dir)).rejects.toThrow(`is in use by this process (${process.pid}) since`);
    await store.close();

    await writeFile(join(dir, WRITER_LOCK_FILE), `${JSON.stringify({ pid: 1, startTime: '1', hostname: 'other-laptop', since: '2026-01-01T00:00:00.000Z', command: 'keyceremony kms-import' })}\n`);
    const refused = TranscriptStore.open(dir);
    await expect(refused).rejects.toThrow('is in use by process 1 on other-laptop since 2026-01-01T00:00:00.000Z, command keyceremony kms-import');
    await expect(refused).rejects.toMatchObject({ remedy: expect.stringContaining(`delete ${join(dir, WRITER_LOCK_FILE)} by hand`) });
    // A read-only open (the listing of past ceremonies) neither needs nor touches the lock.
    const { store: reader } = await TranscriptStore.open(dir, { readOnly: true });
    await expect(reader.append({ ceremonyId: 'x', step: 's', kind: 'note', actor: 'a', data: {} })).rejects.toThrow('was opened only to read it');
    await reader.close();
    expect(JSON.parse(await readFile(join(dir, WRITER_LOCK_FILE), 'utf8'))).toMatchObject({ hostname: 'other-laptop' });
  });
});
