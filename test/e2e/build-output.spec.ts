// What `electron-vite build` wrote, checked after the build (npm test builds before the e2e tier): the
// production main bundle has the dev switch compiled to false, so no environment variable turns DevTools on.
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';

test('the built main bundle has the dev switch compiled to false', () => {
  const bundle = readFileSync('out/main/index.js', 'utf8');
  expect(bundle).toMatch(/function devToolsAllowed\(env = process\.env, dev = false\)/);
  expect(bundle).not.toContain('import.meta.env');
});
