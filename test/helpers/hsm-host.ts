// The token host entry (src-main/hsm-host/host-main.ts) built the way electron-vite builds it for the app:
// one ES module, dependencies (pkcs11js, usb) left to node_modules. Tests fork this file through
// HostTokenLayer, so they exercise a real separate process rather than the source under vitest's loader.
import { join, resolve } from 'node:path';
import { build } from 'vite';

/** Build the host entry into its own folder under node_modules/.cache and return its path. */
export async function buildHsmHost(name: string): Promise<string> {
  const outDir = resolve(`node_modules/.cache/keyceremony-hsm-host-${name}`);
  await build({
    configFile: false,
    logLevel: 'silent',
    build: {
      ssr: resolve('src-main/hsm-host/host-main.ts'),
      outDir,
      emptyOutDir: true,
      target: 'node20',
      rollupOptions: { output: { entryFileNames: 'hsm-host.mjs', format: 'es' } },
    },
  });
  return join(outDir, 'hsm-host.mjs');
}
