// Home's Resume button: a kms-import left part-way (the app closed after the key was generated) is listed
// as interrupted and resumable; Resume opens the runner on the same ceremony at the first step to redo (the
// air gap), the participants and the token done, the key's step to run again (it finds the key, not a new
// one), and the `resumed` entry at the end of the transcript tail.
// The ceremony is prepared in this process with the engine on a real SoftHSM token, then the app's real
// handlers (bridged into the page) take over the same data directory.
import { test, expect } from '@playwright/test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';

const TOKEN = 'e2e-resume';
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });

let env: SoftHsmEnv;
let work: string;
let harness: Harness;
let ceremonyId: string;
let params: string;

test.beforeAll(async () => {
  env = createSoftHsmEnv();
  work = mkdtempSync(join(tmpdir(), 'kc-e2e-resume-'));
  const dataDir = join(work, 'data');
  for (const d of ['usb', 'out', 'stick']) mkdirSync(join(work, d));
  const spki = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' });
  params = join(work, 'stick', 'params.json');
  writeFileSync(params, JSON.stringify({ KeyId: 'arn:aws:kms:eu-central-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', ImportToken: Buffer.from('import-token').toString('base64'), PublicKey: spki.toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));
  const share = (c: keyof typeof PASS) => ({ shareFile: join(work, 'usb', `${c}.share`), passphrase: PASS[c] });

  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  const service = new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: 'e2e', scrypt: { N: 2 ** 10, r: 8, p: 1 } });
  try {
    const step = async (id: string, s: string, input: Record<string, unknown>) => (await service.perform(id, s, input)).view;
    const init = (await service.start({ script: 'init-token', parameters: { tokenLabel: TOKEN, custodians: ['alice', 'bob', 'carol'], threshold: 2 } })).ceremonyId;
    const blank = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized)!;
    await step(init, 'participants', { administrator: 'admin', witnesses: ['wendy'] });
    await step(init, 'airgap', {});
    await step(init, 'token', { moduleId: SOFTHSM_MODULE, slotId: blank.slotId });
    await step(init, 'secret', {});
    for (const c of ['alice', 'bob', 'carol'] as const) await step(init, 'shares', { custodian: c, passphrase: PASS[c], destinationDir: join(work, 'usb') });
    for (const s of ['prove', 'init', 'pins', 'audit-key', 'genesis', 'enrol']) await step(init, s, s === 'init' ? { confirm: 'INITIALIZE' } : {});
    await step(init, 'sign-off', { witnesses: [{ name: 'wendy' }] });
    await step(init, 'head', share('alice'));
    await step(init, 'head', share('bob'));
    expect((await step(init, 'export', { destinationDir: join(work, 'out') })).status).toBe('completed');

    // kms-import as far as the generated key; then the app "closes" without ending the ceremony.
    ceremonyId = (await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'e2e-resumed-key', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' } })).ceremonyId;
    await step(ceremonyId, 'participants', { administrator: 'admin', witnesses: ['wendy'] });
    await step(ceremonyId, 'airgap', {});
    await step(ceremonyId, 'token', { uri: `pkcs11:token=${TOKEN}` });
    await step(ceremonyId, 'parameters', { path: params, wrappingAlgorithm: 'RSAES_OAEP_SHA_1' });
    await step(ceremonyId, 'login', share('alice'));
    await step(ceremonyId, 'login', share('carol'));
    expect((await step(ceremonyId, 'generate', { confirm: 'GENERATE' })).currentStepId).toBe('wrap');
  } finally {
    await service.close();
    await layer.close();
  }
  harness = await startHarness({ appDataDir: dataDir, defaultModules: [SOFTHSM_MODULE] });
});

