// Tokens are known by their audit key, not by label or serial (issue 11, item 5), on real SoftHSM: two
// tokens with the same label, each enrolled by init-token with its own chain in one data directory.
// kms-import on each continues its own chain; a token layer that reports every serial as zeros (as
// tpm2-pkcs11 does) over the same real tokens changes nothing; a resumed kms-import reopens the right
// twin; Home's inventory names each token's audit key and chain; `pkcs11:token=LABEL` is refused in words when two
// tokens share the label.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { TokenLayer } from '../../hsm/token.js';
import type { OpenedSession, SlotInfo } from '../../hsm/types.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { reopenChainToken } from '../../src-main/ceremony/engine/resume-token.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { genesisTokenOf, readTokenIdentity } from '../../src-main/tokens/identity.js';
import { takeInventory } from '../../src-main/tokens/inventory.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';
import { runInitToken } from '../helpers/init-token-engine.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const LABEL = 'twin';
const ZEROS = '0000000000000000';

let env: SoftHsmEnv;
let layer: Pkcs11TokenLayer;
let work: string;
let dataDir: string;
let params: string;
const twins: { slotId: string; enrolmentId: string }[] = [];

/** The real layer, but every token reports serial 0000000000000000 (tpm2-pkcs11 does that for all of them). */
function zeroSerials(inner: TokenLayer): TokenLayer {
  const zero = <T extends { token?: SlotInfo['token'] }>(x: T): T => (x.token ? { ...x, token: { ...x.token, serial: ZEROS } } : x);
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'listSlots') return async (moduleId: string) => (await target.listSlots(moduleId)).map(zero);
      if (prop === 'openSession')
        return async (...args: Parameters<TokenLayer['openSession']>): Promise<OpenedSession> => {
          const opened = await target.openSession(...args);
          return opened.token ? { ...opened, token: { ...opened.token, serial: ZEROS } } : opened;
        };
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const newService = (tokens: TokenLayer = layer) => new CeremonyService({ layer: tokens, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
const journal = async (enrolmentId: string): Promise<Entry[]> => (await readFile(join(dataDir, 'chains', enrolmentId, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);

/** kms-import up to its token step (which attaches it to a chain) and the parameters step. */
async function startKmsImport(service: CeremonyService, token: Record<string, unknown>) {
  let view = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'identity-test', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' } });
  const id = view.ceremonyId;
  view = (await service.perform(id, 'participants', { administrator: 'admin', witnesses: ['wendy'] })).view;
  view = (await service.perform(id, 'airgap', {})).view;
  view = (await service.perform(id, 'token', token)).view;
  return { id, view };
}

/** Which chain (enrolment id) the ceremony's pre-chain entry went into. */
async function chainOf(ceremonyId: string): Promise<string[]> {
  const out: string[] = [];
  for (const t of twins) if ((await journal(t.enrolmentId)).some((e) => e.ceremonyId === ceremonyId && e.kind === 'pre-chain')) out.push(t.enrolmentId);
  return out;
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  work = await mkdtemp(join(tmpdir(), 'kc-identity-'));
  dataDir = join(work, 'data');
  for (const d of ['usb-a', 'usb-b', 'out', 'stick']) await mkdir(join(work, d));
  for (const usb of ['usb-a', 'usb-b']) {
    const blank = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized)!;
    const service = newService();
    try {
      const view = await runInitToken(service, { tokenLabel: LABEL, custodians: { ...PASS }, threshold: 2, token: { moduleId: SOFTHSM_MODULE, slotId: blank.slotId }, sharesDir: join(work, usb), bundleDir: join(work, 'out') });
      expect(view.status).toBe('completed');
      twins.push({ slotId: blank.slotId, enrolmentId: view.ceremonyId });
    } finally {
      await service.close();
    }
  }
  // SoftHSM moves an initialized token to a new slot id: find each twin again by its chain's audit key.
  const slots = (await layer.listSlots(SOFTHSM_MODULE)).filter((s) => s.token?.label.trim() === LABEL);
  expect(slots).toHaveLength(2);
  for (const t of twins) {
    const spki = genesisTokenOf((await journal(t.enrolmentId))[0]!.data)!.auditKeySpki;
    for (const s of slots) {
      const id = await readTokenIdentity(layer, s);
      if (id.kind === 'audit-key' && id.spki === spki) t.slotId = s.slotId;
    }
  }
  expect(new Set(twins.map((t) => t.slotId)).size).toBe(2);
  const kms = kmsLikeKey(2048);
  params = join(work, 'stick', 'params.json');
  await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('import-token').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));
});

