// The renderer's own origin: the built files are served under app://keyceremony/ (app-protocol.ts), and
// the request filter and the IPC sender check (security-policy.ts, ipc.ts) accept only that.
export const APP_SCHEME = 'app';
export const APP_HOST = 'keyceremony';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;
