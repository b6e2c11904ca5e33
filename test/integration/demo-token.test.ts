// The demo token on a real SoftHSM: created in the free slot with the documented PINs, refused twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { createDemoToken, ensureSoftHsmConf, DEMO_LABEL, DEMO_USER_PIN } from '../../src-main/tokens/demo-token.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

let env: SoftHsmEnv;
const layer = new Pkcs11TokenLayer();

beforeAll(async () => {
  env = createSoftHsmEnv();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'default' }]);
});
afterAll(async () => {
  await layer.close();
  env?.cleanup();
});

describe('demo token', () => {
  it('initializes the free SoftHSM slot and the demo user PIN logs in', async () => {
    const demo = await createDemoToken(layer);
    expect(demo.label).toBe(DEMO_LABEL);
    const opened = await layer.openSession({ uri: `pkcs11:token=${DEMO_LABEL}` }, { readWrite: false });
    try {
      expect(opened.token.initialized).toBe(true);
      expect(opened.token.userPinInitialized).toBe(true);
      await layer.login(opened.session, 'user', DEMO_USER_PIN);
      await layer.logout(opened.session);
    } finally {
      await layer.closeSession(opened.session);
    }
  });

  it('refuses a second demo token, naming the module', async () => {
    await expect(createDemoToken(layer)).rejects.toMatchObject({ code: 'DEMO_EXISTS', message: expect.stringContaining(SOFTHSM_MODULE) });
  });

  it('refuses when no SoftHSM module is loaded', async () => {
    const empty = new Pkcs11TokenLayer();
    await expect(createDemoToken(empty)).rejects.toMatchObject({ code: 'DEMO_UNAVAILABLE' });
    await empty.close();
  });
});

describe('ensureSoftHsmConf', () => {
  it('keeps a SOFTHSM2_CONF the environment already chose', () => {
    expect(ensureSoftHsmConf('/nowhere', { SOFTHSM2_CONF: '/etc/softhsm/softhsm2.conf' })).toBe('/etc/softhsm/softhsm2.conf');
  });

  it('otherwise writes a private config under the app data directory and points the environment at it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-appdata-'));
    try {
      const fakeEnv: NodeJS.ProcessEnv = {};
      const conf = ensureSoftHsmConf(dir, fakeEnv);
      expect(conf).toBe(join(dir, 'softhsm', 'softhsm2.conf'));
      expect(fakeEnv.SOFTHSM2_CONF).toBe(conf);
      expect(readFileSync(conf, 'utf8')).toContain(`directories.tokendir = ${join(dir, 'softhsm', 'tokens')}`);
      expect(existsSync(join(dir, 'softhsm', 'tokens'))).toBe(true);
      // A second start reuses the same file.
      expect(ensureSoftHsmConf(dir, {})).toBe(conf);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
