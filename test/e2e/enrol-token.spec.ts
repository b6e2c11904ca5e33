// enrol-token from the app on a real NSS softoken whose database password was set with certutil (as a
// vendor tool sets a token's PIN), then kms-import on that token with RSA_AES_KEY_WRAP_SHA_256. The real
// engine and token host sit behind the bridged IPC; dialogs are answered with temp "USB sticks". The
// current PIN is typed like any secret: a wrong one is refused with words and the field is emptied, and
// no answer the page received, and no file the app wrote, holds it.
import { test, expect, type Page } from '@playwright/test';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { startHarness, type Harness } from './harness.js';
import { CUSTODIANS, doStep, exportTranscriptBundle, filesUnder, generateWrapAndWrite, handOutShares, presentShares } from './runner-steps.js';
import { createNssDb, NSS_SOFTOKEN_MODULE, type NssDb } from '../helpers/nss.js';
import { strictMaterialCheck } from '../helpers/enrol-token.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, independentUnwrap, kmsLikeKey } from '../fixtures/kms/harness.js';

const DB_PASSWORD = 'nss-vendor-password-e2e';

let nss: NssDb;
let work: string;
let harness: Harness;
const stick = (name: string) => join(work, `usb-${name}`);

test.beforeAll(async () => {
  test.setTimeout(120_000);
  nss = createNssDb({ password: DB_PASSWORD });
  work = mkdtempSync(join(tmpdir(), 'kc-e2e-enrol-'));
  for (const name of [...CUSTODIANS, 'bundle', 'key', 'bundle2']) mkdirSync(stick(name));
  // The NSS softoken is added as the room would on Home: its path and its C_Initialize parameters.
  mkdirSync(join(work, 'appdata'));
  writeFileSync(join(work, 'appdata', 'settings.json'), JSON.stringify({ version: 1, modules: [{ path: NSS_SOFTOKEN_MODULE, initParameters: nss.module.initParameters }], hiddenDefaults: [] }));
  harness = await startHarness({ appDataDir: join(work, 'appdata'), defaultModules: [] });
  harness.interfaces.table = { lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }] };
});

test.afterAll(async () => {
  await harness?.close();
  nss?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The first three steps of either ceremony: who is present, the air gap, the NSS database token. */
async function uptoTheNssToken(page: Page) {
  await page.getByLabel('Administrator').fill('Erin');
  await page.getByLabel('Witnesses (comma separated)').fill('Dana');
  await doStep(page, 'Record who is present');
  await doStep(page, 'Check the air gap');
  await expect(page.locator('#step-title')).toHaveText('Choose the token');
  await page.getByRole('radio', { name: /NSS Certificate DB/ }).check();
  await page.getByRole('button', { name: 'Do this step' }).click();
}

test('enrol-token from the app on the NSS softoken: PIN checked, shares proven, PIN replaced, bundle verifies', async ({ page }) => {
  test.setTimeout(180_000);
  await harness.attach(page);
  await page.goto(harness.url);
  await expect(page.getByTestId('airgap-offline')).toBeVisible();
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: 'Enrol custodians on an initialized token' }).click();
  const preview = page.getByTestId('ceremony-preview');
  await expect(preview.getByTestId('bring-list')).toContainText("The token, initialized with its vendor's tool");
  await expect(preview.getByTestId('bring-list')).toContainText("The token's current user PIN");
  await page.getByLabel('Custodians (N)', { exact: true }).fill(CUSTODIANS.join(', '));
  await page.getByLabel('Custodians needed (M)', { exact: true }).fill('2');
  await page.getByRole('button', { name: 'Start the ceremony' }).click();

  await uptoTheNssToken(page);

  await expect(page.locator('#step-title')).toHaveText("Check the token's current PINs");
  const userPin = page.getByLabel('Current user PIN (for the NSS softoken: its database password, empty if it has none)');
  await userPin.fill('not-the-password');
  await page.getByRole('button', { name: 'Do this step' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'This step did not happen' })).toContainText('did not accept this user PIN; nothing on the token was changed');
  await expect(userPin).toHaveValue('');
  await page.screenshot({ path: 'test-results/screenshots/enrol-wrong-pin.png', fullPage: true });
  await userPin.fill(DB_PASSWORD);
  await page.getByRole('button', { name: 'Do this step' }).click();
  await doStep(page, 'Generate the ceremony secret');

  await handOutShares(page, harness, CUSTODIANS, stick);
  for (const name of CUSTODIANS) expect(readdirSync(stick(name))).toEqual([`${name}.share`]);
  await doStep(page, 'Prove every combination works');

  await expect(page.locator('#step-title')).toHaveText("Replace the token's PINs");
  const replace = page.getByRole('button', { name: 'CHANGE-PINS' });
  await expect(replace).toBeDisabled();
  await page.getByLabel('Confirmation word: type CHANGE-PINS').fill('CHANGE-PINS');
  await page.screenshot({ path: 'test-results/screenshots/enrol-change-pins.png', fullPage: true });
  await replace.click();
  await doStep(page, 'Create the audit key');
  await doStep(page, 'Start the transcript');
  await doStep(page, 'Record the enrolment in the transcript');
  await expect(page.locator('#step-title')).toHaveText('Witnesses sign off');
  await page.getByLabel('Dana: type your name to sign').fill('Dana');
  await page.getByRole('button', { name: 'Do this step' }).click();

  await expect(page.locator('#step-title')).toHaveText('Custodians approve and seal the transcript');
  await presentShares(page, harness, ['alice', 'carol'], stick);
  await exportTranscriptBundle(page, harness, stick('bundle'));
  await expect(page.getByTestId('ceremony-status')).toContainText('Ceremony completed.');

  const [bundle] = readdirSync(stick('bundle'));
  const report = await verifyBundles([join(stick('bundle'), bundle!)]);
  expect(report.firstFailure).toBeNull();
  expect(report.ok).toBe(true);
  // The PIN typed (right and wrong) is in no answer the page received and in no file the app wrote.
  const answered = Buffer.from(JSON.stringify(harness.ipcResults));
  for (const pin of [DB_PASSWORD, 'not-the-password']) {
    expect(answered.includes(Buffer.from(pin))).toBe(false);
    for (const file of filesUnder(join(work, 'appdata'))) expect(readFileSync(file).includes(Buffer.from(pin)), file).toBe(false);
  }
});

