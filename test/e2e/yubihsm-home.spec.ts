// The Home screen with a YubiHSM 2: the simulator behind the yubihsm-connector HTTP protocol on a loopback
// port, added from the modules panel. A connector URL that is not this computer is refused naming the
// field; the right one lists the device with the two KMS algorithms it does in the device; when the
// connector goes away the device shows absent.
import { test, expect } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { startConnectorServer, type ConnectorServer } from '../yubihsm-sim/http-server.js';
import { YubiHsmSimulator } from '../yubihsm-sim/device.js';

const SERIAL = '3141592';
let appDataDir: string;
let harness: Harness;
let connector: ConnectorServer;

test.beforeAll(async () => {
  appDataDir = mkdtempSync(join(tmpdir(), 'kc-e2e-yubihsm-'));
  connector = await startConnectorServer({ device: new YubiHsmSimulator({ serial: Number(SERIAL) }) });
  harness = await startHarness({ appDataDir, defaultModules: [] });
});

test.afterAll(async () => {
  await harness?.close();
  await connector?.close().catch(() => undefined);
  if (appDataDir) rmSync(appDataDir, { recursive: true, force: true });
});

test('add a YubiHSM 2 through its connector: a bad URL is refused naming the field, the device is listed, then absent when unplugged', async ({ page }) => {
  await harness.attach(page);
  await page.goto(harness.url);
  const form = page.getByTestId('add-yubihsm');
  await form.getByLabel('Through a yubihsm-connector on this laptop').check();
  const url = form.getByLabel(/Connector URL/);
  await url.fill('http://192.168.7.7:12345');
  await form.getByRole('button', { name: 'Add YubiHSM 2' }).click();
  await expect(page.getByText('path (connector URL): The YubiHSM connector address "http://192.168.7.7:12345" was refused: 192.168.7.7 is not this computer')).toBeVisible();
  await expect(page.getByTestId('module-item')).toHaveCount(0);

  await url.fill(connector.url);
  await form.getByRole('button', { name: 'Add YubiHSM 2' }).click();
  await expect(page.getByTestId('module-item')).toContainText(`yubihsm:${connector.url}`);
  await expect(page.getByTestId('module-item')).toContainText('loaded');
  const row = page.getByTestId('token-row').filter({ hasText: `serial ${SERIAL}` });
  await expect(row).toContainText('YubiHSM 2');
  await expect(row).toContainText('Blank (not initialized)');
  await expect(row.locator('[data-testid="cap-yes"][data-algorithm="RSA_AES_KEY_WRAP_SHA_1"]')).toBeVisible();
  await expect(row.locator('[data-testid="cap-yes"][data-algorithm="RSA_AES_KEY_WRAP_SHA_256"]')).toBeVisible();
  await expect(row.locator('[data-testid="cap-no"][data-algorithm="RSAES_OAEP_SHA_1"]')).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/home-yubihsm.png', fullPage: true });

  // The connector (and with it the device) goes away: the next refresh shows the device absent.
  await connector.close();
  await page.getByRole('button', { name: /Refresh/ }).first().click();
  const absent = page.getByTestId('token-row').filter({ hasText: `serial ${SERIAL}` });
  await expect(absent.getByTestId('yubihsm-absent')).toBeVisible();
  await expect(absent).toContainText(`Unplugged: plug YubiHSM 2 serial ${SERIAL} back in and press Refresh`);
});
