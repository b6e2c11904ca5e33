// A newcomer with no token can try the app at once: SoftHSM keeps the app's own tokens under the app data
// directory, and "Create a demo token" initializes one there. Demo PINs are fixed and printed in the README
// because a demo token protects nothing; real ceremonies derive PINs from custodian shares.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenLayer } from '../../hsm/token.js';
import { AppError } from '../errors.js';

export const DEMO_LABEL = 'keyceremony-demo';
export const DEMO_SO_PIN = 'demo-so-1234';
export const DEMO_USER_PIN = 'demo-user-1234';

/**
 * SoftHSM reads SOFTHSM2_CONF once, when it is initialized. Unless the environment already chose a config,
 * point it at one in the app data directory so the app never touches (or needs root for) the system's tokens.
 */
export function ensureSoftHsmConf(appDataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const existing = env.SOFTHSM2_CONF;
  if (existing) return existing;
  const dir = join(appDataDir, 'softhsm');
  const tokenDir = join(dir, 'tokens');
  const conf = join(dir, 'softhsm2.conf');
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  if (!existsSync(conf)) {
    writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, { mode: 0o600, flag: 'wx' });
  }
  env.SOFTHSM2_CONF = conf;
  return conf;
}

export interface DemoToken {
  label: string;
  slotId: string;
  soPin: string;
  userPin: string;
  note: string;
}

export async function createDemoToken(layer: TokenLayer): Promise<DemoToken> {
  const softhsm = (await layer.listModules()).find((m) => m.loaded && m.library?.manufacturer.startsWith('SoftHSM'));
  if (!softhsm) {
    throw new AppError('DEMO_UNAVAILABLE', 'No SoftHSM module is loaded, so a demo token cannot be made.', 'Install SoftHSM (apt-get install softhsm2) or add its library path in Modules, then try again.');
  }
  const slots = await layer.listSlots(softhsm.id);
  if (slots.some((s) => s.token?.initialized && s.token.label === DEMO_LABEL)) {
    throw new AppError('DEMO_EXISTS', `A demo token labelled "${DEMO_LABEL}" already exists in ${softhsm.path}.`, 'Use the existing demo token; its PINs are in the README.');
  }
  const free = slots.find((s) => s.token && !s.token.initialized);
  if (!free) {
    throw new AppError('DEMO_UNAVAILABLE', `SoftHSM (${softhsm.path}) has no free slot for a demo token.`, 'Check the SoftHSM configuration in SOFTHSM2_CONF.');
  }
  await layer.initToken(free, DEMO_SO_PIN, DEMO_LABEL);
  const opened = await layer.openSession({ moduleId: free.moduleId, slotId: free.slotId }, { readWrite: true });
  try {
    await layer.login(opened.session, 'so', DEMO_SO_PIN);
    await layer.initUserPin(opened.session, DEMO_USER_PIN);
    await layer.logout(opened.session);
  } finally {
    await layer.closeSession(opened.session);
  }
  return {
    label: DEMO_LABEL,
    slotId: free.slotId,
    soPin: DEMO_SO_PIN,
    userPin: DEMO_USER_PIN,
    note: 'Demo token for trying the app only: its PINs are public. Real ceremonies derive PINs from custodian shares.',
  };
}
