// Home's Abandon… (issue 12, item 6): a kms-import left part-way after the custodians opened the token is
// listed as interrupted with Resume and Abandon…; the room types its reason and abandons it; Home then
// lists it as abandoned with no way to resume, and the token's transcript holds the abort entry with that
// reason (read from the journal on disk, not from the app). The ceremony is prepared in this process with
// the engine on a real SoftHSM token; the app's real handlers (bridged into the page) take over.
import { test, expect } from '@playwright/test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { runInitToken } from '../helpers/init-token-engine.js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';

const TOKEN = 'e2e-abandon';
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });

let env: SoftHsmEnv;
let work: string;
let dataDir: string;
let harness: Harness;
let chain: string;
let ceremonyId: string;

test.beforeAll(async () => {
  env = createSoftHsmEnv();
  work = mkdtempSync(join(tmpdir(), 'kc-e2e-abandon-'));
  dataDir = join(work, 'data');
  for (const d of ['usb', 'out', 'stick']) mkdirSync(join(work, d));
  const spki = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' });
  const params = join(work, 'stick', 'params.json');
  writeFileSync(params, JSON.stringify({ KeyId: 'arn:aws:kms:eu-central-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', ImportToken: Buffer.from('import-token').toString('base64'), PublicKey: spki.toString('base64'), ParametersValidTo: new Date(Date.now() + 20 * 3600_000).toISOString() }));

  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  const service = new CeremonyService({ layer, dataDir, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: 'e2e', scrypt: { N: 2 ** 10, r: 8, p: 1 } });
  try {
    const blank = (await layer.listSlots(SOFTHSM_MODULE)).find((s) => s.token && !s.token.initialized)!;
    const init = await runInitToken(service, { tokenLabel: TOKEN, custodians: PASS, threshold: 2, token: { moduleId: SOFTHSM_MODULE, slotId: blank.slotId }, sharesDir: join(work, 'usb'), bundleDir: join(work, 'out') });
    expect(init.status).toBe('completed');
    chain = init.ceremonyId;
    // kms-import as far as the custodians' login; then the app "closes" without ending the ceremony.
    ceremonyId = (await service.start({ script: 'kms-import', parameters: { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'e2e-abandoned-key', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' } })).ceremonyId;
    const step = async (s: string, input: Record<string, unknown>) => (await service.perform(ceremonyId, s, input)).view;
    await step('participants', { administrator: 'admin', witnesses: ['wendy'] });
    await step('airgap', {});
    await step('token', { uri: `pkcs11:token=${TOKEN}` });
    await step('parameters', { path: params, wrappingAlgorithm: 'RSAES_OAEP_SHA_1' });
    await step('login', { shareFile: join(work, 'usb', 'bob.share'), passphrase: PASS.bob });
    expect((await step('login', { shareFile: join(work, 'usb', 'carol.share'), passphrase: PASS.carol })).currentStepId).toBe('generate');
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

test('Abandon… on Home: the interrupted state, the reason recorded in the transcript, then listed as abandoned', async ({ page }) => {
  await harness.attach(page);
  await page.goto(harness.url);
  const row = page.locator(`tr[data-ceremony="${ceremonyId}"]`);
  await expect(row).toHaveAttribute('data-status', 'interrupted');
  await expect(row).toContainText('⚠ interrupted');
  await expect(row).toContainText('It stopped part-way. Resume it (custodians open the token again), or abandon it.');
  await expect(row).toContainText(`${TOKEN} · serial`);

  await row.getByRole('button', { name: 'Abandon…' }).click();
  const reasonBox = row.getByLabel('Why the room abandons it (recorded)');
  const submit = row.getByRole('button', { name: 'Abandon ceremony' });
  await reasonBox.fill('no');
  await expect(submit).toBeDisabled();
  const reason = 'the KMS key was deleted; the room stops here';
  await reasonBox.fill(reason);
  await page.screenshot({ path: 'test-results/screenshots/home-abandon-form.png', fullPage: true });
  await submit.click();

  await expect(row).toHaveAttribute('data-status', 'abandoned');
  await expect(row).toContainText('✘ abandoned');
  await expect(row.getByRole('button', { name: 'Resume' })).toHaveCount(0);
  await expect(row.getByRole('button', { name: 'Abandon…' })).toHaveCount(0);
  const answer = harness.ipcResults.filter((r) => r.method === 'abandonCeremony').at(-1)?.result as { ok: boolean; value: { ceremonyId: string; status: string } };
  expect(answer).toEqual({ ok: true, value: { ceremonyId, status: 'aborted' } });

  // The transcript on disk, read without the app: the ceremony's last entry is the abort with the reason.
  const entries = readFileSync(join(dataDir, 'chains', chain, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { ceremonyId: string; kind: string; actor: string; data: Record<string, unknown> });
  const mine = entries.filter((e) => e.ceremonyId === ceremonyId);
  expect(mine.at(-1)).toMatchObject({ kind: 'abort', actor: 'keyceremony', data: { reason, abandoned: true, after: 'interruption' } });
  expect(mine.filter((e) => e.kind === 'abort')).toHaveLength(1);

  // Still abandoned after a fresh read of the data directory.
  await page.reload();
  await expect(page.locator(`tr[data-ceremony="${ceremonyId}"]`)).toHaveAttribute('data-status', 'abandoned');
});
