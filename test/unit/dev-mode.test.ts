// DevTools and a dev-server renderer exist only in a dev build (`npm run dev`); in a production build no
// environment variable turns them on. The build itself is checked too: its main bundle carries `false`.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { devServerUrl, devToolsAllowed } from '../../src-main/app/dev-mode.js';

describe('dev mode', () => {
  it('a production build ignores ELECTRON_RENDERER_URL and keeps DevTools off whatever the environment says', () => {
    expect(devServerUrl({ ELECTRON_RENDERER_URL: 'http://evil.example/' }, false)).toBeUndefined();
    expect(devToolsAllowed({}, false)).toBe(false);
    expect(devToolsAllowed({ KEYCEREMONY_NO_DEVTOOLS: '' }, false)).toBe(false);
  });

  it('a dev build uses the dev server and has DevTools unless KEYCEREMONY_NO_DEVTOOLS is set', () => {
    expect(devServerUrl({ ELECTRON_RENDERER_URL: 'http://localhost:5173' }, true)).toBe('http://localhost:5173');
    expect(devToolsAllowed({}, true)).toBe(true);
    expect(devToolsAllowed({ KEYCEREMONY_NO_DEVTOOLS: '1' }, true)).toBe(false);
  });

  it('the built main bundle (electron-vite build) has the dev switch compiled to false', (context) => {
    if (!existsSync('out/main/index.js')) {
      console.log('dev-mode.test: built bundle not checked: out/main/index.js is missing (run electron-vite build first)');
      context.skip();
    }
    const bundle = readFileSync('out/main/index.js', 'utf8');
    expect(bundle).toMatch(/function devToolsAllowed\(env = process\.env, dev = false\)/);
    expect(bundle).not.toContain('import.meta.env');
  });
});
