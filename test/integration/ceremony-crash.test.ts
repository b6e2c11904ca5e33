// init-token killed with SIGKILL at every moment it records something (every step boundary, every intent
// before a token call, every share handed out), inside every step that touches the token (after the token
// call returned, before its result is recorded) and at random moments. After each kill, on the real SoftHSM
// token directory the child used: the token is still blank, or it opens with the share files that attempt
// wrote (M of them rebuild S; the SO PIN derived from S logs in, and the user PIN too once it was set). Never
// an initialized token that nobody can open. Then the way out is taken for one kill of each kind: a fresh
// init-token on a blank token, or the re-init path with --previous-share, and the new shares open the token.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const outDir = resolve('node_modules/.cache/keyceremony-ceremony-crash-child');
const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const CUSTODIANS = Object.keys(pass) as (keyof typeof pass)[];
let child: string;
let env: SoftHsmEnv;
let work: string;

beforeAll(async () => {
  env = createSoftHsmEnv();
  await build({
    configFile: false,
    logLevel: 'silent',
    ssr: { noExternal: ['zod'] },
    build: { ssr: resolve('test/integration/ceremony-crash-child.ts'), outDir, emptyOutDir: true, target: 'node20', rollupOptions: { output: { entryFileNames: 'child.mjs', format: 'es' } } },
  });
  child = join(outDir, 'child.mjs');
  work = await mkdtemp(join(tmpdir(), 'kc-ceremony-crash-'));
  await mkdir(join(work, 'secrets'));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
}, 60_000);
afterAll(async () => {
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * SoftHSM's blank slot, as the module lists it. (Counting the token folders is not enough: a child killed
 * inside C_InitToken can leave a folder SoftHSM does not count as a token.)
 */
async function freeSlot(): Promise<string> {
  const layer = new Pkcs11TokenLayer();
  try {
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const blank = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized);
    if (!blank) throw new Error('SoftHSM offers no blank slot');
    return blank.slotId;
  } finally {
    await layer.close();
  }
}

const argv = (name: string, token: string[]) => [
  '--module', SOFTHSM_MODULE, ...token, '--token-label', name, '--custodians', CUSTODIANS.join(','), '--threshold', '2',
  '--shares-out', join(work, name, 'usb'), '--out', join(work, name, 'out'), '--witness', 'wendy', '--data-dir', join(work, name, 'data'),
  ...CUSTODIANS.flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
];

interface ChildRun {
  /** Where the child stopped ('stopped ...' line), or 'exit N', or 'killed at random'. */
  at: string;
  records: string[];
  /** From its first record to its exit or kill. */
  ms: number;
}

/** Run the child until it stops where `stopAt` says (then SIGKILL it), or kill it after `killAfterMs`. */
async function runChild(name: string, stopAt: string, killAfterMs?: number): Promise<ChildRun> {
  await mkdir(join(work, name, 'usb'), { recursive: true });
  await mkdir(join(work, name, 'out'), { recursive: true });
  const args = argv(name, ['--slot', await freeSlot()]);
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, [child, JSON.stringify(args), resolve('ceremonies'), stopAt], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const run: ChildRun = { at: '', records: [], ms: 0 };
    let first = 0;
    let buffer = '';
    let stderr = '';
    // A random kill counts from the child's first record (its start-up is not the ceremony).
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (killAfterMs !== undefined && timer === undefined) timer = setTimeout(() => ((run.at = `killed ${killAfterMs} ms after its first record`), p.kill('SIGKILL')), killAfterMs);
    };
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('recorded ')) {
          run.records.push(line.slice(9));
          if (first === 0) first = Date.now();
          arm();
        }
        if (line.startsWith('stopped ')) {
          run.at = line.slice(8);
          p.kill('SIGKILL');
        }
        if (line.startsWith('exit ')) run.at = line;
      }
    });
    p.on('error', fail);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      run.ms = first === 0 ? 0 : Date.now() - first;
      if (signal === 'SIGKILL' || code === 0) done(run);
      else fail(new Error(`child exited ${code}: ${stderr}`));
    });
  });
}

type Outcome = 'blank' | 'opens: SO PIN' | 'opens: SO and user PIN';

