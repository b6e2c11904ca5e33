// Resuming kms-import after a crash on a YubiHSM 2: the simulator runs as its own process behind the
// yubihsm-connector HTTP protocol (the module `yubihsm:http://127.0.0.1:PORT`), init-token enrols it, then a
// child process running kms-import (SYMMETRIC_DEFAULT, RSA_AES_KEY_WRAP_SHA_256) sends itself SIGKILL once
// the key was generated in the device and before its result was recorded; a fresh child resumes the
// ceremony with two other shares and finishes it. Then: the resumed generate result says the key was
// recovered from the intent, under the 2-byte CKA_ID (the device's object id) the intent recorded; the
// device holds exactly one key with the label (counted after a quorum login, over HTTP); the recorded
// EncryptedKeyMaterial.bin unwraps independently (openssl / python cryptography) to material with the
// recorded check value; and the transcript bundles verify with the command-line verifier.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolmentFromEntries, quorumLogin } from '../../src-main/ceremony/actions/quorum-login.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { verifyApprovals } from '../../src-main/ceremony/verify-approvals.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { verifyCommand } from '../../src-main/cli/verify-command.js';
import type { CheckValue } from '../../src-main/kms/index.js';
import { createTokenLayer } from '../../src-main/tokens/token-layer.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';

const SERIAL = '7171717';
const TOKEN = 'yubi-resume';
const LABEL = 'yubi-resumed-cmk';
const ALGORITHM = 'RSA_AES_KEY_WRAP_SHA_256';
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
// Its own build folder: the SoftHSM resume test and `npm run yubihsm-sim` build into theirs, maybe at the same time.
const outDir = resolve('node_modules/.cache/keyceremony-yubihsm-resume');

let sim: ChildProcess | undefined;
let module: string;
let work: string;
let dataDir: string;
let child: string;
let enrolmentId: string;
let initBundle: string;
let kms: KmsLikeKey;

