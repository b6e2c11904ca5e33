// A YubiHSM 2 on USB unplugged in the middle of a ceremony: the simulator behind a fake WebUSB device
// that follows the USB frame protocol and whose cable is pulled after a given number of frames (not a mock
// of the token layer). The step fails at once with a sentence saying what happened and what to do (no
// hang), the inventory shows the device absent, and after the replug the next operation opens a new
// session: a step before any login is simply run again (Retry); a ceremony whose login was lost stops and
// is resumed after the replug, the custodians logging in again.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import type { RoutingTokenLayer } from '../../hsm/yubihsm/token-layer-routing.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import type { CeremonyView } from '../../src-main/ceremony/engine/types.js';
import { takeInventory } from '../../src-main/tokens/inventory.js';
import { createTokenLayer } from '../../src-main/tokens/token-layer.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';
import { FakeUsb, FakeYubiHsmUsb } from '../yubihsm-sim/fake-usb.js';
import { YubiHsmSimulator } from '../yubihsm-sim/index.js';
import { runInitToken } from '../helpers/init-token-engine.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const MODULE = 'yubihsm:usb';
const USB_SERIAL = '0000515151';
const SERIAL = '515151';

const sim = new YubiHsmSimulator({ serial: Number(SERIAL) });
const usb = new FakeUsb([new FakeYubiHsmUsb(USB_SERIAL, sim)]);
let device = usb.devices[0] as FakeYubiHsmUsb;
let layer: RoutingTokenLayer;
let work: string;
let dataDir: string;
let params: string;

const newService = () => new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
const share = (c: keyof typeof PASS) => ({ shareFile: join(work, 'usb', `${c}.share`), passphrase: PASS[c] });
/** Pull the cable after `frames` more request frames reach the device. */
const pullAfter = (frames: number) => {
  const d = device;
  d.pullAfterFrames = frames;
  d.onPull = () => usb.pull(d);
};
const replug = () => {
  device = usb.replug(USB_SERIAL, sim);
};
const yubiRow = async () => (await takeInventory(layer, probeKmsCapabilities)).slots.find((s) => s.moduleId === MODULE && s.slotId === SERIAL);

async function perform(service: CeremonyService, id: string, step: string, input: Record<string, unknown>): Promise<CeremonyView> {
  return (await service.perform(id, step, input)).view;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'kc-yubihsm-unplug-'));
  dataDir = join(work, 'data');
  for (const d of ['usb', 'out', 'stick']) await mkdir(join(work, d));
  layer = createTokenLayer(dataDir, { usb: async () => usb, keepAliveMs: 0 });
  await layer.configureModules([{ path: MODULE }]);
  const kms = kmsLikeKey(2048);
  params = join(work, 'stick', 'params.json');
  await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('token').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));
  const service = newService();
  try {
    const view = await runInitToken(service, { tokenLabel: 'usb-root', custodians: { alice: PASS.alice, bob: PASS.bob }, threshold: 2, token: { moduleId: MODULE, slotId: SERIAL }, sharesDir: join(work, 'usb'), bundleDir: join(work, 'out') });
    expect(view.status).toBe('completed');
  } finally {
    await service.close();
  }
});