/** The state a killed attempt left: blank, or an initialized token that M of the share files it wrote open. */
async function outcomeOf(name: string): Promise<{ outcome: Outcome; sharesWritten: string[] }> {
  const usb = join(work, name, 'usb');
  const sharesWritten = readdirSync(usb).filter((f) => f.endsWith('.share')).sort();
  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  try {
    const slot = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.initialized && s.token.label.trim() === name);
    if (!slot?.token) return { outcome: 'blank', sharesWritten };
    // Initialized: M share files of this attempt must exist and rebuild the PINs. Their ceremony id is the attempt's.
    expect(sharesWritten.length, `${name}: initialized with only ${sharesWritten.join(', ') || 'no'} share files`).toBeGreaterThanOrEqual(2);
    const opened = await Promise.all(sharesWritten.slice(0, 2).map(async (f) => openShareFile(await readFile(join(usb, f)), pass[f.replace('.share', '') as keyof typeof pass])));
    const ceremonyId = opened[0]!.ceremonyId;
    const secret = await combineShares(opened.map((o) => o.share), 2);
    const pins = derivePins(secret, ceremonyId, { minPinLength: slot.token.minPinLength, maxPinLength: slot.token.maxPinLength });
    wipe(secret, ...opened.map((o) => o.share));
    // The security officer logs in only in a read-write session.
    const { session } = await layer.openSession({ moduleId: SOFTHSM_MODULE, slotId: slot.slotId }, { readWrite: true });
    try {
      await layer.login(session, 'so', pins.soPin);
      await layer.logout(session);
      if (!slot.token.userPinInitialized) return { outcome: 'opens: SO PIN', sharesWritten };
      await layer.login(session, 'user', pins.userPin);
      await layer.logout(session);
      return { outcome: 'opens: SO and user PIN', sharesWritten };
    } finally {
      await layer.closeSession(session);
    }
  } finally {
    await layer.close();
  }
}

/** The way out after a kill: the re-init path from the attempt's shares (or a plain start on a blank token); the new shares open it. */
async function wayOut(name: string, outcome: Outcome): Promise<void> {
  const again = `${name}-again`;
  await mkdir(join(work, again, 'usb'), { recursive: true });
  await mkdir(join(work, again, 'out'), { recursive: true });
  const base = argv(name, outcome === 'blank' ? ['--slot', await freeSlot()] : ['--token', `pkcs11:token=${name}`]).map((a) => a.replace(join(work, name, 'usb'), join(work, again, 'usb')).replace(join(work, name, 'out'), join(work, again, 'out')));
  const previous = outcome === 'blank' ? [] : (['alice', 'bob'] as const).flatMap((c) => ['--previous-share', `${join(work, name, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`]);
  let stderr = '';
  const code = await initTokenCommand([...base, ...previous], { stdout: { write: () => true }, stderr: { write: (t: string) => ((stderr += t), true) } }, { scrypt: SCRYPT, airGap: offline, scriptsDir: resolve('ceremonies') });
  expect(stderr).toBe('');
  expect(code).toBe(0);
  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  try {
    const slot = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.initialized && s.token.label.trim() === name);
    expect(slot?.token?.userPinInitialized).toBe(true);
    const opened = await Promise.all((['bob', 'carol'] as const).map(async (c) => openShareFile(await readFile(join(work, again, 'usb', `${c}.share`)), pass[c])));
    const secret = await combineShares(opened.map((o) => o.share), 2);
    const pins = derivePins(secret, opened[0]!.ceremonyId, { minPinLength: slot!.token!.minPinLength, maxPinLength: slot!.token!.maxPinLength });
    wipe(secret);
    const { session } = await layer.openSession({ moduleId: SOFTHSM_MODULE, slotId: slot!.slotId }, { readWrite: false });
    await layer.login(session, 'user', pins.userPin);
    await layer.closeSession(session);
  } finally {
    await layer.close();
  }
}

