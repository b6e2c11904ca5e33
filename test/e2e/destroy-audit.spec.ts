// destroy-key and audit-token from the app on a SoftHSM token that init-token and kms-import (run from the
// command line into the app's data directory) enrolled and gave a P-384 key pair. The room names the key,
// opens the token with two shares, reads the check value, types DESTROY; a fresh PKCS#11 session of the
// test then finds nothing with the key's label. The audit that follows shows the token matching its
// transcript, and every bundle verifies.
import { test, expect } from '@playwright/test';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { CUSTODIANS, doStep, exportTranscriptBundle, PASSPHRASE, presentShares } from './runner-steps.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';

const LABEL = 'life-e2e';
let env: SoftHsmEnv;
let work: string;
let harness: Harness;
let enrolmentId: string;
const stick = (name: string) => join(work, `usb-${name}`);
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  env = createSoftHsmEnv();
  work = mkdtempSync(join(tmpdir(), 'kc-e2e-life-'));
  for (const name of [...CUSTODIANS, 'secrets', 'cli-bundles', 'key', 'bundle', 'bundle2', 'appdata']) mkdirSync(stick(name));
  for (const c of CUSTODIANS) writeFileSync(join(stick('secrets'), c), PASSPHRASE[c]!);
  const data = stick('appdata');
  const init = io();
  const code = await initTokenCommand(
    ['--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', LABEL, '--custodians', CUSTODIANS.join(','), '--threshold', '2', '--shares-out', stick('alice'), '--out', stick('cli-bundles'), '--witness', 'Dana', '--data-dir', data, '--json', ...CUSTODIANS.flatMap((c) => ['--passphrase-file', `${c}=${join(stick('secrets'), c)}`])],
    init.out,
    { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: offline },
  );
  expect(init.o.stderr).toBe('');
  expect(code).toBe(0);
  enrolmentId = (JSON.parse(init.o.stdout) as { ceremonyId: string }).ceremonyId;
  // Each custodian's share on their own stick, as the runner's share step expects them.
  for (const c of CUSTODIANS) if (c !== 'alice') writeFileSync(join(stick(c), `${c}.share`), readFileSync(join(stick('alice'), `${c}.share`)));
  const params = join(work, 'params.json');
  writeFileSync(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('t').toString('base64'), PublicKey: Buffer.from(kmsLikeKey(2048).spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  const imp = io();
  const shares = ['alice', 'bob'].flatMap((c) => ['--share', `${join(stick(c), `${c}.share`)}:${join(stick('secrets'), c)}`]);
  expect(await kmsImportCommand(['--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${LABEL}`, '--params', params, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_1', '--key-spec', 'ECC_NIST_P384', '--key-label', 'retired-p384', '--out', stick('key'), '--bundle-out', stick('cli-bundles'), '--witness', 'Dana', '--data-dir', data, ...shares], imp.out, { airGap: offline })).toBe(0);
  harness = await startHarness({ appDataDir: data, defaultModules: [SOFTHSM_MODULE] });
  harness.interfaces.table = { lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }] };
});

