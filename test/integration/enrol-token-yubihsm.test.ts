// enrol-token on a YubiHSM 2 (the simulator behind the app's RoutingTokenLayer): refused at select-token
// with words that send the room to init-token, before any login; the device is left as it was.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RoutingTokenLayer } from '../../hsm/yubihsm/token-layer-routing.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { createTokenLayer } from '../../src-main/tokens/token-layer.js';
import { SimulatorTransport, YubiHsmSimulator } from '../yubihsm-sim/index.js';
import { offline, SCRYPT } from '../helpers/enrol-token.js';

const MODULE = 'yubihsm:sim';
const sim = new YubiHsmSimulator({ serial: 4242077 });
let dataDir: string;
let layer: RoutingTokenLayer;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'kc-enrol-yubihsm-'));
  layer = createTokenLayer(dataDir, { transports: { [MODULE]: () => [new SimulatorTransport(sim)] }, keepAliveMs: 0 });
  await layer.configureModules([{ path: MODULE, source: 'user' }]);
});

afterAll(async () => {
  await layer?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('refuses a YubiHSM 2 at select-token, naming init-token, with the device untouched', async () => {
  const before = sim.listObjectsForTest().length;
  const [slot] = await layer.listSlots(MODULE);
  const service = new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
  try {
    const { ceremonyId: id } = await service.start({ script: 'enrol-token', parameters: { custodians: ['alice', 'bob'], threshold: 2 } });
    await service.perform(id, 'participants', { administrator: 'admin', witnesses: ['wendy'] });
    await service.perform(id, 'airgap', {});
    await expect(service.perform(id, 'token', { moduleId: MODULE, slotId: slot?.slotId })).rejects.toThrow(/is a YubiHSM 2: enrol-token is for PKCS#11 tokens initialized with their vendor's tool; nothing was changed/);
    expect(service.view(id).lastError?.remedy).toContain('Run init-token on the YubiHSM 2 instead');
    expect(sim.listObjectsForTest().length).toBe(before);
  } finally {
    await service.close();
  }
});