describe('init-token killed with SIGKILL at every moment', () => {
  const matrix: { kill: string; at: string; outcome: Outcome; shares: number }[] = [];
  let reference: ChildRun;

  it('a run to the end records every moment the kills stop at', async () => {
    reference = await runChild('k-ref', 'none');
    expect(reference.at).toBe('exit 0');
    // The order the rule asks for: every share out and proved before the token is first touched.
    const firstTouch = reference.records.indexOf('init:intent');
    expect(reference.records.slice(0, firstTouch)).toEqual(expect.arrayContaining(['shares:share-issued', 'prove:enrolment', 'prove:result']));
    expect(reference.records.lastIndexOf('shares:share-issued')).toBeLessThan(firstTouch);
    // `completed` is chained before the final export (a bundle holds its whole ceremony); only the export's
    // own records (in the local note) come after it.
    const completedAt = reference.records.indexOf('end:completed');
    expect(completedAt).toBeGreaterThan(firstTouch);
    expect(reference.records.slice(completedAt + 1).every((r) => r.startsWith('export:') || r.startsWith('logout:'))).toBe(true);
  }, 30_000);

  it('after a kill at every record, inside every token step and at random moments: blank, or opens with the shares written', async () => {
    const points: { kill: string; stopAt: string; ms?: number }[] = [];
    reference.records.slice(0, -1).forEach((r, i) => points.push({ kill: `after record ${i + 1} (${r})`, stopAt: `record:${i + 1}` }));
    for (const step of ['token', 'init', 'pins', 'audit-key', 'genesis', 'head', 'export']) points.push({ kill: `inside ${step} (token call returned, result not recorded)`, stopAt: `action:${step}` });
    const seed = Number(process.env.KC_KILL_SEED ?? Date.now() % 100000);
    let x = seed;
    const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
    for (let i = 0; i < 6; i += 1) {
      const ms = Math.floor(rand() * reference.ms);
      points.push({ kill: `at random (${ms} ms, seed ${seed})`, stopAt: 'none', ms });
    }
    let n = 0;
    for (const p of points) {
      const name = `k${(n += 1)}`;
      const run = await runChild(name, p.stopAt, p.ms);
      const { outcome, sharesWritten } = await outcomeOf(name);
      matrix.push({ kill: p.kill, at: run.at, outcome, shares: sharesWritten.length });
    }
    console.log(`init-token kill matrix (${matrix.length} kills):\n${matrix.map((m) => `  ${m.kill.padEnd(58)} ${m.outcome.padEnd(24)} shares written: ${m.shares}  [${m.at}]`).join('\n')}`);
    // Every kill before init's intent leaves the token blank; from the first token change on, it opens.
    const initIntent = reference.records.indexOf('init:intent') + 1;
    matrix.slice(0, initIntent).forEach((m) => expect(m.outcome, m.kill).toBe('blank'));
    matrix.slice(initIntent + 1, reference.records.length - 1).forEach((m) => expect(m.outcome, m.kill).not.toBe('blank'));
    expect(matrix.find((m) => m.kill.startsWith('inside init'))?.outcome).toBe('opens: SO PIN');
    expect(matrix.find((m) => m.kill.startsWith('inside pins'))?.outcome).toBe('opens: SO and user PIN');
  }, 120_000);

  it('the way out works from each kind of state: a new start on the blank token, the re-init path from the shares written', async () => {
    // k1 (killed after its first record) left a blank token; the kill inside init an initialized one with SO PIN only;
    // the kill inside genesis a token with both PINs and an audit key.
    const inside = (step: string) => `k${matrix.findIndex((m) => m.kill.startsWith(`inside ${step}`)) + 1}`;
    await wayOut('k1', 'blank');
    await wayOut(inside('init'), 'opens: SO PIN');
    await wayOut(inside('genesis'), 'opens: SO and user PIN');
  }, 60_000);

  it('the way out recorded the killed attempt it started from as interrupted, once, and voided its shares', async () => {
    const inside = `k${matrix.findIndex((m) => m.kill.startsWith('inside genesis')) + 1}`;
    const data = join(work, inside, 'data');
    const ids = readdirSync(join(data, 'ceremonies'));
    const killed = ids.find((id) => existsSync(join(data, 'chains', id, 'journal.jsonl')) && id === ids.sort()[0]) as string;
    const entries = (await readFile(join(data, 'chains', killed, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: { custodians?: string[] } });
    expect(entries.filter((e) => ['completed', 'abort', 'interrupted'].includes(e.kind)).map((e) => e.kind)).toEqual(['interrupted']);
    expect(entries.find((e) => e.kind === 'shares-void')?.data.custodians).toEqual(CUSTODIANS);
  });
});
