// The init-token ceremony run from the app alone, on a blank SoftHSM token: 3 custodians, threshold 2.
// The real engine and token sit behind the bridged IPC; dialogs are answered with temp "USB sticks".
import { test, expect, type Page } from '@playwright/test';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { startHarness, type Harness } from './harness.js';
import { CUSTODIANS, doStep, exportTranscriptBundle, filesUnder, generateWrapAndWrite, handOutShares, PASSPHRASE } from './runner-steps.js';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { listRemovableDrives } from '../../src-main/files/removable-drives.js';
import { writeFileSync, readFileSync } from 'node:fs';
import { ARN, independentUnwrap, kmsLikeKey } from '../fixtures/kms/harness.js';
import { aesCmac } from '../helpers/aes-cmac.js';

const OTHER_SO_PIN = 'Zq7-officer-4821';

let env: SoftHsmEnv;
let work: string;
let harness: Harness;
const stick = (name: string) => join(work, `usb-${name}`);

/**
 * An init-token attempt killed at the worst moment, inside its init step (C_InitToken returned, its result not
 * recorded), after it handed out and proved all three shares, in this data directory: `keyceremony
 * init-token` in a child process (the crash test's child), SIGKILLed. Uses the fresh SoftHSM directory's
 * free slot 0.
 */
