// backup-key and restore-key from the app, on two SoftHSM tokens of one security domain. The command line
// sets the room up (as an earlier day's ceremonies would have): token A initialized, an AES key generated on
// it by kms-import, token B initialized into A's domain with --join-domain-share. Then, in the app: the key
// is backed up from A to a "USB stick" folder, and restored from that folder into B; the restored key's
// check value, recorded in B's chain, is the one recorded at generation on A, and the bundles verify.
import { test, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from './harness.js';
import { CUSTODIANS, PASSPHRASE, doStep, exportTranscriptBundle, presentShares } from './runner-steps.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';

let env: SoftHsmEnv;
let work: string;
let harness: Harness;
let idB: string;
let generated: { value: string; method: string };
const stick = (name: string) => join(work, `usb-${name}`);
const appdata = () => join(work, 'appdata');
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });

function blankSlot(): string {
  const out = execFileSync('softhsm2-util', ['--show-slots'], { env: process.env, encoding: 'utf8' });
  const blank = out.split(/\n(?=Slot \d+)/).find((b) => /Initialized:\s+no/.test(b));
  const m = blank ? /^Slot (\d+)/m.exec(blank) : null;
  if (!m) throw new Error(`no blank SoftHSM slot:\n${out}`);
  return m[1] as string;
}

/** A CLI command run in this process; its JSON outcome, or the failure in words. */
async function cli(run: (argv: string[], out: { stdout: { write(t: string): void }; stderr: { write(t: string): void } }, o: object) => Promise<number>, argv: string[], overrides: object = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } }, { airGap: offline, ...overrides });
  if (code !== 0) throw new Error(`exit ${code}: ${stderr}`);
  return JSON.parse(stdout) as { ceremonyId: string; checkValue?: { value: string; method: string } };
}

const shareOf = (name: string) => `${join(stick(name), `${name}.share`)}:${join(work, 'secrets', name)}`;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  env = createSoftHsmEnv();
  work = mkdtempSync(join(tmpdir(), 'kc-e2e-backup-'));
  for (const name of [...CUSTODIANS, 'bundle', 'backup', 'bundle2', 'kms', 'a-bundles', 'b-bundles']) mkdirSync(stick(name));
  for (const name of ['secrets', 'appdata']) mkdirSync(join(work, name));
  for (const name of CUSTODIANS) writeFileSync(join(work, 'secrets', name), `${PASSPHRASE[name]}\n`);
  const scrypt = { N: 2 ** 10, r: 8, p: 1 };
  // Each custodian's share file on their own stick (usb-NAME), as the app's init-token writes them.
  const sharesOut = join(work, 'usb-shares');
  mkdirSync(sharesOut);
  await cli(initTokenCommand, [
    '--module', SOFTHSM_MODULE, '--slot', blankSlot(), '--token-label', 'e2e-a', '--custodians', CUSTODIANS.join(','), '--threshold', '2', '--shares-out', sharesOut,
    '--out', stick('a-bundles'), '--witness', 'Dana', '--data-dir', appdata(), ...CUSTODIANS.flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]), '--json',
  ], { scrypt });
  for (const name of CUSTODIANS) writeFileSync(join(stick(name), `${name}.share`), readFileSync(join(sharesOut, `${name}.share`)));
  const kms = kmsLikeKey(2048);
  const params = join(work, 'params.json');
  writeFileSync(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('e2e-token').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  const imported = await cli(kmsImportCommand, [
    '--module', SOFTHSM_MODULE, '--token', 'pkcs11:token=e2e-a', '--params', params, '--wrapping-algorithm', 'RSAES_OAEP_SHA_1', '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', 'e2e-aes',
    '--out', stick('kms'), '--bundle-out', stick('a-bundles'), '--witness', 'Dana', '--data-dir', appdata(), '--share', shareOf('alice'), '--share', shareOf('bob'), '--json',
  ]);
  generated = imported.checkValue as { value: string; method: string };
  idB = (await cli(initTokenCommand, [
    '--module', SOFTHSM_MODULE, '--slot', blankSlot(), '--token-label', 'e2e-b', '--join-domain-share', shareOf('bob'), '--join-domain-share', shareOf('carol'),
    '--out', stick('b-bundles'), '--witness', 'Dana', '--data-dir', appdata(), '--json',
  ], { scrypt })).ceremonyId;
  harness = await startHarness({ appDataDir: appdata(), defaultModules: [SOFTHSM_MODULE] });
  harness.interfaces.table = { lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }] };
});