afterAll(async () => {
  await layer?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function startKmsImport(service: CeremonyService, label: string): Promise<string> {
  const view = await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: label, wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' } });
  await perform(service, view.ceremonyId, 'participants', { administrator: 'admin', witnesses: ['wendy'] });
  await perform(service, view.ceremonyId, 'airgap', {});
  await perform(service, view.ceremonyId, 'token', { moduleId: MODULE, slotId: SERIAL });
  await perform(service, view.ceremonyId, 'parameters', { path: params, wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
  return view.ceremonyId;
}

describe('a YubiHSM 2 unplugged mid-ceremony (USB)', () => {
  it('before any login: the step fails with "plug it back in and press Retry", the device shows absent, and Retry after the replug goes on', async () => {
    // A second, blank device: init-token's init step is the first to talk to it.
    const blankSim = new YubiHsmSimulator({ serial: 525252 });
    let blank = new FakeYubiHsmUsb('0000525252', blankSim);
    usb.devices.push(blank);
    const row = async () => (await takeInventory(layer, probeKmsCapabilities)).slots.find((x) => x.slotId === '525252');
    expect(await row()).toMatchObject({ tokenPresent: true, token: { initialized: false } });
    const service = newService();
    try {
      const id = (await service.start({ script: 'init-token', parameters: { tokenLabel: 'usb-second', custodians: ['alice', 'bob'], threshold: 2 } })).ceremonyId;
      await perform(service, id, 'participants', { administrator: 'admin', witnesses: ['wendy'] });
      await perform(service, id, 'airgap', {});
      await perform(service, id, 'token', { moduleId: MODULE, slotId: '525252' });
      await perform(service, id, 'secret', {});
      // The shares are out and proved before init, the first step that talks to the device.
      const sticks = await mkdtemp(join(tmpdir(), 'kc-unplug-shares-'));
      for (const custodian of ['alice', 'bob']) await perform(service, id, 'shares', { custodian, insecurePlain: true, destinationDir: sticks });
      await perform(service, id, 'prove', {});
      blank.pullAfterFrames = 0;
      blank.onPull = () => usb.pull(blank);
      await expect(service.perform(id, 'init', { confirm: 'INITIALIZE' })).rejects.toThrow('YubiHSM 2 serial 525252 was unplugged: plug it back in and press Retry.');
      expect(service.view(id)).toMatchObject({ currentStepId: 'init', lastError: { code: 'CKR_DEVICE_REMOVED' } });
      expect(await row()).toMatchObject({ tokenPresent: false });
      expect((await row())?.token).toBeUndefined();

      blank = usb.replug('0000525252', blankSim);
      // Retry, without anyone refreshing the token list first: the device is reached again by the step.
      const view = await perform(service, id, 'init', { confirm: 'INITIALIZE' });
      expect(view.lastError).toBeUndefined();
      expect(view.currentStepId).toBe('pins');
      expect(await row()).toMatchObject({ tokenPresent: true, token: { initialized: true, label: 'usb-second' } });
      await service.abort(id, 'test done');
    } finally {
      await service.close();
    }
  });

  it('after the login: the step fails saying the login ended, the ceremony stops, and after the replug it is resumed with a fresh quorum', async () => {
    const service = newService();
    try {
      const id = await startKmsImport(service, 'lost-login');
      await perform(service, id, 'login', share('alice'));
      await perform(service, id, 'login', share('bob'));
      // A few frames into generate-key: the device is in the middle of the step.
      pullAfter(3);
      const failure = await service.perform(id, 'generate', { confirm: 'GENERATE' }).then(
        () => undefined,
        (e: Error & { code?: string; remedy?: string }) => e,
      );
      expect(failure?.code).toBe('ceremony-token-lost');
      expect(failure?.message).toContain(`YubiHSM 2 serial ${SERIAL} was unplugged: its login ended with it`);
      expect(failure?.remedy).toMatch(/on Home resume this ceremony/);
      expect(await yubiRow()).toMatchObject({ tokenPresent: false });
      // The run is let go: Home lists the ceremony as resumable.
      expect(() => service.view(id)).toThrow(/not running in this app/);
      expect((await service.history()).find((c) => c.ceremonyId === id)).toMatchObject({ status: 'interrupted', resumable: true });
      replug();
      expect(await yubiRow()).toMatchObject({ tokenPresent: true, token: { initialized: true } });
      // Resumed in the same app: the token reopened, the custodians log in again, the key is made once.
      let view = await service.resume(id);
      for (const step of ['airgap', 'parameters']) if (view.currentStepId === step) view = await perform(service, id, step, step === 'parameters' ? { path: params, wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' } : {});
      expect(view.currentStepId).toBe('login');
      await perform(service, id, 'login', share('bob'));
      view = await perform(service, id, 'login', share('alice'));
      view = await perform(service, id, 'generate', { confirm: 'GENERATE' });
      view = await perform(service, id, 'wrap', {});
      expect(view.lastError).toBeUndefined();
      expect(view.currentStepId).toBe('export-key');
      await service.abort(id, 'test done');
    } finally {
      await service.close();
    }
  });
});
