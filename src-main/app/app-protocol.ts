// The renderer's files are served under app://keyceremony/ (a privileged, standard, secure scheme) and not
// from file://, so 'self' in the content security policy means the app's own files and nothing else on
// the disk. Electron-free: the app's protocol handler and the e2e harness's server both answer with this.
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { CONTENT_SECURITY_POLICY } from './security-policy.js';
import { APP_HOST, APP_SCHEME } from './app-origin.js';

export { APP_HOST, APP_INDEX_URL, APP_ORIGIN, APP_SCHEME } from './app-origin.js';

/** Only the kinds of file the built renderer holds; anything else is not served. */
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

export type AppRequest = { ok: true; file: string; mime: string } | { ok: false; status: 403 | 404; reason: string };

/**
 * The file under rootDir that an app:// URL names, or why it is refused. Pure: no file system access.
 * Refused: another scheme, host, user or port, an encoded slash or backslash, a NUL, any "." or ".." segment
 * (encoded or not), and extensions outside the list above.
 */
export function resolveAppRequest(url: string, rootDir: string): AppRequest {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, status: 403, reason: 'not a URL' };
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST || parsed.username || parsed.password || parsed.port) {
    return { ok: false, status: 403, reason: `not under ${APP_SCHEME}://${APP_HOST}/` };
  }
  // The URL parser already folded plain "/../"; what is left raw in the path is checked segment by segment
  // after decoding, so "%2e%2e" and "..%2f" cannot climb out either.
  const raw = parsed.pathname;
  if (/%2f|%5c|%00/i.test(raw) || raw.includes('\\')) return { ok: false, status: 403, reason: 'encoded separator in the path' };
  let segments: string[];
  try {
    segments = raw.split('/').slice(1).map((s) => decodeURIComponent(s));
  } catch {
    return { ok: false, status: 403, reason: 'badly encoded path' };
  }
  if (segments.length === 1 && segments[0] === '') segments = ['index.html'];
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0') || s.includes('/') || s.includes('\\'))) {
    return { ok: false, status: 403, reason: 'path leaves the renderer folder' };
  }
  const mime = MIME[extname(segments[segments.length - 1] ?? '').toLowerCase()];
  if (!mime) return { ok: false, status: 404, reason: 'not a kind of file the renderer serves' };
  return { ok: true, file: join(rootDir, ...segments), mime };
}

export interface AppResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | null;
}

/** The response for an app:// URL: the file with its type and the CSP, or a bare 403/404. */
export async function appResponse(url: string, rootDir: string): Promise<AppResponse> {
  const target = resolveAppRequest(url, rootDir);
  if (!target.ok) return { status: target.status, headers: {}, body: null };
  try {
    // A symbolic link inside the folder must not lead out of it.
    const [root, real] = await Promise.all([realpath(rootDir), realpath(target.file)]);
    if (!real.startsWith(root + sep) || !(await stat(real)).isFile()) return { status: 404, headers: {}, body: null };
    const body = await readFile(real);
    return { status: 200, headers: { 'Content-Type': target.mime, 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff' }, body };
  } catch {
    return { status: 404, headers: {}, body: null };
  }
}