test.afterAll(async () => {
  await harness?.close();
  env?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('Resume on Home opens the runner on the interrupted kms-import at the step to redo; after the token host dies it stops and resumes again', async ({ page }) => {
  test.setTimeout(90_000);
  harness.interfaces.table = undefined;
  await harness.attach(page);
  await page.goto(harness.url);
  const row = page.locator(`tr[data-ceremony="${ceremonyId}"]`);
  await expect(row).toHaveAttribute('data-status', 'interrupted');
  await expect(row).toContainText('It stopped part-way');
  await row.getByRole('button', { name: 'Resume' }).click();

  // The runner, on the same ceremony, at the air gap check (redone).
  await expect(page.getByText(`Ceremony ${ceremonyId}`)).toBeVisible();
  await expect(page.locator('#step-title')).toHaveText('Check the air gap');
  const answer = harness.ipcResults.filter((r) => r.method === 'resumeCeremony').at(-1)?.result as { ok: boolean; value: { currentStepId: string; steps: { id: string; status: string }[]; tail: { kind: string }[] } };
  expect(answer.ok).toBe(true);
  expect(answer.value.currentStepId).toBe('airgap');
  expect(Object.fromEntries(answer.value.steps.map((s) => [s.id, s.status]))).toMatchObject({ participants: 'done', token: 'done', generate: 'pending', parameters: 'pending', login: 'pending', wrap: 'pending' });
  expect(answer.value.tail.at(-1)?.kind).toBe('resumed');

  // Back on Home, the ceremony runs here now: no second Resume is offered.
  await page.getByRole('button', { name: 'Home' }).click();
  await page.getByRole('button', { name: 'Refresh' }).click();
  await expect(page.locator(`tr[data-ceremony="${ceremonyId}"]`)).toHaveAttribute('data-status', 'running');
  await expect(page.locator(`tr[data-ceremony="${ceremonyId}"]`).getByRole('button', { name: 'Resume' })).toHaveCount(0);

  // The token host process dies under the running ceremony: the login cannot use the session the dead
  // host opened, the runner says the ceremony stopped, and Home resumes it again (no app restart).
  await page.getByRole('button', { name: 'Ceremony' }).click();
  harness.interfaces.table = { lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }] };
  await expect(page.getByTestId('airgap-offline')).toBeVisible();
  await page.getByRole('button', { name: 'Do this step' }).click();
  await expect(page.locator('#step-title')).toHaveText("Load the cloud's import parameters");
  harness.nextDialogAnswer.paramsFile = params;
  await page.getByRole('button', { name: 'Choose file…' }).click();
  await page.getByLabel(/Wrapping algorithm requested/).selectOption('RSAES_OAEP_SHA_1');
  await page.getByRole('button', { name: 'Do this step' }).click();
  await expect(page.locator('#step-title')).toHaveText('Custodians open the token');
  const killed = harness.tokenHostPid();
  expect(killed).toBeGreaterThan(0);
  process.kill(killed as number, 'SIGKILL');
  await expect.poll(() => harness.tokenHostPid()).toBeUndefined();
  for (const name of ['alice', 'carol'] as const) {
    harness.nextDialogAnswer.shareFile = join(work, 'usb', `${name}.share`);
    await page.getByRole('button', { name: 'Choose share file…' }).click();
    await expect(page.getByText(`${name}.share`)).toBeVisible();
    await page.getByLabel('Passphrase', { exact: true }).fill(PASS[name]);
    await page.getByRole('button', { name: 'Add my approval' }).click();
  }
  const stopped = page.getByTestId('ceremony-stopped');
  await expect(stopped).toContainText("The token's session ended");
  await expect(stopped).toContainText('on Home resume this ceremony');
  await expect(page.getByRole('button', { name: 'Do this step' })).toHaveCount(0);
  await page.screenshot({ path: 'test-results/screenshots/runner-stopped.png', fullPage: true });
  await page.getByRole('button', { name: 'Go to Home to resume it' }).click();
  const again = page.locator(`tr[data-ceremony="${ceremonyId}"]`);
  await expect(again).toHaveAttribute('data-status', 'interrupted');
  await again.getByRole('button', { name: 'Resume' }).click();
  await expect(page.locator('#step-title')).toHaveText('Check the air gap');
  expect(harness.tokenHostPid()).not.toBe(killed);
  const resumedAgain = harness.ipcResults.filter((r) => r.method === 'resumeCeremony').at(-1)?.result as { ok: boolean; value: { tail: { kind: string }[] } };
  expect(resumedAgain.ok).toBe(true);
  expect(resumedAgain.value.tail.map((e) => e.kind)).toEqual(expect.arrayContaining(['failure', 'resumed']));
});

