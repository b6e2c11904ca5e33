// The same home screen in the real Electron app, where an Electron binary exists. On machines where it
// cannot be downloaded (ELECTRON_SKIP_BINARY_DOWNLOAD), the test says so and does not run.
import { test, expect, _electron as electron } from '@playwright/test';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { APP_INDEX_URL } from '../../src-main/app/app-protocol.js';

function electronBinary(): { path?: string; why?: string } {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown as string;
    if (typeof path === 'string' && existsSync(path)) return { path };
    return { why: `the Electron binary is not installed (${String(path)} missing; installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1?)` };
  } catch (error) {
    return { why: `the electron package does not resolve a binary here: ${(error as Error).message.split('\n')[0]}` };
  }
}

test('the packaged window opens sandboxed from app://keyceremony/ and shows the home screen', async () => {
  const binary = electronBinary();
  if (!binary.path) console.log(`electron.spec: not run: ${binary.why}`);
  test.skip(!binary.path, `needs a real Electron binary: ${binary.why}`);
  const app = await electron.launch({ executablePath: binary.path, args: [resolve('out/main/index.js')] });
  try {
    const window = await app.firstWindow();
    await expect(window.getByRole('heading', { name: 'Key Ceremony' })).toBeVisible();
    // The renderer comes from the app's own scheme (src-main/app/app-protocol.ts), never from file://.
    expect(window.url()).toBe(APP_INDEX_URL);
    // Sandboxed, isolated, no Node: the page sees neither require nor process, only the contract's methods.
    const seen = await window.evaluate(() => ({
      require: typeof (globalThis as { require?: unknown }).require,
      process: typeof (globalThis as { process?: unknown }).process,
      api: Object.keys((globalThis as unknown as { keyceremony: object }).keyceremony).sort(),
    }));
    expect(seen.require).toBe('undefined');
    expect(seen.process).toBe('undefined');
    expect(seen.api).toContain('getInventory');
  } finally {
    await app.close();
  }
});
