// Renderer benchmarks (issue 6 budget): the JavaScript shipped to the window, gzipped (budget 250 KB), and
// the time from navigation to an interactive home screen in the e2e harness, as a ratio against loading a
// static file from the same server in the same run. Printed, never asserted.
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { startHarness } from '../e2e/harness.js';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE } from '../helpers/softhsm.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function main(): Promise<void> {
  const assets = join('out', 'renderer', 'assets');
  const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
  // The baseline "blank page": a static file from the same server, no script, no IPC.
  const css = readdirSync(assets).find((f) => f.endsWith('.css'));
  const gz = js.reduce((sum, f) => sum + gzipSync(readFileSync(join(assets, f))).length, 0);
  console.log(`renderer JavaScript: ${js.length} file(s), ${(gz / 1024).toFixed(1)} KB gzipped (budget 250 KB: ${(gz / 1024 / 250).toFixed(2)} of it)`);

  const env = createSoftHsmEnv();
  initSoftHsmToken('bench', '87654321', '12345678');
  const appDataDir = mkdtempSync(join(tmpdir(), 'kc-bench-'));
  const harness = await startHarness({ appDataDir, defaultModules: [SOFTHSM_MODULE] });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const home: number[] = [];
    const blank: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      const page = await browser.newPage();
      await harness.attach(page);
      let t = performance.now();
      await page.goto(`${harness.url}assets/${css}`);
      blank.push(performance.now() - t);
      t = performance.now();
      await page.goto(harness.url);
      await page.locator('[data-testid="token-row"][data-label="bench"]').waitFor();
      home.push(performance.now() - t);
      await page.close();
    }
    console.log(
      `navigation to an interactive home screen (token listed): median ${median(home).toFixed(0)} ms; a static file from the same server: ${median(blank).toFixed(0)} ms; ratio ${(median(home) / median(blank)).toFixed(1)}x`,
    );
  } finally {
    await browser.close();
    await harness.close();
    env.cleanup();
    rmSync(appDataDir, { recursive: true, force: true });
  }
}
