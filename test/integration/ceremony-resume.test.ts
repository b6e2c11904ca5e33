// Resuming kms-import after a crash, on a real SoftHSM token: a child process running the ceremony sends
// itself SIGKILL at one of several points (after the generate-key intent, after the key was generated but
// before its result, after the generate-key result, after the wrap result, after the export result); a
// fresh process resumes the same ceremony with two shares and finishes it. Then, independently of the app:
// the token holds exactly one key with the label (counted after a quorum login), the recorded
// EncryptedKeyMaterial.bin unwraps (openssl / python cryptography) to material whose check value is the
// recorded one, and the transcript bundles verify with the command-line verifier. The verifier's approval
// check fails once the `resumed` entry is taken out of the chain.
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { enrolmentFromEntries, quorumLogin } from '../../src-main/ceremony/actions/quorum-login.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { ceremonySummary } from '../../src-main/ceremony/summary.js';
import { verifyApprovals } from '../../src-main/ceremony/verify-approvals.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { verifyCommand } from '../../src-main/cli/verify-command.js';
import type { CheckValue } from '../../src-main/kms/index.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { runInitToken } from '../helpers/init-token-engine.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const TOKEN = 'resume-token';
const ALGORITHM = 'RSAES_OAEP_SHA_1';
const outDir = resolve('node_modules/.cache/keyceremony-ceremony-resume-child');

let env: SoftHsmEnv;
let work: string;
let dataDir: string;
let child: string;
let enrolmentId: string;
let initBundle: string;
let kms: KmsLikeKey;
const bundles: string[] = [];