const share = (c: keyof typeof PASS) => ({ shareFile: join(work, 'usb', `${c}.share`), passphrase: PASS[c] });
const journal = async (): Promise<Entry[]> => (await readFile(join(dataDir, 'chains', enrolmentId, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);

async function buildEntry(entry: string, name: string): Promise<string> {
  await build({
    configFile: false,
    logLevel: 'silent',
    ssr: { noExternal: ['zod'] },
    build: { ssr: resolve(entry), outDir: join(outDir, name), emptyOutDir: true, target: 'node20', rollupOptions: { output: { entryFileNames: `${name}.mjs`, format: 'es' } } },
  });
  return join(outDir, name, `${name}.mjs`);
}

/** The simulator's command line (test/yubihsm-sim/cli.ts, what `npm run yubihsm-sim` runs) as its own process; wait for its address. */
async function startSimulator(script: string): Promise<{ child: ChildProcess; url: string }> {
  const p = spawn(process.execPath, [script, '--port', '0', '--serial', SERIAL], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  const url = await new Promise<string>((done, reject) => {
    const timer = setTimeout(() => reject(new Error(`the simulator did not start: ${seen}`)), 30_000);
    p.stdout?.on('data', (b: Buffer) => {
      seen += b.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m?.[1]) {
        clearTimeout(timer);
        done(m[1]);
      }
    });
    p.stderr?.on('data', (b: Buffer) => (seen += b.toString()));
    p.on('exit', (code, signal) => reject(new Error(`the simulator exited (${code ?? signal}): ${seen}`)));
  });
  return { child: p, url };
}

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

/** A fresh token layer over HTTP (as a new run would build): log in with two shares, list the secret keys with this label. */
async function keysLabelled(label: string): Promise<{ id: string }[]> {
  const layer = createTokenLayer(dataDir);
  const [status] = await layer.configureModules([{ path: module, source: 'user' }]);
  expect(status?.loaded, status?.error?.message).toBe(true);
  try {
    const { session } = await layer.openSession({ uri: `pkcs11:token=${TOKEN}` }, { readWrite: false });
    try {
      await quorumLogin(layer, session, enrolmentFromEntries(await journal())!, [share('alice'), share('carol')]);
      const keys = await layer.findAll(session, { class: 'SECRET_KEY', label });
      const out: { id: string }[] = [];
      for (const k of keys) out.push({ id: Buffer.from((await layer.getAttributes(session, k, ['CKA_ID'])).CKA_ID as Uint8Array).toString('hex') });
      return out;
    } finally {
      await layer.closeSession(session);
    }
  } finally {
    await layer.close();
  }
}

beforeAll(async () => {
  const simScript = await buildEntry('test/yubihsm-sim/cli.ts', 'sim');
  child = await buildEntry('test/integration/ceremony-resume-child.ts', 'child');
  work = await mkdtemp(join(tmpdir(), 'kc-yubihsm-resume-'));
  dataDir = join(work, 'data');
  for (const d of ['usb', 'out', 'stick', 'secrets']) await mkdir(join(work, d));
  for (const [c, p] of Object.entries(PASS)) await writeFile(join(work, 'secrets', c), `${p}\n`);
  kms = kmsLikeKey(2048);
  const started = await startSimulator(simScript);
  sim = started.child;
  module = `yubihsm:${started.url}`;

  // init-token on the device, as `keyceremony init-token` does it (its own token layer, then closed).
  let said = '';
  let err = '';
  const code = await initTokenCommand(
    [
      '--module', module, '--slot', SERIAL, '--token-label', TOKEN, '--custodians', 'alice,bob,carol', '--threshold', '2',
      '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', dataDir, '--json',
      ...Object.keys(PASS).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
    ],
    { stdout: { write: (t: string) => (said += t) }, stderr: { write: (t: string) => (err += t) } },
    { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: offline },
  );
  expect(err).toBe('');
  expect(code).toBe(0);
  const init = JSON.parse(said) as { ceremonyId: string; status: string; bundle: { path: string } };
  expect(init.status).toBe('completed');
  enrolmentId = init.ceremonyId;
  initBundle = init.bundle.path;
}, 120_000);

afterAll(async () => {
  if (sim?.pid !== undefined && sim.exitCode === null && sim.signalCode === null) {
    const exited = new Promise((done) => sim!.once('exit', done));
    process.kill(sim.pid, 'SIGTERM');
    await exited;
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe('kms-import on a YubiHSM 2 (simulator over HTTP) killed with SIGKILL after the key was generated, then resumed', () => {
  it('the resume adopts the key by the CKA_ID of the intent; one key in the device; the export unwraps to the recorded check value; the bundles verify', async () => {
    const paramsFile = join(work, 'stick', 'params.json');
    await writeFile(paramsFile, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('yubi-resume-token').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));
    const common = { module, dataDir, tokenUri: `pkcs11:token=${TOKEN}`, parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: LABEL, wrappingAlgorithm: ALGORITHM }, paramsFile, stick: join(work, 'stick'), out: join(work, 'out') };

    const crashed = await runChild({ ...common, mode: 'crash', crashAt: 'generate:performed', shares: [share('alice'), share('bob')] });
    expect(crashed.signal, crashed.stderr + crashed.stdout).toBe('SIGKILL');
    const ceremonyId = /^ceremony (\S+) at /m.exec(crashed.stdout)?.[1] as string;
    expect(ceremonyId).toMatch(/^kms-import-/);
    // Killed between the generation and its result: the intent is on disk, no result, nothing terminal.
    const before = (await journal()).filter((e) => e.ceremonyId === ceremonyId);
    expect(before.filter((e) => e.step === 'generate').map((e) => e.kind)).toEqual(['intent']);
    expect(before.some((e) => ['completed', 'abort', 'interrupted'].includes(e.kind))).toBe(false);
    const intent = before.find((e) => e.step === 'generate' && e.kind === 'intent')!.data as { key: { requestedId: string; label: string } };
    expect(intent.key.label).toBe(LABEL);
    expect(intent.key.requestedId).toMatch(/^[0-9a-f]{4}$/);

    const resumed = await runChild({ ...common, mode: 'resume', ceremonyId, shares: [share('bob'), share('carol')] });
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    const view = JSON.parse(resumed.stdout.trim().split('\n').at(-1) as string) as CeremonyView;
    expect(view).toMatchObject({ ceremonyId, status: 'completed' });

    const mine = (await journal()).filter((e) => e.ceremonyId === ceremonyId);
    const resumedEntry = mine.find((e) => e.kind === 'resumed')!;
    expect(resumedEntry).toBeDefined();
    const approvals = mine.filter((e) => e.step === 'login' && e.kind === 'approval' && e.seq > resumedEntry.seq).map((e) => e.actor);
    expect(approvals).toEqual(['bob', 'carol']);
    // The resumed run wrote its own generate intent (with an id of its own, left unused), then one result:
    // the key recovered under the id of the intent written before the crash.
    const intents = mine.filter((e) => e.step === 'generate' && e.kind === 'intent').map((e) => (e.data as { key: { requestedId: string } }).key.requestedId);
    expect(intents).toHaveLength(2);
    expect(intents[0]).toBe(intent.key.requestedId);
    expect(intents[1]).toMatch(/^[0-9a-f]{4}$/);
    expect(mine.filter((e) => e.step === 'generate' && e.kind === 'intent').at(-1)!.seq).toBeGreaterThan(resumedEntry.seq);
    const generated = mine.filter((e) => e.step === 'generate' && e.kind === 'result').map((e) => e.data as unknown as { checkValue: CheckValue; key: { id: string; label: string }; recovered?: { from: string } });
    expect(generated).toHaveLength(1);
    const result = generated[0]!;
    expect(result.recovered?.from).toBe('intent');
    expect(result.key.id).toBe(intent.key.requestedId);
    expect(result.key.label).toBe(LABEL);

    // Exactly one key with the label in the device, and it is the one with the recorded object id.
    expect(await keysLabelled(LABEL)).toEqual([{ id: intent.key.requestedId }]);

    // The export unwraps independently to material whose check value is the recorded one.
    const exported = mine.filter((e) => e.step === 'export-key' && e.kind === 'result').at(-1)!.data as unknown as { path: string; checkValue: CheckValue };
    expect(exported.checkValue).toEqual(result.checkValue);
    expect(exported.path).toMatch(/-resumed-1$/);
    const encrypted = new Uint8Array(await readFile(join(exported.path, 'EncryptedKeyMaterial.bin')));
    checkRecovered('SYMMETRIC_DEFAULT', independentUnwrap(kms, ALGORITHM, encrypted), result.checkValue);

    // The bundles (init-token's and the resumed kms-import's) verify with the command-line verifier.
    const bundle = view.outputs.find((o) => o.kind === 'bundle')!.path;
    let said = '';
    let err = '';
    const code = await verifyCommand([initBundle, bundle], { stdout: { write: (t: string) => (said += t) }, stderr: { write: (t: string) => (err += t) } });
    expect(err).toBe('');
    expect(code, said).toBe(0);
    expect(verifyApprovals(await journal()).status).toBe('pass');
  }, 180_000);
});
