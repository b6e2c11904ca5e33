// One TokenLayer over SoftHSM and a (simulated) YubiHSM side by side: modules, slots, sessions and the KMS
// answer are routed to the right driver.
import { createCipheriv } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import { YubiHsmTokenLayer } from '../../hsm/yubihsm/token-layer.js';
import { RoutingTokenLayer } from '../../hsm/yubihsm/token-layer-routing.js';
import { checkTokenCanWrap, wrapForKms } from '../../src-main/kms/index.js';
import { independentUnwrap, kmsLikeKey } from '../fixtures/kms/harness.js';
import { SimulatorTransport, YubiHsmSimulator } from '../yubihsm-sim/index.js';
import { SOFTHSM_MODULE, createSoftHsmEnv, initSoftHsmToken, type SoftHsmEnv } from '../helpers/softhsm.js';

let env: SoftHsmEnv;
const sim = new YubiHsmSimulator({ serial: 31337 });
const layer = new RoutingTokenLayer(new Pkcs11TokenLayer(), new YubiHsmTokenLayer({ transports: { 'yubihsm:sim': () => [new SimulatorTransport(sim)] }, keepAliveMs: 0 }));

beforeAll(() => {
  env = createSoftHsmEnv();
  initSoftHsmToken('routing-test', '87654321', '12345678');
});
afterAll(async () => {
  await layer.close();
  env?.cleanup();
});

describe('RoutingTokenLayer', () => {
  it('lists both drivers, routes sessions, and answers the KMS question per device', async () => {
    const statuses = await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'default' }, { path: 'yubihsm:sim' }]);
    expect(statuses.map((s) => [s.id, s.loaded])).toEqual([
      [SOFTHSM_MODULE, true],
      ['yubihsm:sim', true],
    ]);
    const [yubi] = await layer.listSlots('yubihsm:sim');
    expect(yubi?.token?.model).toBe('YubiHSM 2');
    const ref = { moduleId: 'yubihsm:sim', slotId: '31337' };
    await layer.initToken(ref, 'so', 'side-by-side');

    const soft = await layer.openSession({ uri: 'pkcs11:token=routing-test' }, { readWrite: true });
    await layer.login(soft.session, 'user', '12345678');
    const y = await layer.openSession({ uri: 'pkcs11:model=YubiHSM%202;serial=31337' }, { readWrite: true });
    expect(y.moduleId).toBe('yubihsm:sim');
    await layer.login(y.session, 'so', 'so');
    await layer.initUserPin(y.session, 'user');
    await layer.logout(y.session);
    await layer.login(y.session, 'user', 'user');
    expect(await layer.random(soft.session, 8)).toHaveLength(8);
    expect(await layer.random(y.session, 8)).toHaveLength(8);
    expect((await layer.deviceLog(y.session))?.entries.length).toBeGreaterThan(2);
    expect(await layer.deviceLog(soft.session)).toBeNull();

    const yCaps = await probeKmsCapabilities(layer, ref);
    expect(yCaps.map((c) => c.supported)).toEqual([false, false, true, true]);
    const softSlot = { moduleId: soft.moduleId, slotId: soft.slotId };
    const sCaps = await layer.kmsCapabilities(softSlot);
    // SoftHSM: OAEP with SHA-1 only (FACTS.md).
    expect(sCaps.find((c) => c.algorithm === 'RSAES_OAEP_SHA_1')?.supported).toBe(true);
    // Encryption (the AES-ECB check value's path) reaches the PKCS#11 driver through the routing layer: a
    // key generated there encrypts a zero block as node:crypto does under the material unwrapped by openssl.
    const aes = await layer.generateSecretKey(soft.session, { type: 'AES', bits: 256 }, {
      label: 'routed-ecb', id: new Uint8Array([9]), token: false, private: true, sensitive: true, extractable: true,
      encrypt: true, decrypt: false, sign: false, verify: false, wrap: false, unwrap: false, derive: false,
    });
    const zero = new Uint8Array(16);
    const routed = await layer.encrypt(soft.session, { name: 'AES_ECB' }, aes, zero);
    const kms = kmsLikeKey(2048);
    const capability = await checkTokenCanWrap(layer, softSlot, 'RSAES_OAEP_SHA_1', 'SYMMETRIC_DEFAULT');
    const material = independentUnwrap(kms, 'RSAES_OAEP_SHA_1', (await wrapForKms(layer, soft.session, { capability, wrappingPublicKeySpkiDer: kms.spki, key: aes })).encryptedKeyMaterial);
    const expected = createCipheriv('aes-256-ecb', material, null).setAutoPadding(false).update(zero);
    expect(Buffer.from(routed).toString('hex')).toBe(expected.toString('hex'));
    await layer.closeSession(soft.session);
    await layer.closeSession(y.session);
    await expect(layer.random(y.session, 1)).rejects.toThrow('is not open');
  });
});
