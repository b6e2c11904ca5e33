// Command-line parity with Home (issue 12, item 3), on a real SoftHSM token: `keyceremony ceremonies` lists
// what Home lists (the service's history) with each state; `keyceremony kms-rewrap --resume ID` finishes
// an interrupted kms-rewrap (kms-import --resume refuses it and names the right command); `keyceremony
// abandon ID --reason TEXT` records the same abort entry as Home's Abandon…, after which the ceremony is
// listed as abandoned and the token takes the next ceremony. Also: a failed final export retried after
// `completed` stays out of the chain, and a ceremony another service runs is listed as running.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { runCli } from '../../src-main/cli/main.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { createTokenLayer } from '../../src-main/tokens/token-layer.js';
import { ARN, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const TOKEN = 'parity-cli';
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
let env: SoftHsmEnv;
let work: string;
let dataDir: string;
let kms: KmsLikeKey;
const bundles: string[] = [];

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

async function cli(argv: string[]) {
  const { o, out } = io();
  const code = await runCli(argv, out);
  return { code, ...o };
}

async function params(name: string): Promise<string> {
  const path = join(work, 'stick', `${name}.json`);
  await writeFile(path, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from(`token-${name}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  return path;
}

const kmsFlags = (paramsFile: string, label = 'parity-key') => [
  '--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${TOKEN}`, '--params', paramsFile, '--wrapping-algorithm', 'RSAES_OAEP_SHA_1',
  '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', label, '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', dataDir, '--rehearsal',
  ...(['alice', 'bob'] as const).flatMap((c) => ['--share', `${join(work, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`]),
];

const listed = async () => JSON.parse((await cli(['ceremonies', '--data-dir', dataDir, '--json'])).stdout) as { id: string; kind: string; state: string; resumable: boolean; startedAt: string | null; token: { label: string } | null }[];
const journal = async (chain: string): Promise<Entry[]> => (await readFile(join(dataDir, 'chains', chain, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);

/** Run a kms-rewrap in this process up to (and including) `until`, then let the service go as a closed app would: interrupted. */
async function interruptedRewrap(until: string): Promise<string> {
  const layer = createTokenLayer(dataDir);
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  const service = new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test' });
  try {
    let view = await service.start({ script: 'kms-rewrap', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'parity-key', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }, rehearsal: true });
    const inputs: Record<string, Record<string, unknown>[]> = {
      participants: [{ administrator: 'admin', witnesses: ['wendy'] }],
      airgap: [{}],
      token: [{ uri: `pkcs11:token=${TOKEN}` }],
      parameters: [{ path: await params(`rewrap-${until}`), wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }],
      login: (['alice', 'bob'] as const).map((c) => ({ shareFile: join(work, 'usb', `${c}.share`), passphrase: PASS[c] })),
      find: [{}],
    };
    for (;;) {
      const step = view.currentStepId as string;
      for (const input of inputs[step] ?? []) view = (await service.perform(view.ceremonyId, step, input)).view;
      if (step === until) return view.ceremonyId;
    }
  } finally {
    await service.close();
    await layer.close();
  }
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-cli-parity-'));
  dataDir = join(work, 'data');
  for (const d of ['usb', 'out', 'secrets', 'data', 'stick', 'kms-out']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(PASS)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  kms = kmsLikeKey(2048);
  const { initTokenCommand } = await import('../../src-main/cli/init-token-command.js');
  const { o, out } = io();
  const code = await initTokenCommand(
    [
      '--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', TOKEN, '--custodians', 'alice,bob,carol', '--threshold', '2',
      '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', dataDir, '--json',
      ...Object.keys(PASS).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
    ],
    out,
    { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  bundles.push((JSON.parse(o.stdout) as { bundle: { path: string } }).bundle.path);
  const imp = await cli(['kms-import', ...kmsFlags(await params('first')), '--json']);
  expect(imp.stderr).toBe('');
  expect(imp.code).toBe(0);
  bundles.push((JSON.parse(imp.stdout) as { bundle: { path: string } }).bundle.path);
});

afterAll(async () => {
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('keyceremony ceremonies, abandon and kms-rewrap --resume', () => {
  it('have help, and refuse bad usage with exit 2 and words', async () => {
    const main = await cli(['--help']);
    expect(main.stdout).toContain('ceremonies');
    expect(main.stdout).toContain('abandon');
    for (const [cmd, usage] of [['ceremonies', 'Usage: keyceremony ceremonies [--data-dir DIR] [--json]'], ['abandon', 'Usage: keyceremony abandon CEREMONY_ID --reason TEXT'], ['kms-rewrap', '--resume CEREMONY_ID']] as const) {
      const help = await cli([cmd, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(usage);
    }
    expect(await cli(['ceremonies', '--bogus'])).toMatchObject({ code: 2, stderr: expect.stringContaining("keyceremony ceremonies: Unknown option '--bogus'") });
    expect(await cli(['abandon', '--data-dir', dataDir])).toMatchObject({ code: 2, stderr: expect.stringContaining('name the ceremony to abandon') });
    expect(await cli(['abandon', 'kms-import-x', '--data-dir', dataDir])).toMatchObject({ code: 2, stderr: expect.stringContaining('--reason TEXT is required') });
    expect(await cli(['abandon', '../../etc', '--reason', 'why not', '--data-dir', dataDir])).toMatchObject({ code: 2, stderr: expect.stringContaining('not a ceremony id') });
    expect(await cli(['kms-rewrap', '--resume', 'init-token-20261206T000000Z-abcdef', ...kmsFlags(join(work, 'secrets', 'alice'))])).toMatchObject({ code: 2, stderr: expect.stringContaining('expected the id of a kms-rewrap ceremony') });
  });

  it('lists what Home lists, finishes an interrupted kms-rewrap with --resume, and kms-import --resume names the right command', async () => {
    const first = await listed();
    expect(first.map((c) => [c.kind, c.state])).toEqual([['init-token', 'completed'], ['kms-import', 'completed']]);
    expect(first.every((c) => c.token?.label === TOKEN && typeof c.startedAt === 'string')).toBe(true);

    const id = await interruptedRewrap('find');
    const during = (await listed()).find((c) => c.id === id);
    expect(during).toMatchObject({ kind: 'kms-rewrap', state: 'interrupted', resumable: true });
    const text = await cli(['ceremonies', '--data-dir', dataDir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${id}  kms-rewrap  interrupted  token ${TOKEN}`);
    expect(text.stdout).toContain(`resume: keyceremony kms-rewrap --resume ${id}`);

    const wrongKind = await cli(['kms-import', '--resume', id, ...kmsFlags(await params('x'))]);
    expect(wrongKind.code).toBe(2);
    expect(wrongKind.stderr).toContain(`--resume ${id}: that is a kms-rewrap ceremony; resume it with keyceremony kms-rewrap --resume ${id}.`);
    const changed = await cli(['kms-rewrap', '--resume', id, ...kmsFlags(await params('y'), 'other-key')]);
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain(`--key-label other-key: ceremony ${id} started with parity-key`);

    const resumed = await cli(['kms-rewrap', '--resume', id, ...kmsFlags(await params('resumed')), '--json']);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const r = JSON.parse(resumed.stdout) as { ceremonyId: string; status: string; importBundle: { path: string }; bundle: { path: string } };
    expect(r).toMatchObject({ ceremonyId: id, status: 'completed' });
    // The re-wrapped material unwraps, outside the app, to what the kms-import exported.
    const kmsImportDir = (await journal((first[0] as { id: string }).id)).find((e) => e.kind === 'result' && (e.data as { action?: string }).action === 'export-wrapped-key')?.data as { path: string };
    const before = independentUnwrap(kms, 'RSAES_OAEP_SHA_1', new Uint8Array(await readFile(join(kmsImportDir.path, 'EncryptedKeyMaterial.bin'))));
    const after = independentUnwrap(kms, 'RSAES_OAEP_SHA_1', new Uint8Array(await readFile(join(r.importBundle.path, 'EncryptedKeyMaterial.bin'))));
    expect(after.equals(before)).toBe(true);
    bundles.push(r.bundle.path);
    const report = await verifyBundles(bundles);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect((await listed()).find((c) => c.id === id)).toMatchObject({ state: 'completed', resumable: false });
    const again = await cli(['kms-rewrap', '--resume', id, ...kmsFlags(await params('again'))]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`ceremony ${id} is completed; only an interrupted ceremony can be resumed`);
  });

  it('abandons an interrupted kms-rewrap as Home does: the same entry, listed as abandoned, and the token takes the next ceremony', async () => {
    const id = await interruptedRewrap('login');
    const chain = (await listed())[0]?.id as string;
    const refused = await cli(['kms-rewrap', ...kmsFlags(await params('blocked'))]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`ceremony ${id} on token '${TOKEN}' was interrupted and is neither resumed nor abandoned`);
    expect(refused.stderr).toContain('keyceremony abandon ID --reason TEXT');

    const done = await cli(['abandon', id, '--reason', '  the room stops here  ', '--data-dir', dataDir, '--json']);
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toEqual({ id, state: 'abandoned', reason: 'the room stops here' });
    const entries = await journal(chain);
    const abort = entries.filter((e) => e.ceremonyId === id).at(-1) as Entry;
    const lastBefore = entries.filter((e) => e.ceremonyId === id).at(-2) as Entry;
    // Exactly the entry the app's Abandon… writes (CeremonyService.abandon).
    expect(abort).toMatchObject({ kind: 'abort', step: 'recovery', actor: 'keyceremony', data: { reason: 'the room stops here', abandoned: true, after: 'interruption', lastRecord: { seq: lastBefore.seq, kind: lastBefore.kind, step: lastBefore.step, hash: lastBefore.hash } } });
    expect((await listed()).find((c) => c.id === id)).toMatchObject({ state: 'abandoned', resumable: false });
    expect((await cli(['ceremonies', '--data-dir', dataDir])).stdout).toContain(`${id}  kms-rewrap  abandoned`);

    const twice = await cli(['abandon', id, '--reason', 'once more', '--data-dir', dataDir]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(`keyceremony abandon: ceremony ${id} is already abandoned; only an interrupted ceremony can be abandoned`);
    const unknown = await cli(['abandon', 'kms-rewrap-20200101T000000Z-000000', '--reason', 'no such', '--data-dir', dataDir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("is not in this laptop's data directory");

    const next = await cli(['kms-rewrap', ...kmsFlags(await params('after-abandon')), '--json']);
    expect(next.stderr).toBe('');
    expect(next.code).toBe(0);
  });

  it('a failed final export is retried after `completed`: the failure is in the local note, the chain holds one `completed`, the bundle ends with it', async () => {
    const layer = createTokenLayer(dataDir);
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const service = new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test' });
    try {
      let view = await service.start({ script: 'kms-rewrap', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'parity-key', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }, rehearsal: true });
      const id = view.ceremonyId;
      const inputs: Record<string, Record<string, unknown>[]> = {
        participants: [{ administrator: 'admin', witnesses: ['wendy'] }],
        airgap: [{}],
        token: [{ uri: `pkcs11:token=${TOKEN}` }],
        parameters: [{ path: await params('export-retry'), wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }],
        login: (['alice', 'carol'] as const).map((c) => ({ shareFile: join(work, 'usb', `${c}.share`), passphrase: PASS[c] })),
        find: [{}],
        wrap: [{ confirm: 'WRAP' }],
        'export-key': [{ destinationDir: join(work, 'kms-out') }],
        'sign-off': [{ witnesses: [{ name: 'wendy' }] }],
        head: [{}],
      };
      while (view.currentStepId !== 'export') {
        const step = view.currentStepId as string;
        for (const input of inputs[step] ?? []) view = (await service.perform(id, step, input)).view;
      }
      await expect(service.perform(id, 'export', { destinationDir: join(work, 'no-such-stick') })).rejects.toThrow();
      view = (await service.perform(id, 'export', { destinationDir: join(work, 'out') })).view;
      view = (await service.perform(id, 'logout', {})).view;
      expect(view.status).toBe('completed');
      const chained = (await journal((await listed())[0]?.id as string)).filter((e) => e.ceremonyId === id);
      expect(chained.filter((e) => e.kind === 'completed')).toHaveLength(1);
      expect(chained.at(-1)?.kind).toBe('completed');
      expect(chained.some((e) => e.step === 'export' || e.step === 'logout')).toBe(false);
      const note = (await readFile(join(dataDir, 'ceremonies', id, 'after-completed.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: string; kind: string });
      expect(note.map((r) => `${r.step}:${r.kind}`)).toEqual(['export:failure', 'export:result', 'logout:intent', 'logout:result']);
      const bundle = view.outputs.find((o) => o.kind === 'bundle')?.path as string;
      const entries = (await readFile(join(bundle, 'transcript.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
      expect(entries.at(-1)).toEqual(chained.at(-1));
    } finally {
      await service.close();
      await layer.close();
    }
  });

  it('a ceremony another service is running (its folder and chain locked) is listed as running; abandon and resume refuse it in words', async () => {
    const layer = createTokenLayer(dataDir);
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const service = new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test' });
    const view = await service.start({ script: 'kms-rewrap', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'parity-key', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }, rehearsal: true });
    const id = view.ceremonyId;
    try {
      await service.perform(id, 'participants', { administrator: 'admin', witnesses: ['wendy'] });
      expect((await listed()).find((c) => c.id === id)).toMatchObject({ state: 'running', resumable: false });
      const abandon = await cli(['abandon', id, '--reason', 'not ours to end', '--data-dir', dataDir]);
      expect(abandon.code).toBe(1);
      expect(abandon.stderr).toContain(`ceremony ${id} is running: it is in use by process ${process.pid} since`);
      const resume = await cli(['kms-rewrap', '--resume', id, ...kmsFlags(await params('not-yet'))]);
      expect(resume.code).toBe(1);
      expect(resume.stderr).toContain(`ceremony ${id} is running: it is in use by process ${process.pid} since`);
    } finally {
      await service.abort(id, 'the test is over');
      await service.close();
      await layer.close();
    }
    expect((await listed()).find((c) => c.id === id)).toMatchObject({ state: 'aborted' });
  });
});
