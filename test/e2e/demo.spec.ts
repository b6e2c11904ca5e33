// A newcomer with no initialized token: the home screen offers a demo SoftHSM token and it appears.
import { test, expect } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

let env: SoftHsmEnv;
let appDataDir: string;
let harness: Harness;

test.beforeAll(async () => {
  env = createSoftHsmEnv(); // empty token directory: SoftHSM shows one blank slot
  appDataDir = mkdtempSync(join(tmpdir(), 'kc-e2e-demo-'));
  harness = await startHarness({ appDataDir, defaultModules: [SOFTHSM_MODULE] });
});

test.afterAll(async () => {
  await harness?.close();
  env?.cleanup();
  if (appDataDir) rmSync(appDataDir, { recursive: true, force: true });
});

test('with no initialized token, the demo token is offered, created and listed', async ({ page }) => {
  await harness.attach(page);
  await page.goto(harness.url);
  await expect(page.getByRole('heading', { name: 'No initialized token yet?' })).toBeVisible();
  await expect(page.locator('[data-testid="token-row"][data-label="keyceremony-demo"]')).toHaveCount(0);
  await page.getByRole('button', { name: 'Create a demo token' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Created keyceremony-demo' })).toContainText('demo-user-1234');
  const row = page.locator('[data-testid="token-row"][data-label="keyceremony-demo"]');
  await expect(row).toBeVisible();
  await expect(row).toContainText('Initialized');
  // The offer is gone, but the PINs stay on screen after the list refreshed.
  await expect(page.getByRole('button', { name: 'Create a demo token' })).toHaveCount(0);
  await expect(page.getByRole('status').filter({ hasText: 'Created keyceremony-demo' })).toContainText('demo-so-1234');
  await page.screenshot({ path: 'test-results/screenshots/home-demo-token.png', fullPage: true });
});
