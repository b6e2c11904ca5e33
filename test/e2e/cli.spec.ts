// The built `keyceremony` binary (package.json "bin"), run as a user would, after `electron-vite build`.
import { test, expect } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

let env: SoftHsmEnv;
test.beforeAll(() => {
  env = createSoftHsmEnv();
  initSoftHsmToken('built-cli', '87654321', '12345678');
});
test.afterAll(() => env?.cleanup());

test('the built keyceremony binary lists a SoftHSM token with the capability columns', () => {
  const bin = JSON.parse(readFileSync('package.json', 'utf8')).bin.keyceremony as string;
  const run = spawnSync(bin, ['tokens', '--module', SOFTHSM_MODULE, '--json'], { encoding: 'utf8', env: process.env });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const slot = JSON.parse(run.stdout).slots.find((s: { token?: { label: string } }) => s.token?.label === 'built-cli');
  const yes = slot.capabilities.filter((c: { supported: boolean; probed: boolean }) => c.supported && c.probed).map((c: { algorithm: string }) => c.algorithm);
  expect(yes).toEqual(['RSAES_OAEP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_1']);
});