afterAll(async () => {
  await layer?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('two tokens with the same label', () => {
  it('share a label but not an audit key, and each genesis names its own twin\'s key', async () => {
    const ids = await Promise.all(twins.map((t) => readTokenIdentity(layer, { moduleId: SOFTHSM_MODULE, slotId: t.slotId })));
    expect(ids.map((i) => i.kind)).toEqual(['audit-key', 'audit-key']);
    const [a, b] = ids as { kind: 'audit-key'; spki: string; sha256: string }[];
    expect(a!.spki).not.toBe(b!.spki);
    for (const [i, t] of twins.entries()) expect(genesisTokenOf((await journal(t.enrolmentId))[0]!.data)).toMatchObject({ label: LABEL, auditKeySpki: [a, b][i]!.spki });
  });

  for (const zeros of [false, true]) {
    it(`kms-import on each twin continues that twin's own chain${zeros ? ' (every serial reported as zeros)' : ''}`, async () => {
      const tokens = zeros ? zeroSerials(layer) : layer;
      for (const [i, t] of twins.entries()) {
        const service = newService(tokens);
        try {
          const { id, view } = await startKmsImport(service, { moduleId: SOFTHSM_MODULE, slotId: t.slotId });
          expect(view.lastError).toBeUndefined();
          expect(view.currentStepId).toBe('parameters');
          expect(await chainOf(id)).toEqual([t.enrolmentId]);
          expect(t.enrolmentId).not.toBe(twins[1 - i]!.enrolmentId);
          await service.abort(id, 'identity test: only the token step');
        } finally {
          await service.close();
        }
      }
    });
  }

  it('a resumed kms-import reopens the twin it started on, even with zero serials', async () => {
    const b = twins[1]!;
    const first = newService();
    let id: string;
    try {
      ({ id } = await startKmsImport(first, { moduleId: SOFTHSM_MODULE, slotId: b.slotId }));
      await first.perform(id, 'parameters', { path: params, wrappingAlgorithm: 'RSAES_OAEP_SHA_1' });
    } finally {
      await first.close(); // the app is closed mid-ceremony
    }
    const second = newService(zeroSerials(layer));
    try {
      const view = await second.resume(id);
      expect(view.status).toBe('running');
      const resumed = (await journal(b.enrolmentId)).find((e) => e.ceremonyId === id && e.kind === 'resumed')!.data as { token: { slotId: string; serial: string } };
      expect(resumed.token).toMatchObject({ slotId: b.slotId, serial: ZEROS });
      expect((await journal(twins[0]!.enrolmentId)).some((e) => e.ceremonyId === id)).toBe(false);
      await second.abort(id, 'identity test: resumed on the right twin');
    } finally {
      await second.close();
    }
  });

  it('resume does not fall back to label and serial when the serial is zeros and no audit key matches', async () => {
    const genesis = genesisTokenOf((await journal(twins[0]!.enrolmentId))[0]!.data)!;
    const reopened = await reopenChainToken(zeroSerials(layer), genesis);
    expect(reopened.slot.slotId).toBe(twins[0]!.slotId);
    await layer.closeSession(reopened.session);
    // A chain from a token that is not here, named only by label and a zeros serial: nothing matches.
    await expect(reopenChainToken(zeroSerials(layer), { label: LABEL, serial: ZEROS })).rejects.toThrow(`token '${LABEL}' (serial ${ZEROS}), which this ceremony's transcript chain belongs to, is not connected`);
    // With a different audit key (a third token, not connected): also not connected, though label and serial match.
    const other = Buffer.from(genesis.auditKeySpki!, 'base64');
    other[other.length - 1] = (other[other.length - 1] as number) ^ 1;
    await expect(reopenChainToken(layer, { ...genesis, auditKeySpki: other.toString('base64') })).rejects.toThrow('is not connected');
  });

  it("Home's inventory names each twin's audit key and the init-token that started its chain", async () => {
    const inventory = await takeInventory(zeroSerials(layer), probeKmsCapabilities, { dataDir });
    for (const t of twins) {
      const row = inventory.slots.find((s) => s.slotId === t.slotId)!;
      expect(row.token?.label.trim()).toBe(LABEL);
      expect(row.auditKeySha256).toMatch(/^[0-9a-f]{64}$/);
      expect(row.chain?.startedBy).toBe(t.enrolmentId);
      // Same label, same (zeros) serial: the URI the list shows names the slot too, so it picks this row only.
      expect(row.uri).toMatch(new RegExp(`serial=${ZEROS};token=${LABEL};slot-id=${t.slotId}$`));
      const opened = await layer.openSession({ uri: row.uri!.replace(`serial=${ZEROS};`, '') }, { readWrite: false });
      expect(opened.slotId).toBe(t.slotId);
      await layer.closeSession(opened.session);
    }
    const blank = inventory.slots.find((s) => s.token && !s.token.initialized)!;
    expect(blank.auditKeySha256).toBeUndefined();
    expect(blank.chain).toBeUndefined();
  });

  it('pkcs11:token=twin is refused in words; a URI that is unique still works', async () => {
    await expect(layer.openSession({ uri: `pkcs11:token=${LABEL}` }, { readWrite: false })).rejects.toThrow(/2 tokens match pkcs11:token=twin/);
    const service = newService();
    try {
      let view = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'identity-uri', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' } });
      view = (await service.perform(view.ceremonyId, 'participants', { administrator: 'admin', witnesses: ['wendy'] })).view;
      view = (await service.perform(view.ceremonyId, 'airgap', {})).view;
      await expect(service.perform(view.ceremonyId, 'token', { uri: `pkcs11:token=${LABEL}` })).rejects.toThrow(/share the label 'twin'/);
      await service.abort(view.ceremonyId, 'identity test: ambiguous URI');
    } finally {
      await service.close();
    }
    const unique = await layer.openSession({ uri: `pkcs11:token=${LABEL};slot-id=${twins[0]!.slotId}` }, { readWrite: false });
    expect(unique.slotId).toBe(twins[0]!.slotId);
    await layer.closeSession(unique.session);
  });
});
