// init-token, then kms-import, through the ceremony engine (CeremonyService) on a YubiHSM 2: the
// protocol-faithful simulator behind the app's RoutingTokenLayer, as the app would construct it. The
// exported EncryptedKeyMaterial.bin (the device's one-step WRAP_KEY_RSA) is unwrapped independently
// (openssl, python cryptography) and matched with the check value the transcript recorded; the bundles
// verify; RSAES_OAEP_* is refused before any key exists, listing what the device can do; a wrong share
// is refused; a key label the device cannot hold (over 40 bytes) is refused with the parameters, before
// anything is generated; a restarted app (a new token layer) still finds the token's chain; the device's
// own audit log is copied into the transcript (device-log entries) without gaps, its digests chaining.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectType } from '../../hsm/yubihsm/constants.js';
import type { RoutingTokenLayer } from '../../hsm/yubihsm/token-layer-routing.js';
import { createTokenLayer } from '../../src-main/tokens/token-layer.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import type { KmsWrappingAlgorithm } from '../../src-main/kms/index.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { SimulatorTransport, YubiHsmSimulator } from '../yubihsm-sim/index.js';
import { runInitToken } from '../helpers/init-token-engine.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const MODULE = 'yubihsm:sim';
const SERIAL = '4242001';
const LABEL = 'yubi-root-A';

const sim = new YubiHsmSimulator({ serial: Number(SERIAL) });
// As the app builds it (src-main/tokens/token-layer.ts), with the simulator in place of USB.
const newLayer = () => createTokenLayer(dataDir, { transports: { [MODULE]: () => [new SimulatorTransport(sim)] }, keepAliveMs: 0 });
let layer: RoutingTokenLayer;
let work: string;
let dataDir: string;
let sharesDir: string;
let enrolmentId: string;
let initBundle: string;
let kms: KmsLikeKey;
const bundles: string[] = [];

const step = async (service: CeremonyService, id: string, s: string, input: Record<string, unknown>) => (await service.perform(id, s, input)).view;
const share = (c: keyof typeof PASS) => ({ shareFile: join(sharesDir, `${c}.share`), passphrase: PASS[c] });
const newService = () => new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });

async function paramsFile(name: string, algorithm: KmsWrappingAlgorithm): Promise<string> {
  const path = join(work, 'stick', `${name}.json`);
  const body = {
    KeyId: ARN,
    ImportToken: Buffer.from(`import-token-${name}`).toString('base64'),
    PublicKey: Buffer.from(kms.spki).toString('base64'),
    ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString(),
  };
  await writeFile(path, JSON.stringify(body, null, 2));
  return path;
}

const symmetricKeys = () => sim.listObjectsForTest().filter((o) => o.type === ObjectType.SYMMETRIC_KEY).length;

interface KmsRun {
  service: CeremonyService;
  id: string;
  view: CeremonyView;
}

async function runKmsImport(o: { algorithm: KmsWrappingAlgorithm; label: string; until?: string; shares?: (keyof typeof PASS)[] }): Promise<KmsRun> {
  const service = newService();
  let view = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: o.label, wrappingAlgorithm: o.algorithm } });
  const id = view.ceremonyId;
  const params = await paramsFile(`${o.label}-${id}`, o.algorithm);
  const inputs: Record<string, () => Record<string, unknown>[]> = {
    participants: () => [{ administrator: 'admin', witnesses: ['wendy'] }],
    airgap: () => [{}],
    token: () => [{ moduleId: MODULE, slotId: SERIAL }],
    parameters: () => [{ path: params, wrappingAlgorithm: o.algorithm }],
    login: () => (o.shares ?? ['alice', 'carol']).map(share),
    generate: () => [{ confirm: 'GENERATE' }],
    wrap: () => [{}],
    'export-key': () => [{ destinationDir: join(work, 'stick') }],
    'sign-off': () => [{ witnesses: [{ name: 'wendy' }] }],
    head: () => [{}],
    export: () => [{ destinationDir: join(work, 'out') }],
    logout: () => [{}],
  };
  while (view.status === 'running' && view.currentStepId && view.currentStepId !== o.until) {
    const s = view.currentStepId;
    try {
      for (const input of (inputs[s] as () => Record<string, unknown>[])()) view = await step(service, id, s, input);
    } catch {
      // A refused step stays current; the caller reads the refusal from the view.
      view = service.view(id);
    }
    if (view.currentStepId === s) break;
  }
  return { service, id, view };
}

