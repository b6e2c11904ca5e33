// DevTools and a dev-server renderer exist only in a dev build (`npm run dev`); in a production build no
// environment variable turns them on. The built bundle is checked after the build, in test/e2e/build-output.spec.ts.
import { describe, expect, it } from 'vitest';
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
});
