// Serves the built renderer from loopback and bridges the real main-process dispatch into the page, so the
// contract, payload validation, handlers and token layer under test are the app's own. Only Electron's
// sender check and file dialog are outside: the dialog is a main-process stand-in the test drives
// (test/helpers/dialog-stand-in.ts); the page only presses the buttons that open it.
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import type { NetworkInterfaceInfo } from 'node:os';
import type { Page } from '@playwright/test';
import { METHOD_NAMES } from '../../src-preload/contract.js';
import { dispatch, isMethodName } from '../../src-main/ipc/dispatch.js';
import { createServices, type Services } from '../../src-main/services.js';
import { AirGapMonitor } from '../../src-main/airgap/airgap.js';
import { SettingsStore } from '../../src-main/settings/settings-store.js';
import { APP_ORIGIN, appResponse } from '../../src-main/app/app-protocol.js';
import { HostTokenLayer } from '../../src-main/hsm-host/host-token-layer.js';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import { DialogStandIn, type DialogAnswers, type DialogShown } from '../helpers/dialog-stand-in.js';

const RENDERER_DIR = resolve('out/renderer');

export interface Harness {
  url: string;
  services: Services;
  /** What the stand-in for Electron's open dialogs (test/helpers/dialog-stand-in.ts) answers next, per kind of dialog. */
  nextDialogAnswer: DialogAnswers;
  /** Every dialog main opened, with its purpose, in order. */
  dialogsShown: DialogShown[];
  /** Replace the network-interface table the air-gap monitor reads. */
  interfaces: { table: NodeJS.Dict<NetworkInterfaceInfo[]> | undefined };
  /** Every answer the bridged IPC gave the page, in order, as the page received it (tests search them). */
  ipcResults: { method: string; result: unknown }[];
  /** The pid of the token host process now serving the app's token work (undefined before the first call). */
  tokenHostPid(): number | undefined;
  attach(page: Page): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(options: { appDataDir: string; defaultModules: string[]; airGapIntervalMs?: number; scriptsDir?: string }): Promise<Harness> {
  // The same request-to-file mapping as the app's app://keyceremony/ handler: the page under test is served
  // by the app's own code (types, CSP, traversal refused), only over loopback HTTP.
  const server: Server = createServer(async (req, res) => {
    const r = await appResponse(`${APP_ORIGIN}${req.url ?? '/'}`, RENDERER_DIR);
    res.writeHead(r.status, r.headers).end(r.body ?? undefined);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('harness server has no port');

  const dialogs = new DialogStandIn();
  const interfaces: Harness['interfaces'] = { table: undefined };
  const ipcResults: Harness['ipcResults'] = [];
  const { networkInterfaces } = await import('node:os');
  const airGap = new AirGapMonitor(() => interfaces.table ?? networkInterfaces(), options.airGapIntervalMs ?? 250);
  const hostLayer = new HostTokenLayer({ dataDir: options.appDataDir, entry: resolve('out/main/hsm-host.js') });
  const services = createServices({
    appDataDir: options.appDataDir,
    // As the app builds it: the tokens in the token host process. The harness runs from source, so it
    // names the host entry that `electron-vite build` (run before the suite) put beside out/main/index.js.
    layer: hostLayer,
    probe: probeKmsCapabilities,
    settings: new SettingsStore(options.appDataDir, () => options.defaultModules),
    airGap,
    appVersion: 'e2e',
    scriptsDir: options.scriptsDir ?? resolve('ceremonies'),
    dialogs,
  });
  await services.reloadModules();
  airGap.start();

  return {
    url: `http://127.0.0.1:${address.port}/`,
    services,
    nextDialogAnswer: dialogs.answers,
    dialogsShown: dialogs.shown,
    interfaces,
    ipcResults,
    tokenHostPid: () => hostLayer.hostPid,
    async attach(page: Page) {
      await page.exposeFunction('__keyceremonyInvoke', async (method: unknown, payload: unknown) => {
        const result = isMethodName(method) ? await dispatch(services.handlers, method, payload) : { ok: false, error: { code: 'UNKNOWN_METHOD', message: `No IPC method ${String(method)}.` } };
        ipcResults.push({ method: String(method), result });
        return result;
      });
      // The same shape preload exposes: one frozen function per contract method.
      await page.addInitScript((names: string[]) => {
        const invoke = (globalThis as unknown as { __keyceremonyInvoke: (m: string, p: unknown) => Promise<unknown> }).__keyceremonyInvoke;
        const api = Object.fromEntries(names.map((m) => [m, (request: unknown) => invoke(m, request ?? {})]));
        Object.defineProperty(globalThis, 'keyceremony', { value: Object.freeze(api), writable: false });
      }, METHOD_NAMES as string[]);
    },
    async close() {
      await services.close();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