const chainEntries = async (): Promise<Entry[]> => (await readFile(join(dataDir, 'chains', enrolmentId, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'kc-yubihsm-ceremony-'));
  dataDir = join(work, 'data');
  sharesDir = join(work, 'usb');
  for (const d of ['usb', 'out', 'stick']) await mkdir(join(work, d));
  kms = kmsLikeKey(2048);
  layer = newLayer();
  await layer.configureModules([{ path: MODULE }]);
  const service = newService();
  try {
    const view = await runInitToken(service, { tokenLabel: LABEL, custodians: { ...PASS }, threshold: 2, token: { moduleId: MODULE, slotId: SERIAL }, sharesDir, bundleDir: join(work, 'out') });
    enrolmentId = view.ceremonyId;
    expect(view.lastError).toBeUndefined();
    expect(view.status).toBe('completed');
    initBundle = view.outputs.find((o) => o.kind === 'bundle')!.path;
  } finally {
    await service.close();
  }
});

afterAll(async () => {
  await layer?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('init-token and kms-import on a YubiHSM 2 (simulator) through the engine', () => {
  it('init-token left the device initialised under the ceremony: factory key gone, label and audit key present', async () => {
    const objects = sim.listObjectsForTest();
    expect(objects.some((o) => o.type === ObjectType.AUTHENTICATION_KEY && o.id === 1)).toBe(false);
    expect(objects.filter((o) => o.type === ObjectType.AUTHENTICATION_KEY).map((o) => o.id).sort()).toEqual([2, 3]);
    expect(objects.some((o) => o.type === ObjectType.ASYMMETRIC_KEY)).toBe(true);
    const report = await verifyBundles([initBundle]);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  });

  for (const algorithm of ['RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'] as const) {
    it(`SYMMETRIC_DEFAULT with ${algorithm}: one-step WRAP_KEY_RSA, unwrapped independently to the recorded check value`, async () => {
      const label = `aes-${algorithm === 'RSA_AES_KEY_WRAP_SHA_1' ? 'sha1' : 'sha256'}`;
      const run = await runKmsImport({ algorithm, label });
      try {
        expect(run.view.lastError).toBeUndefined();
        expect(run.view.status).toBe('completed');
        const mine = (await chainEntries()).filter((e) => e.ceremonyId === run.id);
        const params = mine.find((e) => e.step === 'parameters' && e.kind === 'result')!.data as { tokenCan: { method: string; exactExport: unknown } };
        expect(params.tokenCan.method.startsWith('RSA_AES_KEY_WRAP')).toBe(true);
        // The device makes nothing before the login: the exactness probe waits for it, and says so...
        expect(params.tokenCan.exactExport).toEqual({ ran: false, deferred: 'the token makes no throw-away SYMMETRIC_DEFAULT key before the login (CKR_USER_NOT_LOGGED_IN): probed again after the quorum login, before anything is generated' });
        // ...and the generate step records it, run before the key was generated.
        const probed = mine.find((e) => e.step === 'generate' && e.kind === 'result')!.data as { exactExport: { ran: boolean; samples: unknown[]; conclusion: string } };
        expect(probed.exactExport).toMatchObject({ ran: true, samples: [{ unwrapped: 32, exact: true }], conclusion: 'a throw-away SYMMETRIC_DEFAULT key unwrapped to exactly 32 bytes' });
        const wrap = mine.find((e) => e.step === 'wrap' && e.kind === 'result')!.data as { method: string; rsaPartLength: number; aesPartLength: number };
        expect(wrap).toMatchObject({ rsaPartLength: 256, aesPartLength: 40 });
        const generated = mine.find((e) => e.step === 'generate' && e.kind === 'result')!.data as { checkValue: { value: string; method: string }; key: { id: string; attributes: Record<string, unknown> } };
        expect(generated.key.attributes).toMatchObject({ CKA_LOCAL: true, CKA_SENSITIVE: true, CKA_EXTRACTABLE: true });
        // The device keeps the 16-bit object id recorded in the intent (a resume finds the key by it).
        const intent = mine.find((e) => e.step === 'generate' && e.kind === 'intent')!.data as { key: { requestedId: string } };
        expect(intent.key.requestedId).toMatch(/^[0-9a-f]{4}$/);
        expect(generated.key.id).toBe(intent.key.requestedId);
        const out = run.view.outputs.find((o) => o.kind === 'kms-import')!;
        const manifest = JSON.parse(await readFile(join(out.path, 'import-manifest.json'), 'utf8')) as { checkValue: unknown; wrappingAlgorithm: string };
        expect(manifest.wrappingAlgorithm).toBe(algorithm);
        expect(manifest.checkValue).toEqual(generated.checkValue);
        const encrypted = new Uint8Array(await readFile(join(out.path, 'EncryptedKeyMaterial.bin')));
        const material = independentUnwrap(kms, algorithm, encrypted);
        checkRecovered('SYMMETRIC_DEFAULT', material, generated.checkValue as never);
        // And it is the key the device holds under the recorded id (only a simulator can show this).
        const stored = sim.inspectObject(parseInt(generated.key.id, 16), ObjectType.SYMMETRIC_KEY)?.secret as Uint8Array;
        expect(material.equals(Buffer.from(stored))).toBe(true);
        bundles.push(run.view.outputs.find((o) => o.kind === 'bundle')!.path);
        const report = await verifyBundles([initBundle, ...bundles]);
        expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
        expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
      } finally {
        await run.service.close();
      }
    });
  }

  for (const algorithm of ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const) {
    it(`${algorithm} is refused at the parameters step, before any login or key, listing what the device can do`, async () => {
      const before = symmetricKeys();
      const run = await runKmsImport({ algorithm, label: `oaep-${algorithm.slice(-1)}`, until: 'login' });
      try {
        expect(run.view.currentStepId).toBe('parameters');
        expect(run.view.lastError?.message).toContain(`cannot wrap with ${algorithm}`);
        expect(run.view.lastError?.message).toContain('RSAES_OAEP_* is not possible on this device');
        expect(run.view.lastError?.message).toMatch(/It can do: RSA_AES_KEY_WRAP_SHA_1 .*; RSA_AES_KEY_WRAP_SHA_256/);
        expect(symmetricKeys()).toBe(before);
        await run.service.abort(run.id, 'the device cannot do RSAES_OAEP');
      } finally {
        await run.service.close();
      }
    });
  }

  it('a restarted app (a new token layer that never saw the device) finds the token and its chain', async () => {
    await layer.close();
    layer = newLayer();
    await layer.configureModules([{ path: MODULE }]);
    const [slot] = await layer.listSlots(MODULE);
    expect(slot?.token).toMatchObject({ initialized: true, label: LABEL, serial: SERIAL });
    const run = await runKmsImport({ algorithm: 'RSA_AES_KEY_WRAP_SHA_256', label: 'after-restart' });
    try {
      expect(run.view.lastError).toBeUndefined();
      expect(run.view.status).toBe('completed');
    } finally {
      await run.service.close();
    }
  });

  it('a key label longer than the device holds (40 bytes) is refused with the parameters, before the quorum login', async () => {
    const before = symmetricKeys();
    const long = 'payments-prod-eu-central-1-cmk-2026-11-29-a'; // 43 bytes: the script allows 64
    const run = await runKmsImport({ algorithm: 'RSA_AES_KEY_WRAP_SHA_256', label: long, until: 'wrap' });
    try {
      const error = run.view.lastError;
      expect(error?.message).toContain(`parameters.keyLabel: '${long}' is 43 bytes, and a YubiHSM 2 object label holds at most 40`);
      expect(run.view.currentStepId).toBe('parameters');
      expect(error?.remedy).toMatch(/start it again with a key label of at most 40 bytes/);
      expect(symmetricKeys()).toBe(before);
      await run.service.abort(run.id, 'label too long for the device');
    } finally {
      await run.service.close();
    }
  });

  it("the device's audit log is in the transcript: every entry from the reset on, no gaps, digests chain", async () => {
    const entries = await chainEntries();
    // Copies made before genesis (init-token's pins, audit-key) are in the pre-genesis log, which the chain
    // holds verbatim in its pre-genesis entry; the others are chain entries.
    const copies = entries.flatMap((e) =>
      e.kind === 'pre-genesis' ? ((e.data as { records: { kind: string; step: string; data: unknown }[] }).records.filter((r) => r.kind === 'device-log')) : e.kind === 'device-log' ? [e] : [],
    );
    type Copied = { number: number; command: number; commandName: string; length: number; sessionKey: number; targetKey: number; secondKey: number; result: number; tick: number; digestHex: string };
    const datas = copies.map((e) => e.data as { serial: string; entries: Copied[]; gap?: unknown; error?: unknown });
    expect(datas.length).toBeGreaterThan(5);
    for (const d of datas) {
      expect(d.error).toBeUndefined();
      expect(d.gap).toBeUndefined();
      expect(d.serial).toBe(SERIAL);
    }
    const all = datas.flatMap((d) => d.entries);
    // init-token reset the device: its log starts with the reset line and the boot line.
    expect(all[0]).toMatchObject({ number: 1, commandName: 'RESET' });
    expect(all[1]).toMatchObject({ number: 2, commandName: 'BOOT' });
    // Recomputed here with node:crypto from the documented layout, not with the app's log code:
    // digest(n) = SHA-256(number u16, command u8, length u16, session u16, target u16, second u16, result u8, tick u32 || digest(n-1))[0..16].
    for (let i = 1; i < all.length; i++) {
      const e = all[i]!;
      const prev = all[i - 1]!;
      expect(e.number, `entry after ${prev.number}`).toBe(prev.number + 1);
      const b = Buffer.alloc(16);
      b.writeUInt16BE(e.number, 0);
      b.writeUInt8(e.command, 2);
      b.writeUInt16BE(e.length, 3);
      b.writeUInt16BE(e.sessionKey, 5);
      b.writeUInt16BE(e.targetKey, 7);
      b.writeUInt16BE(e.secondKey, 9);
      b.writeUInt8(e.result, 11);
      b.writeUInt32BE(e.tick, 12);
      const digest = createHash('sha256').update(b).update(Buffer.from(prev.digestHex, 'hex')).digest().subarray(0, 16).toString('hex');
      expect(e.digestHex, `digest of entry ${e.number}`).toBe(digest);
    }
    // The copies follow each token action: a kms-import's generate and wrap are in the device's record.
    const names = new Set(all.map((e) => e.commandName));
    for (const c of ['CREATE_SESSION', 'AUTHENTICATE_SESSION', 'PUT_AUTHENTICATION_KEY', 'GENERATE_ASYMMETRIC_KEY', 'SIGN_ECDSA', 'GENERATE_SYMMETRIC_KEY', 'ENCRYPT_ECB', 'PUT_PUBLIC_WRAP_KEY', 'WRAP_KEY_RSA', 'SET_LOG_INDEX']) expect(names, c).toContain(c);
    const wrapped = copies.find((e) => e.step === 'wrap')!;
    expect((wrapped.data as { entries: Copied[] }).entries.map((e) => e.commandName)).toContain('WRAP_KEY_RSA');
    // And the device agrees: what it still holds continues the recorded chain.
    const last = all.at(-1)!;
    const held = sim.logForTest();
    const same = held.find((e) => e.number === last.number);
    if (same) expect(Buffer.from(same.digest).toString('hex')).toBe(last.digestHex);
    else expect(held[0]?.number).toBe(last.number + 1);
  });

  it('a share of the wrong ceremony, or a wrong passphrase, is refused and opens nothing', async () => {
    const before = symmetricKeys();
    const run = await runKmsImport({ algorithm: 'RSA_AES_KEY_WRAP_SHA_256', label: 'wrong-share', until: 'login' });
    try {
      expect(run.view.currentStepId).toBe('login');
      await expect(run.service.perform(run.id, 'login', { shareFile: join(sharesDir, 'alice.share'), passphrase: PASS.bob })).rejects.toThrow();
      const refusal = run.service.view(run.id).lastError;
      expect(refusal?.message).toBeTruthy();
      await step(run.service, run.id, 'login', share('bob'));
      expect(run.service.view(run.id).quorum).toMatchObject({ approved: ['bob'], remaining: 1 });
      await expect(run.service.perform(run.id, 'generate', { confirm: 'GENERATE' })).rejects.toThrow("the current step is 'login'");
      expect(symmetricKeys()).toBe(before);
      await run.service.abort(run.id, 'wrong share');
    } finally {
      await run.service.close();
    }
    const refused = (await chainEntries()).filter((e) => e.ceremonyId === run.id && e.step === 'login' && e.kind === 'refused');
    // The wrong passphrase (with what was presented, never the passphrase) and the out-of-order generate.
    expect(refused.map((e) => ('presented' in (e.data as object) ? 'share' : (e.data as { requestedStep?: string }).requestedStep))).toEqual(['share', 'generate']);
    expect(JSON.stringify(refused)).not.toContain(PASS.bob);
  });
});
