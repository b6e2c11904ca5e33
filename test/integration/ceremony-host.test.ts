// A whole ceremony with the token in the token host process, as the app runs it: init-token (3 custodians,
// threshold 2) on a blank SoftHSM slot, then kms-import of an AES-256 key wrapped with
// RSA_AES_KEY_WRAP_SHA_1, all through CeremonyService over HostTokenLayer. The exported material is
// unwrapped with openssl and python `cryptography` and matched with the recorded check value, and the
// transcript bundles verify with their approvals. Then the host is killed between login and generate: the
// running ceremony cannot go on (its session died with the host), the service lets it go, and resuming it in
// the same app completes it on a fresh host.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { HostTokenLayer } from '../../src-main/hsm-host/host-token-layer.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey } from '../fixtures/kms/harness.js';
import { buildHsmHost } from '../helpers/hsm-host.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { runInitToken } from '../helpers/init-token-engine.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const LABEL = 'host-token';
const ALGORITHM = 'RSA_AES_KEY_WRAP_SHA_1';

let env: SoftHsmEnv;
let layer: HostTokenLayer;
let work: string;
let dataDir: string;
let sharesDir: string;
let initBundle: string;
let enrolmentId: string;
let slotId: string;
const kms = kmsLikeKey(2048);
const bundles: string[] = [];

const newService = () => new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
const share = (c: keyof typeof PASS) => ({ shareFile: join(sharesDir, `${c}.share`), passphrase: PASS[c] });

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-host-ceremony-'));
  dataDir = join(work, 'data');
  layer = new HostTokenLayer({ dataDir, entry: await buildHsmHost('ceremony') });
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  sharesDir = join(work, 'usb');
  for (const d of ['usb', 'out', 'stick']) await mkdir(join(work, d));
  const service = newService();
  try {
    const blank = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized);
    const view = await runInitToken(service, { tokenLabel: LABEL, custodians: { ...PASS }, threshold: 2, token: { moduleId: SOFTHSM_MODULE, slotId: blank!.slotId }, sharesDir, bundleDir: join(work, 'out') });
    enrolmentId = view.ceremonyId;
    expect(view.status).toBe('completed');
    initBundle = view.outputs.find((o) => o.kind === 'bundle')!.path;
  } finally {
    await service.close();
  }
  slotId = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === LABEL)!.slotId;
});

afterAll(async () => {
  await layer?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function paramsFile(name: string): Promise<string> {
  const path = join(work, 'stick', name);
  await writeFile(path, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from(`import-token-${name}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));
  return path;
}

/** Perform kms-import's steps from where the view is, up to (not including) `until`, or to the end. */
async function runSteps(service: CeremonyService, id: string, view: CeremonyView, params: string, until?: string): Promise<CeremonyView> {
  const inputs: Record<string, Record<string, unknown>[]> = {
    participants: [{ administrator: 'admin', witnesses: ['wendy'] }],
    airgap: [{}],
    token: [{ moduleId: SOFTHSM_MODULE, slotId }],
    parameters: [{ path: params, wrappingAlgorithm: ALGORITHM }],
    login: [share('alice'), share('carol')],
    generate: [{ confirm: 'GENERATE' }],
    wrap: [{}],
    'export-key': [{ destinationDir: join(work, 'stick') }],
    'sign-off': [{ witnesses: [{ name: 'wendy' }] }],
    head: [{}],
    export: [{ destinationDir: join(work, 'out') }],
    logout: [{}],
  };
  while (view.status === 'running' && view.currentStepId && view.currentStepId !== until) {
    const s = view.currentStepId;
    for (const input of inputs[s] ?? []) view = (await service.perform(id, s, input)).view;
    if (view.currentStepId === s) break;
  }
  return view;
}

/** The exported material unwraps (openssl, python) to the recorded check value; the bundles verify with their approvals. */
async function checkExported(id: string, view: CeremonyView): Promise<void> {
  const entries = (await readFile(join(dataDir, 'chains', enrolmentId, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
  const generated = entries.find((e) => e.ceremonyId === id && e.step === 'generate' && e.kind === 'result')!.data as { checkValue: { value: string; method: string } };
  const out = view.outputs.find((o) => o.kind === 'kms-import')!;
  const material = independentUnwrap(kms, ALGORITHM, new Uint8Array(await readFile(join(out.path, 'EncryptedKeyMaterial.bin'))));
  checkRecovered('SYMMETRIC_DEFAULT', material, generated.checkValue as never);
  bundles.push(view.outputs.find((o) => o.kind === 'bundle')!.path);
  const report = await verifyBundles([initBundle, ...bundles]);
  expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(condition()).toBe(true);
}

describe('a ceremony over the token host process', () => {
  it(`kms-import of SYMMETRIC_DEFAULT with ${ALGORITHM}: the material unwraps independently to the recorded check value, the bundles verify`, async () => {
    const params = await paramsFile('params.json');
    const service = newService();
    try {
      const started = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'aes-host', wrappingAlgorithm: ALGORITHM } });
      const view = await runSteps(service, started.ceremonyId, started, params);
      expect(view.lastError).toBeUndefined();
      expect(view.status).toBe('completed');
      await checkExported(started.ceremonyId, view);
    } finally {
      await service.close();
    }
  });

  it('the host killed between login and generate: the run stops (its session died), and resuming it in the same app on a fresh host completes it', async () => {
    const params = await paramsFile('params-killed.json');
    const service = newService();
    try {
      let view = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'aes-killed', wrappingAlgorithm: ALGORITHM } });
      const id = view.ceremonyId;
      view = await runSteps(service, id, view, params, 'generate');
      expect(view.currentStepId).toBe('generate');
      const killed = layer.hostPid as number;
      process.kill(killed, 'SIGKILL');
      await waitFor(() => layer.hostPid === undefined);
      // The run holds the session the dead host opened: the step fails, and the service lets the run go
      // so that the room can resume it (no app restart needed).
      const stopped = await service.perform(id, 'generate', { confirm: 'GENERATE' }).then(() => undefined, (e: unknown) => e);
      expect(stopped).toMatchObject({ code: 'ceremony-token-lost' });
      expect((stopped as { message: string }).message).toContain('is not open');
      expect((stopped as { remedy: string }).remedy).toMatch(/on Home resume this ceremony/);
      expect((await service.history()).find((c) => c.ceremonyId === id)).toMatchObject({ status: 'interrupted', resumable: true });
      view = await service.resume(id);
      expect(layer.hostPid).not.toBe(killed);
      view = await runSteps(service, id, view, params);
      expect(view.lastError).toBeUndefined();
      expect(view.status).toBe('completed');
      await checkExported(id, view);
    } finally {
      await service.close();
    }
  });
});
