// The Verify screen on a real bundle: written by the transcript store and exporter, verified through the
// real IPC handlers, then one byte flipped and the broken entry named.
import { test, expect } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { exportFromStore } from '../../src-main/transcript/export.js';

let work: string;
let harness: Harness;
let bundle: string;

test.beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kc-e2e-verify-'));
  const { store } = await TranscriptStore.open(join(work, 'store'));
  const signer = NodeAuditSigner.generate();
  await store.appendGenesis('ceremony-e2e', 'admin', { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '0001', label: 'e2e' }, signer.spkiDer());
  for (const step of ['select-token', 'init-token', 'generate-audit-key']) {
    await store.append({ ceremonyId: 'ceremony-e2e', step, kind: 'intent', actor: 'admin', data: { note: `about to ${step}` } });
    await store.append({ ceremonyId: 'ceremony-e2e', step, kind: 'result', actor: 'admin', data: { ok: true } });
  }
  bundle = (await exportFromStore(store, signer, { parentDir: work, range: { ceremonyId: 'ceremony-e2e' }, appVersion: 'e2e' })).path;
  await store.close();
  harness = await startHarness({ appDataDir: join(work, 'appdata'), defaultModules: [] });
});

test.afterAll(async () => {
  await harness?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a bundle verifies, and a flipped byte is caught with the broken entry named', async ({ page }) => {
  await harness.attach(page);
  await page.goto(harness.url);
  await page.getByRole('button', { name: 'Verify a transcript' }).click();
  await expect(page.getByRole('heading', { name: 'Verify a transcript' })).toBeFocused();

  harness.nextDialogAnswer.folders = [bundle];
  await page.getByRole('button', { name: 'Choose bundle folders…' }).click();
  const verdict = page.getByTestId('verify-verdict');
  await expect(verdict).toContainText('VERIFIED.');
  await expect(verdict).not.toContainText('NOT VERIFIED');
  await expect(page.getByTestId('verify-checks').locator('li.fail')).toHaveCount(0);
  await expect(page.getByTestId('verify-checks')).toContainText('Audit signature over transcript.jsonl');
  await expect(page.getByTestId('verify-timeline').locator('li')).toHaveCount(7);
  await page.screenshot({ path: 'test-results/screenshots/verify-ok.png', fullPage: true });
  await page.getByRole('button', { name: "Import into this laptop's transcript" }).click();
  await expect(page.getByTestId('import-result')).toContainText('Imported 7 entries into the transcript of ceremony-e2e (0 already here); it now ends at entry 6.');

  // Flip one byte inside entry 3's data ("init-token" intent): its hash no longer matches.
  const file = join(bundle, 'transcript.jsonl');
  const lines = readFileSync(file, 'utf8').split('\n');
  lines[3] = lines[3]!.replace('about to init-token', 'about to init-tokeN');
  writeFileSync(file, lines.join('\n'));

  await page.getByRole('button', { name: 'Verify again' }).click();
  await expect(verdict).toContainText('NOT VERIFIED.');
  await expect(verdict).toContainText('Entry 3');
  await expect(page.locator('[data-testid="verify-timeline"] li.broken')).toHaveAttribute('data-seq', '3');
  await expect(page.getByTestId('verify-checks').locator('li.fail').first()).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/verify-broken.png', fullPage: true });
});

test('the renderer cannot make main read a folder it did not choose', async ({ page }) => {
  await harness.attach(page);
  await page.goto(harness.url);
  const answer = await page.evaluate(() =>
    (globalThis as unknown as { keyceremony: { verifyBundles(r: unknown): Promise<unknown> } }).keyceremony.verifyBundles({ selectionId: '00000000-0000-4000-8000-000000000000' }),
  );
  expect(answer).toMatchObject({ ok: false, error: { code: 'SELECTION_UNKNOWN' } });
});