async function interruptedAttempt(dataDir: string): Promise<void> {
  const outDir = resolve('node_modules/.cache/keyceremony-e2e-crash-child');
  await build({
    configFile: false,
    logLevel: 'silent',
    ssr: { noExternal: ['zod'] },
    build: { ssr: resolve('test/integration/ceremony-crash-child.ts'), outDir, emptyOutDir: true, target: 'node20', rollupOptions: { output: { entryFileNames: 'child.mjs', format: 'es' } } },
  });
  mkdirSync(join(work, 'crash-usb'));
  mkdirSync(join(work, 'crash-secrets'));
  for (const name of CUSTODIANS) writeFileSync(join(work, 'crash-secrets', name), `${PASSPHRASE[name]}\n`);
  const args = ['--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', 'crash-token', '--custodians', CUSTODIANS.join(','), '--threshold', '2', '--shares-out', join(work, 'crash-usb'), '--out', join(work, 'crash-usb'), '--witness', 'Dana', '--data-dir', dataDir, ...CUSTODIANS.flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'crash-secrets', c)}`])];
  await new Promise<void>((done, fail) => {
    const p = spawn(process.execPath, [join(outDir, 'child.mjs'), JSON.stringify(args), resolve('ceremonies'), 'action:init'], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (/^stopped inside init$/m.test(out)) p.kill('SIGKILL');
    });
    p.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    p.on('exit', (code, signal) => (signal === 'SIGKILL' ? done() : fail(new Error(`the crash child exited ${code}: ${out}`))));
  });
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  env = createSoftHsmEnv();
  work = mkdtempSync(join(tmpdir(), 'kc-e2e-init-'));
  await interruptedAttempt(join(work, 'appdata'));
  // A token someone else initialized (its SO PIN known to its security officer), for the re-init test.
  initSoftHsmToken('other-token', OTHER_SO_PIN, '33334444');
  for (const name of [...CUSTODIANS, 'bundle']) mkdirSync(stick(name));
  harness = await startHarness({ appDataDir: join(work, 'appdata'), defaultModules: [SOFTHSM_MODULE] });
});

test.afterAll(async () => {
  await harness?.close();
  env?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** From the Ceremony screen to init-token's init step on a token that is not blank (the re-init tests): shares out and proved first. */
async function initTokenUpToInit(page: Page, o: { label: string; custodians: string; allowReinitialize: boolean; token: RegExp }) {
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: 'Initialize a token and enrol its custodians' }).click();
  await page.getByLabel('Token label', { exact: true }).fill(o.label);
  await page.getByLabel('Custodians (N)', { exact: true }).fill(o.custodians);
  await page.getByLabel('Custodians needed (M)', { exact: true }).fill('2');
  if (o.allowReinitialize) await page.getByLabel('Allow erasing an initialized token', { exact: true }).check();
  await page.getByRole('button', { name: 'Start the ceremony' }).click();
  await page.getByLabel('Administrator').fill('Erin');
  await page.getByLabel('Witnesses (comma separated)').fill('Dana');
  await doStep(page, 'Record who is present');
  await doStep(page, 'Check the air gap');
  await expect(page.locator('#step-title')).toHaveText('Choose the token');
  await page.getByRole('radio', { name: o.token }).check();
  await page.getByRole('button', { name: 'Do this step' }).click();
  await doStep(page, 'Generate the ceremony secret');
  const sticks = mkdtempSync(join(work, `usb-${o.label}-`));
  await handOutShares(page, harness, o.custodians.split(',').map((c) => c.trim()), () => sticks);
  await doStep(page, 'Prove every combination works');
}

test('init-token from the app: shares handed out one at a time, quorum seals, bundle verifies', async ({ page }) => {
  test.setTimeout(120_000);
  // An offline laptop: only loopback.
  harness.interfaces.table = { lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }] };
  await harness.attach(page);
  await page.goto(harness.url);
  await expect(page.getByTestId('airgap-offline')).toBeVisible();
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: 'Initialize a token and enrol its custodians' }).click();
  // The preview: who must be there and what to bring, before anything starts.
  const preview = page.getByTestId('ceremony-preview');
  await expect(preview.getByTestId('bring-list')).toContainText('One empty USB stick per custodian');
  await expect(preview.getByTestId('bring-list')).toContainText('The blank token to initialize');
  await expect(preview).toContainText('at least 1');
  await page.screenshot({ path: 'test-results/screenshots/start-preview.png', fullPage: true });
  await page.getByLabel('Token label', { exact: true }).fill('e2e-root');
  await page.getByLabel('Custodians (N)', { exact: true }).fill(CUSTODIANS.join(', '));
  await page.getByLabel('Custodians needed (M)', { exact: true }).fill('2');
  await page.getByRole('button', { name: 'Start the ceremony' }).click();

  await expect(page.locator('#step-title')).toBeFocused();
  await page.getByLabel('Administrator').fill('Erin');
  await page.getByLabel('Witnesses (comma separated)').fill('Dana');
  await doStep(page, 'Record who is present');
  await doStep(page, 'Check the air gap');

  await expect(page.locator('#step-title')).toHaveText('Choose the token');
  await page.getByRole('radio', { name: /\(blank\)/ }).first().check();
  await page.getByRole('button', { name: 'Do this step' }).click();
  await doStep(page, 'Generate the ceremony secret');

  for (const name of CUSTODIANS) {
    await expect(page.locator('#step-title')).toHaveText('Hand out the shares');
    await page.getByLabel('Custodian at the laptop').selectOption(name);
    harness.nextDialogAnswer.folder = stick(name);
    await page.getByRole('button', { name: 'Choose USB stick…' }).click();
    // The drives main sees are listed (this machine's, as the real function finds them)...
    const seen = await listRemovableDrives();
    await expect(page.getByTestId('removable-drives')).toContainText(seen.length === 0 ? 'Removable drives seen: none' : seen[0]!.mountPoint);
    // ...and the temp "stick" is on the machine's own disk, and main says so in words.
    await expect(page.getByTestId('drive-check')).toContainText(`Not a removable drive. ${stick(name)} is not on a removable drive`);
    await page.getByLabel('Passphrase (at least 12 characters; typed by the custodian)').fill(PASSPHRASE[name]!);
    await page.getByLabel('Passphrase again').fill(PASSPHRASE[name]!);
    if (name === 'alice') await page.screenshot({ path: 'test-results/screenshots/runner-share-destination.png', fullPage: true });
    await page.getByRole('button', { name: 'Do this step' }).click();
    if (name === 'alice') {
      // The share file's scrypt (N = 2^17, then again to read it back) takes long enough to see the work announced.
      await expect(page.getByTestId('working')).toContainText('Encrypting the share file');
      await page.screenshot({ path: 'test-results/screenshots/runner-working.png', fullPage: true });
    }
    const reveal = page.getByTestId('share-reveal');
    await expect(reveal).toContainText(`Share of ${name}`, { timeout: 30_000 });
    // Only this custodian's share is on screen.
    await expect(page.getByTestId('share-reveal')).toHaveCount(1);
    if (name === 'alice') {
      await page.screenshot({ path: 'test-results/screenshots/runner-share-reveal.png', fullPage: true });
      // The printed share sheet holds this custodian's share and nothing else of the screen.
      await page.emulateMedia({ media: 'print' });
      await expect(reveal).toBeVisible();
      await expect(page.getByRole('list', { name: 'Ceremony steps' })).toBeHidden();
      await expect(page.getByTestId('transcript-tail')).toBeHidden();
      await page.pdf({ path: 'test-results/share-sheet-alice.pdf', format: 'A4' });
      await page.emulateMedia({ media: 'screen' });
    }
    await page.getByRole('button', { name: 'Done, hide my share' }).click();
    await expect(reveal).toHaveCount(0);
    expect(readdirSync(stick(name))).toEqual([`${name}.share`]);
  }

  await doStep(page, 'Prove every combination works');

  // Only now, with every share out and proved, is the token touched.
  await expect(page.locator('#step-title')).toHaveText('Initialize token e2e-root');
  await page.screenshot({ path: 'test-results/screenshots/runner-confirm.png', fullPage: true });
  const confirm = page.getByRole('button', { name: 'INITIALIZE' });
  await expect(confirm).toBeDisabled();
  await page.getByLabel('Confirmation word: type INITIALIZE').fill('INITIALIZE');
  await confirm.click();

  await doStep(page, 'Set the user PIN');
  await doStep(page, 'Create the audit key');
  await doStep(page, 'Start the transcript');
  await doStep(page, 'Enrol the custodians');
  await expect(page.locator('#step-title')).toHaveText('Witnesses sign off');
  const summary = page.getByTestId('sign-off-summary');
  for (const name of CUSTODIANS) await expect(summary).toContainText(`${name}.share`);
  await page.getByLabel('Dana: type your name to sign').fill('Dana');
  await page.getByLabel('What Dana saw (optional)').fill('I saw every step and no network cable.');
  await page.getByRole('button', { name: 'Do this step' }).click();

  await expect(page.locator('#step-title')).toHaveText('Custodians approve and seal the transcript');
  for (const name of ['alice', 'carol']) {
    harness.nextDialogAnswer.shareFile = join(stick(name), `${name}.share`);
    await page.getByRole('button', { name: 'Choose share file…' }).click();
    await expect(page.getByText(`${name}.share`)).toBeVisible();
    await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE[name]!);
    await page.getByRole('button', { name: 'Add my approval' }).click();
    if (name === 'alice') {
      await expect(page.getByTestId('quorum-panel')).toContainText('1 of 2 approvals');
      await page.screenshot({ path: 'test-results/screenshots/runner-quorum.png', fullPage: true });
    }
  }

  await exportTranscriptBundle(page, harness, stick('bundle'));
  await expect(page.getByTestId('ceremony-status')).toContainText('Ceremony completed.');
  await expect(page.getByTestId('transcript-tail')).toContainText('approval');
  const record = page.getByTestId('ceremony-record');
  for (const name of CUSTODIANS) await expect(record).toContainText(`${name}.share`);
  await expect(record).toContainText(/Custodians approve and seal the transcript: (alice, carol|carol, alice)/);
  await expect(record).toContainText('Signed off by Dana');
  await page.screenshot({ path: 'test-results/screenshots/runner-completed.png', fullPage: true });
  await page.emulateMedia({ media: 'print' });
  await expect(record).toBeVisible();
  await expect(record.getByTestId('summary-head')).toBeVisible();
  await expect(record.getByRole('table', { name: 'Signatures' })).toBeVisible();
  await expect(page.getByTestId('transcript-tail')).toBeHidden();
  await page.pdf({ path: 'test-results/ceremony-record-init-token.pdf', format: 'A4' });
  await page.emulateMedia({ media: 'screen' });

  const [bundle] = readdirSync(stick('bundle'));
  const report = await verifyBundles([join(stick('bundle'), bundle!)]);
  expect(report.firstFailure).toBeNull();
  expect(report.ok).toBe(true);
});

test('kms-import from the app on that token: the key material unwraps to the check value shown', async ({ page }) => {
  test.setTimeout(120_000);
  // Parameters as `aws kms get-parameters-for-import --output json` prints them, for a wrapping key the test holds.
  const kms = kmsLikeKey(2048);
  const params = join(work, 'usb-params.json');
  writeFileSync(
    params,
    JSON.stringify({
      KeyId: ARN,
      ImportToken: Buffer.from('e2e-import-token').toString('base64'),
      PublicKey: Buffer.from(kms.spki).toString('base64'),
      // 30 hours: AWS issues parameters for 24, so the room must be warned.
      ParametersValidTo: new Date(Date.now() + 30 * 3600_000).toISOString(),
    }),
  );
  mkdirSync(stick('key'));
  mkdirSync(stick('bundle2'));
  await harness.attach(page);
  await page.goto(harness.url);
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: 'Generate a key and wrap it for a cloud KMS' }).click();
  await page.getByLabel('Key spec', { exact: true }).fill('SYMMETRIC_DEFAULT');
  await page.getByLabel('Key label in the token', { exact: true }).fill('e2e-aes');
  await page.getByLabel('Wrapping algorithm', { exact: true }).fill('RSAES_OAEP_SHA_1');
  await page.getByRole('button', { name: 'Start the ceremony' }).click();

  await page.getByLabel('Administrator').fill('Erin');
  await page.getByLabel('Witnesses (comma separated)').fill('Dana');
  await doStep(page, 'Record who is present');
  await doStep(page, 'Check the air gap');
  await expect(page.locator('#step-title')).toHaveText('Choose the token');
  await page.getByRole('radio', { name: /e2e-root/ }).check();
  await page.getByRole('button', { name: 'Do this step' }).click();

  await expect(page.locator('#step-title')).toHaveText("Load the cloud's import parameters");
  harness.nextDialogAnswer.paramsFile = params;
  await page.getByRole('button', { name: 'Choose file…' }).click();
  await page.getByLabel(/Wrapping algorithm requested/).selectOption('RSAES_OAEP_SHA_1');
  await page.getByRole('button', { name: 'Do this step' }).click();

  await expect(page.locator('#step-title')).toHaveText('Custodians open the token');
  // Before anyone opens the token, the room reads the key it loaded and hears the warning about it.
  const loaded = page.getByTestId('parameters-panel');
  await expect(loaded).toContainText(ARN);
  await expect(loaded.getByTestId('parameters-warnings')).toContainText(/more than 25 hours from now, but AWS issues them for 24 hours: check the laptop's clock/);
  // A wrong passphrase, then a mistyped share code: each refused with words, nothing counted, and the
  // custodians go on.
  harness.nextDialogAnswer.shareFile = join(stick('bob'), 'bob.share');
  await page.getByRole('button', { name: 'Choose share file…' }).click();
  await expect(page.getByText('bob.share')).toBeVisible();
  await page.getByLabel('Passphrase', { exact: true }).fill('not bobs passphrase');
  await page.getByRole('button', { name: 'Add my approval' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'This step did not happen' })).toContainText(/passphrase/i);
  await expect(page.getByTestId('transcript-tail')).toContainText('refused');
  await page.getByLabel('…or share code').fill('AAAAA-BBBBB-CCCCC');
  await page.getByRole('button', { name: 'Add my approval' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'This step did not happen' })).toContainText(/share code/i);
  await expect(page.getByTestId('quorum-panel')).toContainText('0 of 2 approvals');
  await page.screenshot({ path: 'test-results/screenshots/runner-wrong-share.png', fullPage: true });
  for (const name of ['bob', 'carol']) {
    harness.nextDialogAnswer.shareFile = join(stick(name), `${name}.share`);
    await page.getByRole('button', { name: 'Choose share file…' }).click();
    await expect(page.getByText(`${name}.share`)).toBeVisible();
    await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE[name]!);
    await page.getByRole('button', { name: 'Add my approval' }).click();
    if (name === 'bob') await expect(page.getByTestId('quorum-panel')).toContainText('bob: approved');
  }

  await generateWrapAndWrite(page, harness, stick('key'));
  // Unwrap what is on the stick with the wrapping key's private half (openssl) and recompute the AES-CMAC
  // check value: the summary the witnesses sign shows that value, and the key it is for.
  const [exported] = readdirSync(stick('key'));
  const dir = join(stick('key'), exported!);
  const material = independentUnwrap(kms, 'RSAES_OAEP_SHA_1', readFileSync(join(dir, 'EncryptedKeyMaterial.bin')));
  expect(material).toHaveLength(32);
  const kcv = aesCmac(material, Buffer.alloc(16)).subarray(0, 3).toString('hex').toUpperCase();
  const summary = page.getByTestId('sign-off-summary');
  await expect(summary.getByTestId('summary-check-value')).toHaveText(kcv);
  await expect(summary.getByTestId('summary-key-arn')).toHaveText(ARN);
  await expect(summary.getByTestId('summary-key-spec')).toContainText('SYMMETRIC_DEFAULT');
  await expect(summary).toContainText('RSAES_OAEP_SHA_1');
  await expect(summary).toContainText('EncryptedKeyMaterial.bin');
  await expect(summary).toContainText(/Custodians open the token: bob, carol/);
  await summary.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/screenshots/runner-sign-off-summary.png', fullPage: true });
  await page.getByLabel('Dana: type your name to sign').fill('Dna');
  await expect(page.getByText('✘ does not match the recorded name')).toBeVisible();
  await page.getByLabel('Dana: type your name to sign').fill('Dana');
  await page.getByLabel('What Dana saw (optional)').fill('I saw the key generated and wrapped inside the token.');
  await page.getByRole('button', { name: 'Do this step' }).click();
  await doStep(page, 'Seal the transcript on the token');
  await exportTranscriptBundle(page, harness, stick('bundle2'));
  await doStep(page, 'Close the token');
  await expect(page.getByTestId('ceremony-status')).toContainText('Ceremony completed.');
  const kmsRecord = page.getByTestId('ceremony-record');
  await expect(kmsRecord.getByTestId('summary-check-value')).toHaveText(kcv);
  await expect(kmsRecord).toContainText('Signed off by Dana');
  await page.screenshot({ path: 'test-results/screenshots/runner-kms-completed.png', fullPage: true });
  await page.emulateMedia({ media: 'print' });
  await expect(kmsRecord.getByTestId('summary-check-value')).toBeVisible();
  await expect(kmsRecord.getByTestId('summary-head')).toBeVisible();
  await page.pdf({ path: 'test-results/ceremony-record-kms-import.pdf', format: 'A4' });
  await page.emulateMedia({ media: 'screen' });

  const manifest = JSON.parse(readFileSync(join(dir, 'import-manifest.json'), 'utf8'));
  expect(JSON.stringify(manifest)).toContain(kcv);
  // Nothing the app wrote or answered holds the plaintext: not the data directory (store, journal,
  // pre-genesis logs, settings), not any stick, not one IPC result the page received.
  const forms = [material, Buffer.from(material.toString('hex')), Buffer.from(material.toString('hex').toUpperCase()), Buffer.from(material.toString('base64')), Buffer.from(material.toString('base64url'))];
  const files = filesUnder(work).filter((f) => !f.endsWith('usb-params.json'));
  expect(files.some((f) => f.includes('journal.jsonl'))).toBe(true);
  expect(files.some((f) => f.endsWith('EncryptedKeyMaterial.bin'))).toBe(true);
  for (const file of files) {
    const bytes = readFileSync(file);
    for (const form of forms) expect(bytes.includes(form), file).toBe(false);
  }
  const answered = Buffer.from(JSON.stringify(harness.ipcResults));
  expect(harness.ipcResults.filter((r) => r.method === 'performStep').length).toBeGreaterThan(10);
  expect(answered.includes(Buffer.from(kcv))).toBe(true);
  for (const form of forms) expect(answered.includes(form)).toBe(false);

  // Home lists both ceremonies with their state.
  await page.getByRole('button', { name: 'Home' }).click();
  await page.getByRole('button', { name: 'Refresh' }).click();
  const past = page.getByTestId('past-ceremonies');
  await expect(past.locator('tr[data-status="completed"]')).toHaveCount(2);
  await expect(past).toContainText('init-token');
  await expect(past).toContainText('kms-import');
  await page.screenshot({ path: 'test-results/screenshots/home-past-ceremonies.png', fullPage: true });
  // The token's row names it by its audit key and the init-token ceremony that started its transcript.
  const initId = (await past.locator('tr[data-status="completed"]', { hasText: 'init-token' }).getAttribute('data-ceremony')) as string;
  await expect(page.locator('[data-testid="token-row"][data-label="e2e-root"]').getByTestId('token-audit-key')).toHaveText(new RegExp(`^Audit key [0-9a-f]{16}… · transcript of ${initId}$`));

  // The record of the kms-import from Home: its summary, and every entry it wrote (counted in the files).
  const kmsRow = past.locator('tr', { hasText: 'kms-import' });
  const kmsId = (await kmsRow.getAttribute('data-ceremony')) as string;
  await expect(kmsRow).toContainText('e2e-root · serial');
  await kmsRow.getByTestId('show-record').click();
  const pastRecord = page.getByTestId('past-ceremony-record');
  await expect(page.locator('#past-record-heading')).toBeFocused();
  await expect(pastRecord.getByTestId('summary-check-value')).toHaveText(kcv);
  const journals = filesUnder(work).filter((f) => f.endsWith('journal.jsonl'));
  const inChain = journals.flatMap((j) => readFileSync(j, 'utf8').trim().split('\n')).filter((l) => l !== '' && (JSON.parse(l) as { ceremonyId: string }).ceremonyId === kmsId).length;
  const preLog = filesUnder(work).find((f) => f.includes(kmsId) && f.endsWith('pre-genesis.jsonl')) as string;
  const inLog = readFileSync(preLog, 'utf8').trim().split('\n').length;
  // The final export and the logout come after `completed`, in the ceremony's local note (not the chain).
  const inNote = readFileSync(preLog.replace('pre-genesis.jsonl', 'after-completed.jsonl'), 'utf8').trim().split('\n').length;
  expect(inChain).toBeGreaterThan(10);
  expect(inNote).toBe(3);
  await expect(pastRecord.getByTestId('past-record-entries').locator('tbody tr')).toHaveCount(inChain + inLog + inNote);
  await page.screenshot({ path: 'test-results/screenshots/home-past-record.png', fullPage: true });
});

test('init-token on a token initialized elsewhere: the current SO PIN is asked for, cleared after each try, and erases it', async ({ page }) => {
  test.setTimeout(90_000);
  await harness.attach(page);
  await page.goto(harness.url);
  await initTokenUpToInit(page, { label: 'reinit-e2e', custodians: 'dave, erin', allowReinitialize: true, token: /other-token/ });

  await expect(page.locator('#step-title')).toHaveText('Initialize token reinit-e2e');
  const inputs = page.getByTestId('reinit-inputs');
  await expect(inputs).toContainText('The token is not blank: its current SO PIN');
  const soPin = page.getByLabel('Current SO PIN');
  await expect(soPin).toHaveAttribute('type', 'password');
  await page.getByLabel('Confirmation word: type INITIALIZE').fill('INITIALIZE');
  await soPin.fill('99998888');
  await page.getByRole('button', { name: 'INITIALIZE' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'This step did not happen' })).toBeVisible();
  await expect(soPin).toHaveValue('');
  await page.screenshot({ path: 'test-results/screenshots/runner-reinit-so-pin.png', fullPage: true });
  await page.getByLabel('Confirmation word: type INITIALIZE').fill('INITIALIZE');
  await soPin.fill(OTHER_SO_PIN);
  await page.getByRole('button', { name: 'INITIALIZE' }).click();
  await expect(page.locator('#step-title')).toHaveText('Set the user PIN');
  // The SO PIN went to main and nowhere else: no answer the page received holds it.
  expect(JSON.stringify(harness.ipcResults)).not.toContain(OTHER_SO_PIN);
  await page.getByRole('button', { name: 'Abort…' }).click();
  await page.getByLabel('Why is the ceremony aborted?').fill('e2e: re-init checked');
  await page.getByRole('button', { name: 'Abort the ceremony' }).click();
  await expect(page.getByTestId('ceremony-status')).toContainText('Ceremony aborted.');
});

test("init-token killed inside its init step: Home says how out, and that attempt's share files rebuild the token's SO PIN", async ({ page }) => {
  test.setTimeout(90_000);
  await harness.attach(page);
  await page.goto(harness.url);
  // Home: the killed attempt is listed as interrupted, with the way out in the room's words.
  const killed = page.getByTestId('past-ceremonies').locator('tr[data-status="interrupted"]', { hasText: 'init-token' });
  await expect(killed).toHaveCount(1);
  const wayOut = killed.getByTestId('way-out');
  await expect(wayOut).toContainText("It stopped after it began initializing token 'crash-token'. Its share files (void for anything else) still rebuild that token's SO PIN");
  await expect(wayOut).toContainText('add 2 of the share files of alice, bob, carol, each with its passphrase');
  await page.screenshot({ path: 'test-results/screenshots/home-init-token-killed.png', fullPage: true });
  await initTokenUpToInit(page, { label: 'crash-again', custodians: CUSTODIANS.join(', '), allowReinitialize: false, token: /crash-token/ });

  await expect(page.locator('#step-title')).toHaveText('Initialize token crash-again');
  const inputs = page.getByTestId('reinit-inputs');
  await expect(inputs).toContainText("The token is not blank: the stopped attempt's shares");
  await expect(inputs).toContainText('handed to alice, bob, carol');
  for (const name of ['alice', 'bob']) {
    harness.nextDialogAnswer.shareFile = join(work, 'crash-usb', `${name}.share`);
    await page.getByRole('button', { name: 'Add a previous share file…' }).click();
    await expect(inputs).toContainText(`${name}.share`);
  }
  const passphrases = inputs.getByLabel('Passphrase');
  await expect(passphrases).toHaveCount(2);
  await passphrases.nth(0).fill(PASSPHRASE.alice!);
  await passphrases.nth(1).fill('not bobs passphrase');
  await page.getByLabel('Confirmation word: type INITIALIZE').fill('INITIALIZE');
  await page.getByRole('button', { name: 'INITIALIZE' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'This step did not happen' })).toContainText(/passphrase/i);
  // Nothing typed for a share stays in a field after a try.
  await expect(passphrases.nth(0)).toHaveValue('');
  await expect(passphrases.nth(1)).toHaveValue('');
  await page.screenshot({ path: 'test-results/screenshots/runner-reinit-previous-shares.png', fullPage: true });
  await passphrases.nth(0).fill(PASSPHRASE.alice!);
  await passphrases.nth(1).fill(PASSPHRASE.bob!);
  await page.getByLabel('Confirmation word: type INITIALIZE').fill('INITIALIZE');
  await page.getByRole('button', { name: 'INITIALIZE' }).click();
  await expect(page.locator('#step-title')).toHaveText('Set the user PIN');
  await page.getByRole('button', { name: 'Abort…' }).click();
  await page.getByLabel('Why is the ceremony aborted?').fill('e2e: re-init from previous shares checked');
  await page.getByRole('button', { name: 'Abort the ceremony' }).click();
  await expect(page.getByTestId('ceremony-status')).toContainText('Ceremony aborted.');
});