test.afterAll(async () => {
  await harness?.close();
  env?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function start(page: Page, ceremony: string, token: RegExp) {
  await page.goto(harness.url);
  await expect(page.getByTestId('airgap-offline')).toBeVisible();
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: ceremony }).click();
  return async () => {
    await page.getByRole('button', { name: 'Start the ceremony' }).click();
    await page.getByLabel('Administrator').fill('Erin');
    await page.getByLabel('Witnesses (comma separated)').fill('Dana');
    await doStep(page, 'Record who is present');
    await doStep(page, 'Check the air gap');
    await expect(page.locator('#step-title')).toHaveText('Choose the token');
    await page.getByRole('radio', { name: token }).check();
    await page.getByRole('button', { name: 'Do this step' }).click();
    await expect(page.locator('#step-title')).toHaveText('Custodians open the token');
    await presentShares(page, harness, ['alice', 'carol'], stick);
  };
}

async function finish(page: Page, bundle: string) {
  await expect(page.locator('#step-title')).toHaveText('Witnesses sign off');
  // What the witnesses sign for: the key, the check value the token computed (the one generated on A), the domain.
  await expect(page.getByTestId('summary-backup-key')).toContainText('e2e-aes (SYMMETRIC_DEFAULT)');
  await expect(page.getByTestId('summary-backup-check-value')).toHaveText(generated.value);
  await expect(page.getByTestId('summary-domain')).toHaveText(/^[0-9a-f]{32}$/);
  await page.getByLabel('Dana: type your name to sign').fill('Dana');
  await page.getByRole('button', { name: 'Do this step' }).click();
  await doStep(page, 'Seal the transcript on the token');
  await exportTranscriptBundle(page, harness, bundle);
  await doStep(page, 'Close the token');
  await expect(page.getByTestId('ceremony-status')).toContainText('Ceremony completed.');
}

