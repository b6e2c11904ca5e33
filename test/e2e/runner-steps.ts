// What the e2e specs do in the ceremony runner the same way whatever the ceremony: press a step's button,
// hand out the custodians' shares one at a time, list what the app wrote. One copy, used by every spec.
import { expect, type Page } from '@playwright/test';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Harness } from './harness.js';

export const CUSTODIANS = ['alice', 'bob', 'carol'];
export const PASSPHRASE: Record<string, string> = { alice: 'alice correct horse', bob: 'bob battery staple', carol: 'carol tr0ub4dor &3' };

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The current step is `title`: do it. */
export async function doStep(page: Page, title: RegExp | string) {
  await expect(page.locator('#step-title')).toHaveText(title);
  await page.getByRole('button', { name: 'Do this step' }).click();
}

/** Hand out each custodian's share at the laptop (their own stick, their passphrase) and hide it again. */
export async function handOutShares(page: Page, harness: Harness, names: string[], folder: (name: string) => string, title = 'Hand out the shares') {
  for (const name of names) {
    await expect(page.locator('#step-title')).toHaveText(title);
    await page.getByLabel('Custodian at the laptop').selectOption(name);
    harness.nextDialogAnswer.folder = folder(name);
    await page.getByRole('button', { name: 'Choose USB stick…' }).click();
    await page.getByLabel('Passphrase (at least 12 characters; typed by the custodian)').fill(PASSPHRASE[name] ?? `${name} passphrase 12`);
    await page.getByLabel('Passphrase again').fill(PASSPHRASE[name] ?? `${name} passphrase 12`);
    await page.getByRole('button', { name: 'Do this step' }).click();
    await expect(page.getByTestId('share-reveal')).toContainText(`Share of ${name}`, { timeout: 30_000 });
    await page.getByRole('button', { name: 'Done, hide my share' }).click();
  }
}

/** A quorum step: each named custodian chooses their share file on their stick and types their passphrase. */
export async function presentShares(page: Page, harness: Harness, names: string[], folder: (name: string) => string) {
  for (const name of names) {
    harness.nextDialogAnswer.shareFile = join(folder(name), `${name}.share`);
    await page.getByRole('button', { name: 'Choose share file…' }).click();
    await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE[name] ?? `${name} passphrase 12`);
    await page.getByRole('button', { name: 'Add my approval' }).click();
  }
}

/** kms-import from its generate step to the sign-off: generate (typed word), wrap, write the import bundle to `stick`. */
export async function generateWrapAndWrite(page: Page, harness: Harness, stick: string) {
  await expect(page.locator('#step-title')).toHaveText('Generate the key material in the token');
  await page.getByLabel('Confirmation word: type GENERATE').fill('GENERATE');
  await page.getByRole('button', { name: 'GENERATE' }).click();
  await doStep(page, 'Wrap the key in the token');
  await expect(page.locator('#step-title')).toHaveText('Write the import bundle to the USB stick');
  harness.nextDialogAnswer.folder = stick;
  await page.getByRole('button', { name: 'Choose USB stick…' }).click();
  await page.getByRole('button', { name: 'Do this step' }).click();
  await expect(page.locator('#step-title')).toHaveText('Witnesses sign off');
}

/** The export step: the transcript bundle goes to `folder`. */
export async function exportTranscriptBundle(page: Page, harness: Harness, folder: string) {
  await expect(page.locator('#step-title')).toHaveText('Export the transcript bundle');
  harness.nextDialogAnswer.folder = folder;
  await page.getByRole('button', { name: 'Choose destination…' }).click();
  await page.getByRole('button', { name: 'Do this step' }).click();
}
