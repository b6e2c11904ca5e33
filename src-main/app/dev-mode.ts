// `electron-vite dev` builds main in mode "development" and `electron-vite build` in "production"; Vite
// replaces import.meta.env.DEV by a literal at build time. A production build therefore carries `false`
// here, and no environment variable can turn DevTools or a dev-server renderer on in it.
export const DEV_BUILD: boolean = import.meta.env.DEV === true;

/** The Vite dev server electron-vite started (ELECTRON_RENDERER_URL), honoured only in a dev build. */
export function devServerUrl(env: NodeJS.ProcessEnv = process.env, dev: boolean = DEV_BUILD): string | undefined {
  return dev ? env.ELECTRON_RENDERER_URL : undefined;
}

/** DevTools only in `npm run dev`, and even there KEYCEREMONY_NO_DEVTOOLS turns them off. */
export function devToolsAllowed(env: NodeJS.ProcessEnv = process.env, dev: boolean = DEV_BUILD): boolean {
  return dev && !env.KEYCEREMONY_NO_DEVTOOLS;
}