test.afterAll(async () => {
  await harness?.close();
  env?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The objects labelled `label`, seen through a fresh module instance logged in with the PIN two shares rebuild. */
async function objectsLabelled(label: string): Promise<number> {
  const opened = await Promise.all(['alice', 'bob'].map(async (c) => openShareFile(readFileSync(join(stick(c), `${c}.share`)), PASSPHRASE[c], { ceremonyId: enrolmentId })));
  const secret = await combineShares(opened.map((s) => s.share), 2);
  const layer = new Pkcs11TokenLayer();
  try {
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const token = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === LABEL)?.token;
    const { session } = await layer.openSession({ uri: `pkcs11:token=${LABEL}` }, { readWrite: false });
    await layer.login(session, 'user', derivePins(secret, enrolmentId, { minPinLength: token?.minPinLength, maxPinLength: token?.maxPinLength }).userPin);
    return (await layer.findAll(session, { label })).length;
  } finally {
    wipe(secret);
    await layer.close();
  }
}

async function openTheToken(page: import('@playwright/test').Page) {
  await page.getByLabel('Administrator').fill('Erin');
  await page.getByLabel('Witnesses (comma separated)').fill('Dana');
  await doStep(page, 'Record who is present');
  await doStep(page, 'Check the air gap');
  await expect(page.locator('#step-title')).toHaveText('Choose the token');
  await page.getByRole('radio', { name: new RegExp(LABEL) }).check();
  await page.getByRole('button', { name: 'Do this step' }).click();
  await expect(page.locator('#step-title')).toHaveText('Custodians open the token');
  await presentShares(page, harness, ['bob', 'carol'], stick);
}

async function signSealExportClose(page: import('@playwright/test').Page, bundleStick: string) {
  // Token work (the audit's check values, the destruction) can take a while on a loaded machine.
  await expect(page.locator('#step-title')).toHaveText('Witnesses sign off', { timeout: 30_000 });
  await page.getByLabel('Dana: type your name to sign').fill('Dana');
  await page.getByRole('button', { name: 'Do this step' }).click();
  await doStep(page, 'Seal the transcript on the token');
  await exportTranscriptBundle(page, harness, bundleStick);
  await doStep(page, 'Close the token');
  await expect(page.getByTestId('ceremony-status')).toContainText('Ceremony completed.');
}

test('destroy-key from the app: the key is identified by its check value, destroyed after DESTROY, and gone', async ({ page }) => {
  test.setTimeout(180_000);
  expect(await objectsLabelled('retired-p384')).toBe(2);
  await harness.attach(page);
  await page.goto(harness.url);
  await expect(page.getByTestId('airgap-offline')).toBeVisible();
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: 'Destroy a key' }).click();
  await page.getByLabel('Key label in the token', { exact: true }).fill('retired-p384');
  await page.getByRole('button', { name: 'Start the ceremony' }).click();
  await openTheToken(page);
  await expect(page.locator('#step-title')).toHaveText('Identify the key', { timeout: 30_000 });
  await doStep(page, 'Identify the key');
  await expect(page.locator('#step-title')).toHaveText('Destroy the key', { timeout: 30_000 });
  const summary = page.getByTestId('sign-off-summary').getByTestId('summary-destroyed');
  await expect(summary).toContainText('retired-p384 (ECC_NIST_P384), check value');
  await expect(summary).toContainText('identified; not destroyed yet');
  const destroy = page.getByRole('button', { name: 'DESTROY' });
  await expect(destroy).toBeDisabled();
  await page.getByLabel('Confirmation word: type DESTROY').fill('DESTROY');
  await destroy.click();
  await expect(summary).toContainText('2 object(s) destroyed; the token answers nothing by its label or CKA_ID', { timeout: 30_000 });
  await page.screenshot({ path: 'test-results/screenshots/destroy-key-done.png', fullPage: true });
  await signSealExportClose(page, stick('bundle'));
  expect(await objectsLabelled('retired-p384')).toBe(0);
});

test('audit-token from the app: the token matches its transcript, and every bundle verifies', async ({ page }) => {
  test.setTimeout(180_000);
  await harness.attach(page);
  await page.goto(harness.url);
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: 'Audit a token against its transcript' }).click();
  await page.getByRole('button', { name: 'Start the ceremony' }).click();
  await openTheToken(page);
  await expect(page.locator('#step-title')).toHaveText('Compare the token with its transcript', { timeout: 30_000 });
  await doStep(page, 'Compare the token with its transcript');
  await expect(page.getByTestId('sign-off-summary').getByTestId('summary-audit')).toContainText("The token's 3 object(s) match its transcript.", { timeout: 30_000 });
  await signSealExportClose(page, stick('bundle2'));
  const bundles = ['cli-bundles', 'bundle', 'bundle2'].flatMap((s) => readdirSync(stick(s)).map((b) => join(stick(s), b)));
  const report = await verifyBundles(bundles);
  expect(report.firstFailure).toBeNull();
  expect(report.ok).toBe(true);
});