const share = (c: keyof typeof PASS) => ({ shareFile: join(work, 'usb', `${c}.share`), passphrase: PASS[c] });
const journal = async (): Promise<Entry[]> => (await readFile(join(dataDir, 'chains', enrolmentId, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);

function runChild(args: Record<string, unknown>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const p = spawn(process.execPath, [child, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.on('error', reject);
    p.on('exit', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

async function paramsFile(name: string): Promise<string> {
  const path = join(work, 'stick', `${name}.json`);
  const validTo = new Date(Date.now() + 20 * 3600_000).toISOString();
  await writeFile(path, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from(`import-token-${name}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: validTo }));
  return path;
}

/** With a fresh module load (the children changed the token): log in with two shares and list the keys with this label. */
async function keysLabelled(label: string): Promise<number> {
  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  try {
    const { session } = await layer.openSession({ uri: `pkcs11:token=${TOKEN}` }, { readWrite: false });
    try {
      await quorumLogin(layer, session, enrolmentFromEntries(await journal())!, [share('bob'), share('carol')]);
      return (await layer.findAll(session, { class: 'SECRET_KEY', label })).length;
    } finally {
      await layer.closeSession(session);
    }
  } finally {
    await layer.close();
  }
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  await build({
    configFile: false,
    logLevel: 'silent',
    ssr: { noExternal: ['zod'] },
    build: {
      ssr: resolve('test/integration/ceremony-resume-child.ts'),
      outDir,
      emptyOutDir: true,
      target: 'node20',
      rollupOptions: { output: { entryFileNames: 'child.mjs', format: 'es' } },
    },
  });
  child = join(outDir, 'child.mjs');
  work = await mkdtemp(join(tmpdir(), 'kc-ceremony-resume-'));
  dataDir = join(work, 'data');
  for (const d of ['usb', 'out', 'stick']) await mkdir(join(work, d));
  kms = kmsLikeKey(2048);
  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  const service = new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
  try {
    const blank = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized)!;
    const view = await runInitToken(service, { tokenLabel: TOKEN, custodians: { ...PASS }, threshold: 2, token: { moduleId: SOFTHSM_MODULE, slotId: blank.slotId }, sharesDir: join(work, 'usb'), bundleDir: join(work, 'out') });
    enrolmentId = view.ceremonyId;
    expect(view.status).toBe('completed');
    initBundle = view.outputs.find((o) => o.kind === 'bundle')!.path;
  } finally {
    await service.close();
    await layer.close();
  }
}, 120_000);

afterAll(async () => {
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Point {
  crashAt: string;
  /** What the resumed generate step is expected to say about the key. */
  generate: 'generated' | 'recovered-from-intent' | 'recovered-from-result' | 'not-redone';
  wrapRedone: boolean;
  /** The import bundle was written again, to a -resumed-1 folder. */
  exportRedone: boolean;
}

const POINTS: Point[] = [
  { crashAt: 'generate:intent', generate: 'generated', wrapRedone: false, exportRedone: true },
  { crashAt: 'generate:performed', generate: 'recovered-from-intent', wrapRedone: false, exportRedone: true },
  { crashAt: 'generate:result', generate: 'recovered-from-result', wrapRedone: false, exportRedone: true },
  { crashAt: 'wrap:result', generate: 'recovered-from-result', wrapRedone: true, exportRedone: true },
  { crashAt: 'export-key:result', generate: 'not-redone', wrapRedone: false, exportRedone: false },
  // The chain head is in the token, its result is not in the transcript: the token is one entry "behind".
  { crashAt: 'head:performed', generate: 'not-redone', wrapRedone: false, exportRedone: false },
];

describe('kms-import killed with SIGKILL, then resumed in a fresh process', () => {
  for (const [i, point] of POINTS.entries()) {
    it(`killed at ${point.crashAt}: resumed, finished, one key, the export unwraps to the recorded check value, the chain verifies`, async () => {
      const label = `resume-${i}`;
      const common = { module: SOFTHSM_MODULE, dataDir, tokenUri: `pkcs11:token=${TOKEN}`, parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: label, wrappingAlgorithm: ALGORITHM }, paramsFile: await paramsFile(label), shares: [share('alice'), share('bob')], stick: join(work, 'stick'), out: join(work, 'out') };
      const crashed = await runChild({ ...common, mode: 'crash', crashAt: point.crashAt });
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      const ceremonyId = /^ceremony (\S+) at /m.exec(crashed.stdout)?.[1] as string;
      expect(ceremonyId).toMatch(/^kms-import-/);

      // The next start leaves it alone: listed as interrupted and resumable, nothing terminal recorded.
      const lister = new Pkcs11TokenLayer();
      const service = new CeremonyService({ layer: lister, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test' });
      try {
        expect(await service.interrupted()).toEqual(expect.not.arrayContaining([expect.objectContaining({ ceremonyId })]));
        expect((await service.history()).find((h) => h.ceremonyId === ceremonyId)).toMatchObject({ status: 'interrupted', resumable: true });
      } finally {
        await service.close();
        await lister.close();
      }
      expect((await journal()).some((e) => e.ceremonyId === ceremonyId && ['completed', 'abort', 'interrupted'].includes(e.kind))).toBe(false);

      const resumed = await runChild({ ...common, mode: 'resume', ceremonyId, shares: [share('bob'), share('carol')] });
      expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
      const view = JSON.parse(resumed.stdout.trim().split('\n').at(-1) as string) as CeremonyView;
      expect(view).toMatchObject({ ceremonyId, status: 'completed' });

      const mine = (await journal()).filter((e) => e.ceremonyId === ceremonyId);
      const resumedEntry = mine.find((e) => e.kind === 'resumed')!;
      const plan = (resumedEntry.data as { steps: { id: string; state: string }[] }).steps;
      const stateOf = (id: string) => plan.find((p) => p.id === id)?.state;
      expect(stateOf('participants')).toBe('done');
      expect(stateOf('token')).toBe('done');
      expect(stateOf('login')).toBe('redo');
      // The quorum of the resumed run approved the head at the resume, by other custodians than before.
      const approvals = mine.filter((e) => e.step === 'login' && e.kind === 'approval' && e.seq > resumedEntry.seq).map((e) => e.actor);
      expect(approvals).toEqual(['bob', 'carol']);

      const generated = mine.filter((e) => e.step === 'generate' && e.kind === 'result').map((e) => e.data as unknown as { checkValue: CheckValue; key: { id: string }; recovered?: { from: string } });
      const last = generated.at(-1)!;
      if (point.generate === 'generated') {
        expect(generated).toHaveLength(1);
        expect(last.recovered).toBeUndefined();
      } else if (point.generate === 'not-redone') {
        expect(generated).toHaveLength(1);
        expect(stateOf('generate')).toBe('done');
      } else {
        expect(last.recovered?.from).toBe(point.generate === 'recovered-from-intent' ? 'intent' : 'result');
        if (point.generate === 'recovered-from-result') {
          expect(generated).toHaveLength(2);
          expect(generated[1]?.checkValue).toEqual(generated[0]?.checkValue);
          expect(generated[1]?.key.id).toBe(generated[0]?.key.id);
        } else {
          const intent = mine.find((e) => e.step === 'generate' && e.kind === 'intent')!.data as { key: { requestedId: string } };
          expect(last.key.id).toBe(intent.key.requestedId);
        }
      }
      expect(mine.filter((e) => e.step === 'wrap' && e.kind === 'result')).toHaveLength(point.wrapRedone ? 2 : 1);

      // Exactly one key with the label in the token.
      expect(await keysLabelled(label)).toBe(1);

      // The recorded export (the last export-key result) unwraps independently to the recorded check value.
      const exported = mine.filter((e) => e.step === 'export-key' && e.kind === 'result').at(-1)!.data as unknown as { path: string; checkValue: CheckValue };
      expect(exported.checkValue).toEqual(last.checkValue);
      if (point.exportRedone) expect(exported.path).toMatch(/-resumed-1$/);
      else expect(exported.path).not.toMatch(/-resumed-/);
      const encrypted = new Uint8Array(await readFile(join(exported.path, 'EncryptedKeyMaterial.bin')));
      checkRecovered('SYMMETRIC_DEFAULT', independentUnwrap(kms, ALGORITHM, encrypted), last.checkValue);

      // The transcript bundles verify with the command-line verifier, approvals included.
      const bundle = view.outputs.find((o) => o.kind === 'bundle')!.path;
      bundles.push(bundle);
      let said = '';
      let err = '';
      const code = await verifyCommand([initBundle, ...bundles], { stdout: { write: (t: string) => (said += t) }, stderr: { write: (t: string) => (err += t) } });
      expect(err).toBe('');
      expect(code, said).toBe(0);

      // Without its `resumed` entry, the second quorum-open of the login step is refused by the verifier.
      const all = await journal();
      expect(verifyApprovals(all).status).toBe('pass');
      const tampered = verifyApprovals(all.filter((e) => e !== all.find((x) => x.seq === resumedEntry.seq)));
      expect(tampered.status).toBe('fail');
      expect(tampered.detail).toMatch(/the quorum of step login of ceremony .* was opened twice/);
    }, 120_000);
  }

  it('killed again while resumed: a second resume finishes it (attempt 2, a third quorum), and the chain verifies', async () => {
    const label = 'twice';
    const common = { module: SOFTHSM_MODULE, dataDir, tokenUri: `pkcs11:token=${TOKEN}`, parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: label, wrappingAlgorithm: ALGORITHM }, paramsFile: await paramsFile(label), stick: join(work, 'stick'), out: join(work, 'out') };
    const first = await runChild({ ...common, mode: 'crash', crashAt: 'generate:performed', shares: [share('alice'), share('bob')] });
    expect(first.signal, first.stderr).toBe('SIGKILL');
    const ceremonyId = /^ceremony (\S+) at /m.exec(first.stdout)?.[1] as string;
    const second = await runChild({ ...common, mode: 'resume', ceremonyId, crashAt: 'wrap:result', shares: [share('alice'), share('carol')] });
    expect(second.signal, second.stderr).toBe('SIGKILL');
    const third = await runChild({ ...common, mode: 'resume', ceremonyId, shares: [share('bob'), share('carol')] });
    expect(third.code, third.stderr + third.stdout).toBe(0);
    const view = JSON.parse(third.stdout.trim().split('\n').at(-1) as string) as CeremonyView;
    expect(view.status).toBe('completed');
    // The resumed run's sign-off summary (from what it holds in memory) is the one the journal gives.
    expect(view.summary).toEqual(await ceremonySummary(dataDir, ceremonyId));
    expect(view.summary?.key?.checkValue?.value).toMatch(/^[0-9A-F]{6}$/);
    const mine = (await journal()).filter((e) => e.ceremonyId === ceremonyId);
    expect(mine.filter((e) => e.kind === 'resumed').map((e) => e.data.attempt)).toEqual([1, 2]);
    expect(mine.filter((e) => e.step === 'login' && e.kind === 'quorum-open')).toHaveLength(3);
    const generated = mine.filter((e) => e.step === 'generate' && e.kind === 'result').map((e) => e.data as unknown as { checkValue: CheckValue; recovered?: { from: string } });
    expect(generated.map((g) => g.recovered?.from)).toEqual(['intent', 'result']);
    expect(await keysLabelled(label)).toBe(1);
    const exported = mine.filter((e) => e.step === 'export-key' && e.kind === 'result').at(-1)!.data as unknown as { path: string; checkValue: CheckValue };
    expect(exported.path).toMatch(/-resumed-2$/);
    checkRecovered('SYMMETRIC_DEFAULT', independentUnwrap(kms, ALGORITHM, new Uint8Array(await readFile(join(exported.path, 'EncryptedKeyMaterial.bin')))), generated.at(-1)!.checkValue);
    bundles.push(view.outputs.find((o) => o.kind === 'bundle')!.path);
    let said = '';
    expect(await verifyCommand([initBundle, ...bundles], { stdout: { write: (t: string) => (said += t) }, stderr: { write: () => undefined } }), said).toBe(0);
  }, 120_000);

  it('keyceremony kms-import --resume: the same flags finish it; a changed --key-label is a usage error', async () => {
    const label = 'cli-resumed';
    const paramsPath = await paramsFile(label);
    const crashed = await runChild({ module: SOFTHSM_MODULE, dataDir, tokenUri: `pkcs11:token=${TOKEN}`, parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: label, wrappingAlgorithm: ALGORITHM }, paramsFile: paramsPath, shares: [share('alice'), share('bob')], stick: join(work, 'stick'), out: join(work, 'out'), mode: 'crash', crashAt: 'generate:result' });
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
    const ceremonyId = /^ceremony (\S+) at /m.exec(crashed.stdout)?.[1] as string;
    for (const c of ['bob', 'carol'] as const) await writeFile(join(work, `${c}.pass`), `${PASS[c]}\n`);
    const argv = (keyLabel: string) => [
      '--resume', ceremonyId, '--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${TOKEN}`, '--params', paramsPath, '--wrapping-algorithm', ALGORITHM,
      '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', keyLabel, '--out', join(work, 'stick'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', dataDir,
      ...(['bob', 'carol'] as const).flatMap((c) => ['--share', `${join(work, 'usb', `${c}.share`)}:${join(work, `${c}.pass`)}`]),
    ];
    const io = () => {
      const o = { out: '', err: '' };
      return { o, io: { stdout: { write: (t: string) => (o.out += t) }, stderr: { write: (t: string) => (o.err += t) } } };
    };
    const wrong = io();
    expect(await kmsImportCommand(argv('another-label'), wrong.io, { airGap: offline })).toBe(2);
    expect(wrong.o.err).toContain(`--key-label another-label: ceremony ${ceremonyId} started with ${label}; a resumed ceremony keeps the parameters it started with.`);
    const right = io();
    const code = await kmsImportCommand(argv(label), right.io, { airGap: offline });
    expect(right.o.err).toBe('');
    expect(code).toBe(0);
    expect(right.o.out).toContain(`Ceremony ${ceremonyId}: `);
    expect(right.o.out).toContain(', resumed at step airgap');
    expect(await keysLabelled(label)).toBe(1);
    const mine = (await journal()).filter((e) => e.ceremonyId === ceremonyId);
    expect(mine.at(-1)?.kind).toBe('completed');
    const generated = mine.filter((e) => e.step === 'generate' && e.kind === 'result').map((e) => e.data as unknown as { checkValue: CheckValue; recovered?: { from: string } });
    expect(generated.map((g) => g.recovered?.from)).toEqual([undefined, 'result']);
    const exported = mine.filter((e) => e.step === 'export-key' && e.kind === 'result').at(-1)!.data as unknown as { path: string };
    checkRecovered('SYMMETRIC_DEFAULT', independentUnwrap(kms, ALGORITHM, new Uint8Array(await readFile(join(exported.path, 'EncryptedKeyMaterial.bin')))), generated[0]!.checkValue);
    // The final export comes after `completed`: its outcome is in the ceremony's local note, not the chain.
    const note = (await readFile(join(dataDir, 'ceremonies', ceremonyId, 'after-completed.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: string; kind: string; data: { path: string } });
    bundles.push(note.filter((r) => r.step === 'export' && r.kind === 'result').at(-1)!.data.path);
    let said = '';
    expect(await verifyCommand([initBundle, ...bundles], { stdout: { write: (t: string) => (said += t) }, stderr: { write: () => undefined } }), said).toBe(0);
  }, 120_000);

  it('while an interrupted ceremony waits, a new one on the token is refused; abandoning it is recorded and ends it', async () => {
    const label = 'abandoned';
    const crashed = await runChild({ module: SOFTHSM_MODULE, dataDir, tokenUri: `pkcs11:token=${TOKEN}`, parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: label, wrappingAlgorithm: ALGORITHM }, paramsFile: await paramsFile(label), shares: [share('alice'), share('bob')], stick: join(work, 'stick'), out: join(work, 'out'), mode: 'crash', crashAt: 'generate:performed' });
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
    const waiting = /^ceremony (\S+) at /m.exec(crashed.stdout)?.[1] as string;
    const layer = new Pkcs11TokenLayer();
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const service = new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
    try {
      const startNew = async () => {
        const v = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'next', wrappingAlgorithm: ALGORITHM } });
        await service.perform(v.ceremonyId, 'participants', { administrator: 'admin', witnesses: ['wendy'] });
        await service.perform(v.ceremonyId, 'airgap', {});
        return v.ceremonyId;
      };
      const refusedId = await startNew();
      await expect(service.perform(refusedId, 'token', { uri: `pkcs11:token=${TOKEN}` })).rejects.toThrow(`ceremony ${waiting} on token '${TOKEN}' was interrupted and is neither resumed nor abandoned`);
      await service.abort(refusedId, 'the interrupted ceremony comes first');
      await expect(service.abandon(waiting, 'no')).rejects.toThrow('reason: say why the ceremony is abandoned');
      expect(await service.abandon(waiting, 'the room decided not to continue')).toEqual({ ceremonyId: waiting, status: 'aborted' });
      const abort = (await journal()).filter((e) => e.ceremonyId === waiting).at(-1)!;
      expect(abort).toMatchObject({ kind: 'abort', data: { reason: 'the room decided not to continue', abandoned: true } });
      expect(String(abort.data.leftInToken)).toContain(`'${label}'`);
      expect((await service.history()).find((h) => h.ceremonyId === waiting)).toMatchObject({ status: 'aborted' });
      expect((await service.history()).find((h) => h.ceremonyId === waiting)?.resumable).toBeUndefined();
      await expect(service.resume(waiting)).rejects.toThrow(`ceremony ${waiting} is already abandoned; only an interrupted ceremony can be resumed`);
      // The token is free for the next ceremony again.
      const nextId = await startNew();
      const view = (await service.perform(nextId, 'token', { uri: `pkcs11:token=${TOKEN}` })).view;
      expect(view.currentStepId).toBe('parameters');
      await service.abort(nextId, 'only checking that the token can be selected');
    } finally {
      await service.close();
      await layer.close();
    }
  });

  it('a resumed transcript whose resumed entry was altered fails verification', async () => {
    const copy = join(work, 'tampered');
    const last = bundles.at(-1) as string;
    await cp(last, copy, { recursive: true });
    const path = join(copy, 'transcript.jsonl');
    const lines = (await readFile(path, 'utf8')).split('\n');
    const at = lines.findIndex((l) => l.includes('"kind":"resumed"'));
    expect(at).toBeGreaterThanOrEqual(0);
    lines[at] = (lines[at] as string).replace('"attempt":1', '"attempt":2');
    await writeFile(path, lines.join('\n'));
    let said = '';
    const code = await verifyCommand([initBundle, ...bundles.slice(0, -1), copy], { stdout: { write: (t: string) => (said += t) }, stderr: { write: () => undefined } });
    expect(code).toBe(1);
    expect(said).toMatch(/seq \d+/);
  });
});