test('backup-key from the app on token A, then restore-key from the app into token B of the same domain', async ({ page }) => {
  test.setTimeout(240_000);
  // The init-token screen offers joining an existing security domain (the join script is not a ceremony of its own in the list).
  await harness.attach(page);
  await page.goto(harness.url);
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await expect(page.getByRole('button', { name: 'Initialize a token in an existing security domain' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Initialize a token and enrol its custodians' }).click();
  await page.getByLabel(/Join an existing security domain/).check();
  await expect(page.getByLabel('Custodians (N)', { exact: true })).toHaveCount(0);
  await expect(page.getByTestId('ceremony-preview').getByTestId('bring-list')).toContainText('Enough custodians of the security domain');

  const backup = await start(page, "Back up a key to the custodians' sticks", /e2e-a/);
  await page.getByLabel('Key label in the token', { exact: true }).fill('e2e-aes');
  await backup();
  await doStep(page, 'Find the key and check it');
  await expect(page.locator('#step-title')).toHaveText('Custodians let the backup key wrap the key');
  await presentShares(page, harness, ['bob', 'alice'], stick);
  await expect(page.locator('#step-title')).toHaveText('Write the backup folder to the stick');
  harness.nextDialogAnswer.folder = stick('backup');
  await page.getByRole('button', { name: 'Choose USB stick for the backup…' }).click();
  await page.getByRole('button', { name: 'Do this step' }).click();
  await finish(page, stick('bundle'));
  const [folder] = readdirSync(stick('backup'));
  expect(readdirSync(join(stick('backup'), folder!)).sort()).toEqual(['RESTORE.md', 'backup-manifest.json', 'wrapped-key-rsa.bin', 'wrapped-key.bin']);
  const manifest = JSON.parse(readFileSync(join(stick('backup'), folder!, 'backup-manifest.json'), 'utf8')) as { key: { checkValue: { value: string } } };
  expect(manifest.key.checkValue.value).toBe(generated.value);

  const restore = await start(page, 'Restore a key from a backup', /e2e-b/);
  await restore();
  await expect(page.locator('#step-title')).toHaveText('Check the backup');
  harness.nextDialogAnswer.folder = join(stick('backup'), folder!);
  await page.getByRole('button', { name: 'Choose the key backup folder…' }).click();
  await page.getByRole('button', { name: 'Do this step' }).click();
  await expect(page.locator('#step-title')).toHaveText('Custodians let the backup key unwrap the key');
  await presentShares(page, harness, ['carol', 'bob'], stick);
  await finish(page, stick('bundle2'));

  // B's chain records the restored key with the check value the token computed: the one generated on A.
  const { store } = await TranscriptStore.open(join(appdata(), 'chains', idB), { readOnly: true });
  try {
    const head = store.head();
    const restored = store.entries(0, head?.seq ?? 0).find((e) => e.kind === 'result' && (e.data as { action?: string }).action === 'restore-unwrap');
    expect((restored?.data as { checkValue?: { value?: string } })?.checkValue?.value).toBe(generated.value);
  } finally {
    await store.close();
  }
  // Each token's chain verifies from its genesis: the command line's bundles, then the app's.
  const inOrder = (dir: string) => readdirSync(dir).sort((x, y) => x.slice(-13).localeCompare(y.slice(-13))).map((b) => join(dir, b));
  for (const [earlier, app] of [[stick('a-bundles'), stick('bundle')], [stick('b-bundles'), stick('bundle2')]] as const) {
    const report = await verifyBundles([...inOrder(earlier), ...inOrder(app)]);
    expect(report.firstFailure).toBeNull();
    expect(report.ok).toBe(true);
  }
});

test('init-token from the app joins the security domain: the domain\'s share files, no new shares, the token opens with them', async ({ page }) => {
  test.setTimeout(180_000);
  await harness.attach(page);
  await page.goto(harness.url);
  await page.getByRole('button', { name: 'Ceremony' }).click();
  await page.getByRole('button', { name: 'Initialize a token and enrol its custodians' }).click();
  await page.getByLabel(/Join an existing security domain/).check();
  await page.getByLabel('Token label', { exact: true }).fill('e2e-c');
  await page.getByRole('button', { name: 'Start the ceremony' }).click();
  await page.getByLabel('Administrator').fill('Erin');
  await page.getByLabel('Witnesses (comma separated)').fill('Dana');
  await doStep(page, 'Record who is present');
  await doStep(page, 'Check the air gap');
  await expect(page.locator('#step-title')).toHaveText('Choose the token');
  await page.getByRole('radio', { name: /\(blank\)/ }).first().check();
  await page.getByRole('button', { name: 'Do this step' }).click();
  await expect(page.locator('#step-title')).toHaveText('Custodians of the security domain present their shares');
  const inputs = page.getByTestId('domain-shares');
  const joining = ['alice', 'carol'];
  for (const name of joining) {
    harness.nextDialogAnswer.shareFile = join(stick(name), `${name}.share`);
    await page.getByRole('button', { name: 'Add a share file…' }).click();
    await expect(inputs).toContainText(`${name}.share`);
  }
  const passphrases = inputs.getByLabel('Passphrase');
  await expect(passphrases).toHaveCount(2);
  for (const [i, name] of joining.entries()) await passphrases.nth(i).fill(PASSPHRASE[name]!);
  await page.getByRole('button', { name: 'Do this step' }).click();
  await expect(page.locator('#step-title')).toHaveText('Initialize token e2e-c');
  await page.getByLabel('Confirmation word: type INITIALIZE').fill('INITIALIZE');
  await page.getByRole('button', { name: 'INITIALIZE' }).click();
  await doStep(page, 'Set the user PIN');
  await doStep(page, 'Create the audit key');
  await doStep(page, 'Start the transcript');
  await doStep(page, 'Enrol the custodians');
  await expect(page.locator('#step-title')).toHaveText('Witnesses sign off');
  await page.getByLabel('Dana: type your name to sign').fill('Dana');
  await page.getByRole('button', { name: 'Do this step' }).click();
  await expect(page.locator('#step-title')).toHaveText('Custodians approve and seal the transcript');
  await presentShares(page, harness, ['bob', 'alice'], stick);
  mkdirSync(stick('bundle3'));
  await exportTranscriptBundle(page, harness, stick('bundle3'));
  await expect(page.getByTestId('ceremony-status')).toContainText('Ceremony completed.');
  // No share was handed out: each stick still holds only its custodian's one share file.
  for (const name of CUSTODIANS) expect(readdirSync(stick(name))).toEqual([`${name}.share`]);
  const [bundle] = readdirSync(stick('bundle3'));
  const report = await verifyBundles([join(stick('bundle3'), bundle!)]);
  expect(report.firstFailure).toBeNull();
  expect(report.ok).toBe(true);
});
