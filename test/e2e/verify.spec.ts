// The Verify screen on real bundles: written by the transcript store and exporter, verified through the
// real IPC handlers. A production ceremony leads with the production verdict; a rehearsal with "integrity OK,
// but not a production ceremony" and the reason; one flipped byte with the broken entry named.
import { test, expect } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { exportFromStore } from '../../src-main/transcript/export.js';
import { ceremonyStart, scriptBytes, sha256 } from '../helpers/ceremony-records.js';

let work: string;
let harness: Harness;
let bundle: string;
let rehearsal: string;

async function exportCeremony(dir: string, ceremonyId: string, isRehearsal: boolean): Promise<string> {
  const { store } = await TranscriptStore.open(join(work, dir));
  const signer = NodeAuditSigner.generate();
  await store.appendGenesis(ceremonyId, 'admin', { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '0001', label: 'e2e' }, signer.spkiDer());
  for (const e of ceremonyStart({ ceremonyId, kind: 'pre-genesis', script: { name: 'init-token', sha256: sha256(scriptBytes('init-token')) }, rehearsal: isRehearsal, offline: !isRehearsal })) await store.append(e);
  for (const step of ['select-token', 'init-token', 'generate-audit-key']) {
    await store.append({ ceremonyId, step, kind: 'intent', actor: 'admin', data: { note: `about to ${step}` } });
    await store.append({ ceremonyId, step, kind: 'result', actor: 'admin', data: { ok: true } });
  }
  const path = (await exportFromStore(store, signer, { parentDir: work, range: { ceremonyId }, appVersion: 'e2e' })).path;
  await store.close();
  return path;
}

test.beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kc-e2e-verify-'));
  bundle = await exportCeremony('store', 'ceremony-e2e', false);
  rehearsal = await exportCeremony('store-rehearsal', 'rehearsal-e2e', true);
  harness = await startHarness({ appDataDir: join(work, 'appdata'), defaultModules: [] });
});

test.afterAll(async () => {
  await harness?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a production bundle verifies as production, and a flipped byte is caught with the broken entry named', async ({ page }) => {
  await harness.attach(page);
  await page.goto(harness.url);
  await page.getByRole('button', { name: 'Verify a transcript' }).click();
  await expect(page.getByRole('heading', { name: 'Verify a transcript' })).toBeFocused();

  harness.nextDialogAnswer.folders = [bundle];
  await page.getByRole('button', { name: 'Choose bundle folders…' }).click();
  const verdict = page.getByTestId('verify-verdict');
  await expect(verdict).toContainText('PRODUCTION CEREMONY VERIFIED. Every check passed for 8 entries, and the ceremony (ceremony-e2e) ran a shipped script, as production, offline.');
  await expect(page.getByTestId('verify-checks').locator('li.fail')).toHaveCount(0);
  await expect(page.getByTestId('verify-checks')).toContainText('Audit signature over manifest.json (the whole bundle)');
  const ceremony = page.getByTestId('verify-ceremonies').locator('li[data-ceremony="ceremony-e2e"]');
  await expect(ceremony).toContainText(`init-token (version 1), SHA-256 ${sha256(scriptBytes('init-token'))}: shipped with keyceremony 0.1.0`);
  await expect(ceremony).toContainText('Kind Production');
  await expect(ceremony).toContainText('Air gap offline');
  await expect(page.getByTestId('verify-timeline').locator('li')).toHaveCount(8);
  await page.screenshot({ path: 'test-results/screenshots/verify-ok.png', fullPage: true });
  await page.getByRole('button', { name: "Import into this laptop's transcript" }).click();
  await expect(page.getByTestId('import-result')).toContainText('Imported 8 entries into the transcript of ceremony-e2e (0 already here); it now ends at entry 7.');

  // Flip one byte inside entry 4's data ("init-token" intent): its hash no longer matches.
  const file = join(bundle, 'transcript.jsonl');
  const lines = readFileSync(file, 'utf8').split('\n');
  lines[4] = lines[4]!.replace('about to init-token', 'about to init-tokeN');
  writeFileSync(file, lines.join('\n'));

  await page.getByRole('button', { name: 'Verify again' }).click();
  await expect(verdict).toContainText('NOT VERIFIED.');
  await expect(verdict).toContainText('Entry 4');
  await expect(page.locator('[data-testid="verify-timeline"] li.broken')).toHaveAttribute('data-seq', '4');
  await expect(page.getByTestId('verify-checks').locator('li.fail').first()).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/verify-broken.png', fullPage: true });
});

test('a rehearsal leads with "integrity OK, but not a production ceremony" and says why', async ({ page }) => {
  await harness.attach(page);
  await page.goto(harness.url);
  await page.getByRole('button', { name: 'Verify a transcript' }).click();
  harness.nextDialogAnswer.folders = [rehearsal];
  await page.getByRole('button', { name: 'Choose bundle folders…' }).click();
  const verdict = page.getByTestId('verify-verdict');
  await expect(verdict).toContainText('INTEGRITY OK, BUT NOT A PRODUCTION CEREMONY.');
  await expect(verdict).not.toContainText('PRODUCTION CEREMONY VERIFIED');
  await expect(page.getByTestId('verify-reasons')).toHaveText('ceremony rehearsal-e2e: it is a rehearsal, not a production ceremony (pass --allow-rehearsal to accept rehearsals)');
  const ceremony = page.getByTestId('verify-ceremonies').locator('li[data-ceremony="rehearsal-e2e"]');
  await expect(ceremony).toContainText('Kind Rehearsal');
  await expect(ceremony).toContainText('Air gap ONLINE');
  // Integrity holds, so its entries may still be imported (a rehearsal on this token is part of its history).
  await expect(page.getByRole('button', { name: "Import into this laptop's transcript" })).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/verify-rehearsal.png', fullPage: true });
});

test('the renderer cannot make main read a folder it did not choose', async ({ page }) => {
  await harness.attach(page);
  await page.goto(harness.url);
  const answer = await page.evaluate(() =>
    (globalThis as unknown as { keyceremony: { verifyBundles(r: unknown): Promise<unknown> } }).keyceremony.verifyBundles({ selectionId: '00000000-0000-4000-8000-000000000000' }),
  );
  expect(answer).toMatchObject({ ok: false, error: { code: 'SELECTION_UNKNOWN' } });
});
