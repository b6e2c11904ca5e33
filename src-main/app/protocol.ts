// Electron glue for app://keyceremony/: the scheme is privileged before the app is ready (standard and
// secure, so the page is a secure context with its own origin), and every request is answered by
// appResponse from the built renderer folder only.
import { protocol } from 'electron';
import { APP_SCHEME, appResponse } from './app-protocol.js';

export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

export function serveRenderer(rendererDir: string): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const r = await appResponse(request.url, rendererDir);
    return new Response(r.body ? new Uint8Array(r.body) : null, { status: r.status, headers: r.headers });
  });
}
