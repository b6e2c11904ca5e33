// Token trouble a custodian can cause or meet: a slot that disappears, wrong PINs piling up, a token
// initialized elsewhere meanwhile. SoftHSM never locks a PIN (it only raises "count low"), so the locked
// case is covered by the CK_RV table in test/unit/hsm/ckr.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { takeInventory } from '../../src-main/tokens/inventory.js';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';

let env: SoftHsmEnv;
let slotId: string;
const layer = new Pkcs11TokenLayer();

beforeAll(async () => {
  env = createSoftHsmEnv();
  slotId = initSoftHsmToken('trouble', '87654321', '12345678');
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'default' }]);
});
afterAll(async () => {
  await layer.close();
  env?.cleanup();
});

describe('token trouble', () => {
  it('a slot id that does not exist is SLOT_NOT_FOUND naming the slot and module', async () => {
    const error = await layer.openSession({ moduleId: SOFTHSM_MODULE, slotId: '424242' }, { readWrite: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SLOT_NOT_FOUND' });
    expect((error as Error).message).toContain('424242');
    expect((error as Error).message).toContain(SOFTHSM_MODULE);
    expect((error as { remedy?: string }).remedy).toBeTruthy();
  });

  it('wrong PINs show up as "count low" in the inventory, and the right PIN still works', async () => {
    const opened = await layer.openSession({ moduleId: SOFTHSM_MODULE, slotId }, { readWrite: false });
    try {
      await expect(layer.login(opened.session, 'user', '00000000')).rejects.toMatchObject({ code: 'CKR_PIN_INCORRECT' });
      const inventory = await takeInventory(layer, probeKmsCapabilities);
      expect(inventory.slots.find((s) => s.slotId === slotId)?.token?.userPinCountLow).toBe(true);
      await layer.login(opened.session, 'user', '12345678');
      await layer.logout(opened.session);
    } finally {
      await layer.closeSession(opened.session);
    }
  });

  it('a token whose files vanish under the module is reported, not a crash', async () => {
    const opened = await layer.openSession({ moduleId: SOFTHSM_MODULE, slotId }, { readWrite: true });
    await layer.login(opened.session, 'user', '12345678');
    // Remove the token's object store behind SoftHSM's back, as if the token were pulled.
    rmSync(join(env.tokenDir), { recursive: true, force: true });
    const inventory = await takeInventory(layer, probeKmsCapabilities);
    expect(inventory.slots.find((s) => s.slotId === slotId)).toBeUndefined();
    // Work on a session whose token is gone fails as a TokenError naming the module, or still succeeds
    // from SoftHSM's memory; it never takes the process down.
    const outcome = await layer.findAll(opened.session, { label: 'anything' }).then(
      (found) => ({ ok: true as const, found }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    if (!outcome.ok) expect((outcome.error as Error).message).toContain(SOFTHSM_MODULE);
    else expect(outcome.found).toEqual([]);
    await layer.closeSession(opened.session).catch(() => undefined);
  });
});