test('kms-import from the app on the enrolled NSS token with RSA_AES_KEY_WRAP_SHA_256: exact PKCS#8, check value shown', async ({ page }) => {
  test.setTimeout(180_000);
  const kms = kmsLikeKey(2048);
  const params = join(work, 'usb-params.json');
  writeFileSync(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('e2e-import-token').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));
  await harness.attach(page);
  await page.goto(harness.url);
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: 'Generate a key and wrap it for a cloud KMS' }).click();
  await page.getByLabel('Key spec', { exact: true }).fill('ECC_NIST_P256');
  await page.getByLabel('Key label in the token', { exact: true }).fill('e2e-nss-p256');
  await page.getByLabel('Wrapping algorithm', { exact: true }).fill('RSA_AES_KEY_WRAP_SHA_256');
  await page.getByRole('button', { name: 'Start the ceremony' }).click();
  await uptoTheNssToken(page);
  await expect(page.locator('#step-title')).toHaveText("Load the cloud's import parameters");
  harness.nextDialogAnswer.paramsFile = params;
  await page.getByRole('button', { name: 'Choose file…' }).click();
  await page.getByLabel(/Wrapping algorithm requested/).selectOption('RSA_AES_KEY_WRAP_SHA_256');
  await page.getByRole('button', { name: 'Do this step' }).click();
  await expect(page.locator('#step-title')).toHaveText('Custodians open the token');
  await presentShares(page, harness, ['bob', 'carol'], stick);
  await generateWrapAndWrite(page, harness, stick('key'));
  // Unwrapped independently (openssl for the RSA-OAEP part, python for RFC 5649), parsed strictly: the
  // SHA-256 of the key's public half is the check value the witnesses see.
  const [exported] = readdirSync(stick('key'));
  const material = independentUnwrap(kms, 'RSA_AES_KEY_WRAP_SHA_256', readFileSync(join(stick('key'), exported!, 'EncryptedKeyMaterial.bin')));
  const spki = strictMaterialCheck('ECC_NIST_P256', material) as Uint8Array;
  const checkValue = createHash('sha256').update(spki).digest('hex').toUpperCase();
  await expect(page.getByTestId('sign-off-summary').getByTestId('summary-check-value')).toHaveText(checkValue);
  await page.getByLabel('Dana: type your name to sign').fill('Dana');
  await page.getByRole('button', { name: 'Do this step' }).click();
  await doStep(page, 'Seal the transcript on the token');
  await exportTranscriptBundle(page, harness, stick('bundle2'));
  await doStep(page, 'Close the token');
  await expect(page.getByTestId('ceremony-status')).toContainText('Ceremony completed.');
  const bundles = [...readdirSync(stick('bundle')).map((b) => join(stick('bundle'), b)), ...readdirSync(stick('bundle2')).map((b) => join(stick('bundle2'), b))];
  const report = await verifyBundles(bundles);
  expect(report.firstFailure).toBeNull();
  expect(report.ok).toBe(true);
});
