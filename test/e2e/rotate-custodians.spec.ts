// rotate-custodians from the app on a SoftHSM token that init-token (run from the command line into the app's
// data directory) enrolled with alice, bob and carol. Two of them open the token; the room names three new
// custodians and a threshold of 2; the new shares are handed out on the new custodians' sticks and proven;
// ROTATE replaces the PINs. Then, through a fresh PKCS#11 session of the test, the old shares' PIN is refused
// and the new shares' PIN opens the token; an audit-token from the app refuses an old share in words and
// opens with two new ones; every bundle verifies.
import { test, expect, type Page } from '@playwright/test';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { CUSTODIANS, doStep, exportTranscriptBundle, handOutShares, PASSPHRASE, presentShares } from './runner-steps.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';

const LABEL = 'rotate-e2e';
const NEW = ['dave', 'fay', 'gus'];
let env: SoftHsmEnv;
let work: string;
let harness: Harness;
let enrolmentId: string;
const stick = (name: string) => join(work, `usb-${name}`);
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const passOf = (c: string) => PASSPHRASE[c] ?? `${c} passphrase 12`;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  env = createSoftHsmEnv();
  work = mkdtempSync(join(tmpdir(), 'kc-e2e-rotate-'));
  for (const name of [...CUSTODIANS, ...NEW, 'secrets', 'cli-bundles', 'bundle', 'bundle2', 'appdata']) mkdirSync(stick(name));
  for (const c of CUSTODIANS) writeFileSync(join(stick('secrets'), c), PASSPHRASE[c]!);
  const o = { stdout: '', stderr: '' };
  const out = { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } };
  const code = await initTokenCommand(
    ['--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', LABEL, '--custodians', CUSTODIANS.join(','), '--threshold', '2', '--shares-out', stick('alice'), '--out', stick('cli-bundles'), '--witness', 'Dana', '--data-dir', stick('appdata'), '--json', ...CUSTODIANS.flatMap((c) => ['--passphrase-file', `${c}=${join(stick('secrets'), c)}`])],
    out,
    { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  enrolmentId = (JSON.parse(o.stdout) as { ceremonyId: string }).ceremonyId;
  for (const c of CUSTODIANS) if (c !== 'alice') writeFileSync(join(stick(c), `${c}.share`), readFileSync(join(stick('alice'), `${c}.share`)));
  harness = await startHarness({ appDataDir: stick('appdata'), defaultModules: [SOFTHSM_MODULE] });
  harness.interfaces.table = { lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }] };
});

test.afterAll(async () => {
  await harness?.close();
  env?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Does the user PIN that two of `names`' shares (on their sticks, from ceremony `id`) rebuild open the token? */
async function sharesOpenToken(names: string[], id: string): Promise<boolean> {
  const opened = await Promise.all(names.map(async (c) => openShareFile(readFileSync(join(stick(c), `${c}.share`)), passOf(c), { ceremonyId: id })));
  const secret = await combineShares(opened.map((s) => s.share), 2);
  const layer = new Pkcs11TokenLayer();
  try {
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    const token = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token?.label.trim() === LABEL)?.token;
    const { session } = await layer.openSession({ uri: `pkcs11:token=${LABEL}` }, { readWrite: false });
    try {
      await layer.login(session, 'user', derivePins(secret, id, { minPinLength: token?.minPinLength, maxPinLength: token?.maxPinLength }).userPin);
      await layer.logout(session);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === 'CKR_PIN_INCORRECT') return false;
      throw error;
    }
  } finally {
    wipe(secret);
    await layer.close();
  }
}

async function recordWhoAndChooseToken(page: Page) {
  await page.getByLabel('Administrator').fill('Erin');
  await page.getByLabel('Witnesses (comma separated)').fill('Dana');
  await doStep(page, 'Record who is present');
  await doStep(page, 'Check the air gap');
  await expect(page.locator('#step-title')).toHaveText('Choose the token');
  await page.getByRole('radio', { name: new RegExp(LABEL) }).check();
  await page.getByRole('button', { name: 'Do this step' }).click();
}

async function signSealExportClose(page: Page, seal: string, sealers: string[], bundleStick: string) {
  await expect(page.locator('#step-title')).toHaveText('Witnesses sign off', { timeout: 30_000 });
  await page.getByLabel('Dana: type your name to sign').fill('Dana');
  await page.getByRole('button', { name: 'Do this step' }).click();
  if (sealers.length > 0) {
    await expect(page.locator('#step-title')).toHaveText(seal);
    await presentShares(page, harness, sealers, stick);
  } else await doStep(page, seal);
  await exportTranscriptBundle(page, harness, bundleStick);
  await doStep(page, 'Close the token');
  await expect(page.getByTestId('ceremony-status')).toContainText('Ceremony completed.');
}

