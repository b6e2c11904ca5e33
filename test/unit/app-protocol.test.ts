// app://keyceremony/ serves the built renderer and nothing else: traversal (plain, encoded, double-encoded,
// backslash), other hosts and schemes, unknown kinds of file and links out of the folder are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP_INDEX_URL, appResponse, resolveAppRequest } from '../../src-main/app/app-protocol.js';
import { CONTENT_SECURITY_POLICY } from '../../src-main/app/security-policy.js';

const ROOT = '/opt/kc/out/renderer';

describe('resolveAppRequest', () => {
  it.each([
    ['app://keyceremony/', `${ROOT}/index.html`, 'text/html; charset=utf-8'],
    [APP_INDEX_URL, `${ROOT}/index.html`, 'text/html; charset=utf-8'],
    ['app://keyceremony/assets/index-Ab12.js', `${ROOT}/assets/index-Ab12.js`, 'text/javascript; charset=utf-8'],
    ['app://keyceremony/assets/index-Ab12.css', `${ROOT}/assets/index-Ab12.css`, 'text/css; charset=utf-8'],
    ['app://keyceremony/assets/logo.SVG', `${ROOT}/assets/logo.SVG`, 'image/svg+xml'],
    ['app://keyceremony/assets/a%20b.png', `${ROOT}/assets/a b.png`, 'image/png'],
    ['app://keyceremony/index.html#home', `${ROOT}/index.html`, 'text/html; charset=utf-8'],
  ])('%s is %s as %s', (url, file, mime) => {
    expect(resolveAppRequest(url, ROOT)).toEqual({ ok: true, file, mime });
  });

  it.each([
    ['app://keyceremony/assets/..%2f..%2fsecret.js', 403],
    ['app://keyceremony/assets/..%5c..%5csecret.js', 403],
    ['app://keyceremony/..\\..\\secret.js', 403],
    ['app://keyceremony/assets//x.js', 403],
    ['app://keyceremony/x.js%00.png', 403],
    ['app://keyceremony/%E0%A4%A.js', 403],
    ['app://evil/index.html', 403],
    ['app://user:pw@keyceremony/index.html', 403],
    ['file:///opt/kc/out/renderer/index.html', 403],
    ['https://keyceremony/index.html', 403],
    ['not a url', 403],
    ['app://keyceremony/settings.json.bak', 404],
    ['app://keyceremony/assets/native.node', 404],
    ['app://keyceremony/assets/', 403],
  ])('%s is refused with %i', (url, status) => {
    const r = resolveAppRequest(url, ROOT);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.status).toBe(status);
  });

  it('folds an encoded ".." at the root, as every URL parser does: the file stays inside the folder', () => {
    expect(resolveAppRequest('app://keyceremony/%2e%2e/%2e%2e/etc/passwd.js', ROOT)).toMatchObject({ ok: true, file: `${ROOT}/etc/passwd.js` });
  });

  it('keeps a double-encoded ".." as a literal name inside the folder (never a step up)', () => {
    // %252e decodes once to "%2e": a name below assets/, not a step up.
    expect(resolveAppRequest('app://keyceremony/assets/%252e%252e/x.js', ROOT)).toMatchObject({ ok: true, file: `${ROOT}/assets/%2e%2e/x.js` });
  });
});

describe('appResponse', () => {
  let dir: string;
  let root: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kc-app-protocol-'));
    root = join(dir, 'renderer');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>Key Ceremony</title>');
    writeFileSync(join(root, 'assets', 'main.js'), 'export {};');
    writeFileSync(join(dir, 'outside.js'), 'secret');
    symlinkSync(join(dir, 'outside.js'), join(root, 'assets', 'link.js'));
    mkdirSync(join(root, 'assets', 'folder.js'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves a file with its type, the CSP and nosniff', async () => {
    const r = await appResponse('app://keyceremony/assets/main.js', root);
    expect(r.status).toBe(200);
    expect(r.body?.toString()).toBe('export {};');
    expect(r.headers).toEqual({ 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff' });
    expect((await appResponse('app://keyceremony/', root)).body?.toString()).toContain('<title>Key Ceremony</title>');
  });

  it.each([
    ['an unknown file', 'app://keyceremony/assets/missing.js', 404],
    ['a link out of the folder', 'app://keyceremony/assets/link.js', 404],
    ['a folder', 'app://keyceremony/assets/folder.js', 404],
    ['an encoded climb to a real file (folded at the root, so not found inside)', 'app://keyceremony/%2e%2e/outside.js', 404],
    ['a double-encoded climb', 'app://keyceremony/assets/%252e%252e/%252e%252e/outside.js', 404],
  ])('refuses %s', async (_what, url, status) => {
    const r = await appResponse(url, root);
    expect(r.status).toBe(status);
    expect(r.body).toBeNull();
  });
});
