import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CONTENT_SECURITY_POLICY, isAllowedRequest } from '../../src-main/app/security-policy.js';

describe('content security policy', () => {
  it('allows no remote origin, no eval and no inline code', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("connect-src 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-(eval|inline)|https?:|\*/);
  });

  it('is the same policy in index.html (pages from the dev server carry it only there)', () => {
    const html = readFileSync('src-renderer/index.html', 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    const directives = (p: string) => new Set(p.split(';').map((d) => d.trim()).filter((d) => d && !d.startsWith('frame-ancestors')));
    expect(meta).toBeDefined();
    expect(directives(meta!)).toEqual(directives(CONTENT_SECURITY_POLICY));
  });

  it.each([
    ['app://keyceremony/index.html', undefined, true],
    ['app://keyceremony/assets/index-Ab12.js', undefined, true],
    // 'self' must mean the app's own files: file:// (any file on the disk) is no longer the renderer's origin.
    ['file:///opt/keyceremony/out/renderer/index.html', undefined, false],
    ['file:///etc/passwd', undefined, false],
    ['app://keyceremony.evil/index.html', undefined, false],
    ['app://other/index.html', undefined, false],
    ['devtools://devtools/bundled/inspector.html', undefined, false],
    ['devtools://devtools/bundled/inspector.html', 'http://127.0.0.1:5173', true],
    ['https://example.com/x.js', undefined, false],
    ['http://127.0.0.1:5173/src/main.ts', undefined, false],
    ['http://127.0.0.1:5173/src/main.ts', 'http://127.0.0.1:5173', true],
    ['ws://127.0.0.1:5173/', 'http://127.0.0.1:5173', true],
    ['http://169.254.169.254/latest/meta-data', 'http://127.0.0.1:5173', false],
    ['http://127.0.0.1:51730/x', 'http://127.0.0.1:5173', false],
  ])('request %s (dev server %s) allowed: %s', (url, dev, allowed) => {
    expect(isAllowedRequest(url, dev)).toBe(allowed);
  });
});
