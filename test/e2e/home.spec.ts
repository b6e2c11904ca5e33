import { test, expect } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { createSoftHsmEnv, initSoftHsmToken, type SoftHsmEnv } from '../helpers/softhsm.js';

const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const LABEL = 'e2e-ceremony';

let env: SoftHsmEnv;
let appDataDir: string;
let harness: Harness;

test.beforeAll(async () => {
  env = createSoftHsmEnv();
  initSoftHsmToken(LABEL, '87654321', '12345678');
  appDataDir = mkdtempSync(join(tmpdir(), 'kc-e2e-appdata-'));
  harness = await startHarness({ appDataDir, defaultModules: [SOFTHSM] });
});

test.afterAll(async () => {
  await harness?.close();
  env?.cleanup();
  if (appDataDir) rmSync(appDataDir, { recursive: true, force: true });
});

test.beforeEach(async ({ page }) => {
  harness.interfaces.table = undefined;
  await harness.attach(page);
});

test('home lists the SoftHSM token with its KMS wrapping capabilities', async ({ page }) => {
  await page.goto(harness.url);
  const row = page.locator(`[data-testid="token-row"][data-label="${LABEL}"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText('SoftHSM');
  await expect(row).toContainText('Initialized');
  // SoftHSM 2.6.1 does OAEP with SHA-1 only (FACTS.md), so only the two SHA-1 algorithms are possible in the token.
  await expect(row.locator('[data-testid="cap-yes"][data-algorithm="RSAES_OAEP_SHA_1"]')).toBeVisible();
  await expect(row.locator('[data-testid="cap-yes"][data-algorithm="RSA_AES_KEY_WRAP_SHA_1"]')).toBeVisible();
  await expect(row.locator('[data-testid="cap-no"][data-algorithm="RSAES_OAEP_SHA_256"]')).toBeVisible();
  await expect(row.locator('[data-testid="cap-no"][data-algorithm="RSA_AES_KEY_WRAP_SHA_256"]')).toBeVisible();
  // SoftHSM always offers one blank slot: it cannot be probed, so its columns say "listed", not "yes".
  const blank = page.locator('[data-testid="token-row"][data-label=""]').first();
  await expect(blank).toContainText('Blank (not initialized)');
  await expect(blank.locator('[data-testid="cap-untested"][data-algorithm="RSAES_OAEP_SHA_1"]')).toBeVisible();
  await expect(blank.locator('[data-testid="cap-yes"]')).toHaveCount(0);
  // The air-gap banner reflects this machine's real interfaces, judged here independently of the app.
  const online = Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => !i.internal));
  await expect(page.getByTestId(online ? 'airgap-banner' : 'airgap-offline')).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/home.png', fullPage: true });
});

test('the air-gap banner follows the network interfaces within seconds', async ({ page }) => {
  harness.interfaces.table = { lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }] };
  await page.goto(harness.url);
  await expect(page.getByTestId('airgap-offline')).toBeVisible();
  await expect(page.getByTestId('airgap-banner')).toHaveCount(0);
  harness.interfaces.table = {
    ...harness.interfaces.table,
    wlan0: [{ address: '192.0.2.7', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.0.2.7/24' }],
  };
  const banner = page.getByTestId('airgap-banner');
  await expect(banner).toBeVisible({ timeout: 10_000 });
  await expect(banner).toContainText('wlan0');
  await expect(banner).toContainText('192.0.2.7');
  await page.screenshot({ path: 'test-results/screenshots/home-airgap-banner.png' });
});

test('a module is added only as a library chosen in main\'s dialog; one that fails to load is reported with its path and reason while SoftHSM still works', async ({ page }) => {
  await page.goto(harness.url);
  await expect(page.locator(`[data-testid="token-row"][data-label="${LABEL}"]`)).toBeVisible();

  // The page cannot hand main a path to load: a typed path is refused by the contract, and a file chosen
  // in another dialog (here the share-file dialog) is refused as not chosen for a library.
  const notPkcs11 = '/usr/lib/x86_64-linux-gnu/libz.so.1';
  const typed = await page.evaluate((path) => (globalThis as unknown as { keyceremony: { addModule(r: unknown): Promise<unknown> } }).keyceremony.addModule({ path }), notPkcs11);
  expect(typed).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('addModule: selectionId:') } });
  harness.nextDialogAnswer.shareFile = notPkcs11;
  const misused = await page.evaluate(async () => {
    const api = (globalThis as unknown as { keyceremony: Record<string, (r: unknown) => Promise<{ ok: boolean; value?: { selection: { id: string } } }>> }).keyceremony;
    const share = await api.chooseShareFile!({});
    return api.addModule!({ selectionId: share.value!.selection.id });
  });
  expect(misused).toMatchObject({ ok: false, error: { code: 'SELECTION_PURPOSE', message: "selectionId: that was chosen as a custodian's share file, not as a PKCS#11 library." } });
  await expect(page.getByTestId('module-item').filter({ hasText: notPkcs11 })).toHaveCount(0);

  // Cancelling the dialog chooses nothing; Add stays off.
  harness.nextDialogAnswer.path = null;
  await page.getByRole('button', { name: 'Choose library…' }).click();
  await expect(page.getByTestId('module-file')).toHaveText('No library chosen');
  await expect(page.getByRole('button', { name: 'Add module' })).toBeDisabled();

  // A real shared library that is not PKCS#11, chosen through main's (stand-in) file dialog.
  harness.nextDialogAnswer.path = notPkcs11;
  await page.getByRole('button', { name: 'Choose library…' }).click();
  await expect(page.getByTestId('module-file')).toHaveText(notPkcs11);
  expect(harness.dialogsShown.at(-1)).toBe('module-file');
  await page.getByRole('button', { name: 'Add module' }).click();
  const item = page.getByTestId('module-item').filter({ hasText: notPkcs11 });
  await expect(item).toContainText('not loaded');
  await expect(item.getByRole('alert')).toContainText(notPkcs11);
  await expect(page.locator(`[data-testid="token-row"][data-label="${LABEL}"]`)).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/home-module-error.png', fullPage: true });

  await item.getByRole('button', { name: `Remove ${notPkcs11}` }).click();
  await expect(page.getByTestId('module-item').filter({ hasText: notPkcs11 })).toHaveCount(0);
});

test('the home screen works from the keyboard', async ({ page }) => {
  await page.goto(harness.url);
  await expect(page.locator(`[data-testid="token-row"][data-label="${LABEL}"]`)).toBeVisible();
  // Skip link first, then the screen tabs, the projector toggle and Refresh: all reachable with Tab.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Home' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Ceremony' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Verify a transcript' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Projector mode')).toBeFocused();
  await page.keyboard.press('Space');
  await expect(page.locator('html')).toHaveClass(/projector/);
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Refresh' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator(`[data-testid="token-row"][data-label="${LABEL}"]`)).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/home-projector.png', fullPage: true });
});