let rotationId: string;

test('rotate-custodians from the app: new custodians get proven shares, ROTATE replaces the PINs, the old shares are refused', async ({ page }) => {
  test.setTimeout(240_000);
  expect(await sharesOpenToken(['alice', 'bob'], enrolmentId)).toBe(true);
  await harness.attach(page);
  await page.goto(harness.url);
  await expect(page.getByTestId('airgap-offline')).toBeVisible();
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: 'Replace the custodians of a token' }).click();
  await page.getByLabel('New custodians (N)', { exact: true }).fill(NEW.join(', '));
  await page.getByLabel('New custodians needed (M)', { exact: true }).fill('2');
  await page.screenshot({ path: '/tmp/rotate-form.png', fullPage: true });
  await page.getByRole('button', { name: 'Start the ceremony' }).click();
  await recordWhoAndChooseToken(page);
  await expect(page.locator('#step-title')).toHaveText('Current custodians open the token');
  await presentShares(page, harness, ['bob', 'carol'], stick);
  await doStep(page, 'Generate the new secret');
  await handOutShares(page, harness, NEW, stick, 'Hand out the new shares');
  await doStep(page, 'Prove every combination works');
  await expect(page.locator('#step-title')).toHaveText("Replace the token's PINs", { timeout: 30_000 });
  const rotate = page.getByRole('button', { name: 'ROTATE' });
  await expect(rotate).toBeDisabled();
  await page.getByLabel('Confirmation word: type ROTATE').fill('ROTATE');
  await rotate.click();
  await doStep(page, 'Other tokens of the old custodians');
  await expect(page.locator('#step-title')).toHaveText('Witnesses sign off', { timeout: 30_000 });
  await page.screenshot({ path: '/tmp/rotate-sign-off.png', fullPage: true });
  const rotation = page.getByTestId('sign-off-summary').getByTestId('summary-rotation');
  await expect(rotation).toContainText('Now opened by 2 of dave, fay, gus.');
  await expect(rotation).toContainText('User PIN and SO PIN replaced; the token refuses the old shares.');
  await signSealExportClose(page, 'New custodians approve and seal the transcript', ['dave', 'gus'], stick('bundle'));
  for (const c of NEW) expect(readdirSync(stick(c))).toContain(`${c}.share`);
  // The ceremony id, as the app answered the start of the ceremony.
  const started = harness.ipcResults.findLast((r) => r.method === 'startCeremony')?.result as { ok?: boolean; value?: { ceremonyId?: string } } | undefined;
  rotationId = started?.value?.ceremonyId ?? '';
  expect(rotationId).toMatch(/^rotate-custodians-/);
  // The token itself: the old shares' PIN is refused, the new shares' PIN opens it.
  expect(await sharesOpenToken(['alice', 'bob'], enrolmentId)).toBe(false);
  expect(await sharesOpenToken(['dave', 'fay'], rotationId)).toBe(true);
});

test('after the rotation, an audit from the app refuses an old share in words and opens with the new ones; every bundle verifies', async ({ page }) => {
  test.setTimeout(180_000);
  await harness.attach(page);
  await page.goto(harness.url);
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: 'Audit a token against its transcript' }).click();
  await page.getByRole('button', { name: 'Start the ceremony' }).click();
  await recordWhoAndChooseToken(page);
  await expect(page.locator('#step-title')).toHaveText('Custodians open the token');
  await presentShares(page, harness, ['alice'], stick);
  await expect(page.getByRole('alert')).toContainText(`alice's share file is from ceremony ${enrolmentId}, whose custodians were replaced by ceremony ${rotationId}: the token refuses their shares and opens now only with 2 of dave, fay, gus`);
  await page.screenshot({ path: '/tmp/rotate-old-share-refused.png', fullPage: true });
  await presentShares(page, harness, ['fay', 'gus'], stick);
  await expect(page.locator('#step-title')).toHaveText('Compare the token with its transcript', { timeout: 30_000 });
  await doStep(page, 'Compare the token with its transcript');
  await expect(page.getByTestId('sign-off-summary').getByTestId('summary-audit')).toContainText('match its transcript', { timeout: 30_000 });
  await signSealExportClose(page, 'Seal the transcript on the token', [], stick('bundle2'));
  const bundles = ['cli-bundles', 'bundle', 'bundle2'].flatMap((s) => readdirSync(stick(s)).map((b) => join(stick(s), b)));
  const report = await verifyBundles(bundles);
  expect(report.firstFailure).toBeNull();
  expect(report.ok).toBe(true);
});
