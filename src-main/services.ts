// The composition root shared by the Electron app, the CLI and the e2e harness: one token layer, the
// settings, the air-gap monitor, and the handlers that implement the IPC contract on top of them.
import type { TokenLayer } from '../hsm/token.js';
import type { Handlers } from './ipc/dispatch.js';
import { AirGapMonitor } from './airgap/airgap.js';
import { SettingsStore } from './settings/settings-store.js';
import { takeInventory, type CapabilityProbe } from './tokens/inventory.js';
import { createDemoToken } from './tokens/demo-token.js';
import { SerialQueue } from './util/serial-queue.js';
import { Selections } from './files/selections.js';
import { verifyBundles } from './transcript/verify.js';
import { verifyView } from './transcript-view.js';
import { ceremonyHandlers } from './ceremony-handlers.js';
import { CeremonyService } from './ceremony/engine/service.js';
import { importIntoChain } from './chains/import-into-chain.js';

export interface Dialogs {
  /** Ask the user for a PKCS#11 library file; null when they cancel. */
  chooseModuleFile(): Promise<string | null>;
  /** Ask the user for one or more transcript bundle folders; null when they cancel. */
  chooseBundleFolders(): Promise<string[] | null>;
  /** Ask for a folder to write into (a custodian's USB stick, the bundle destination); null when cancelled. */
  chooseFolder(purpose: 'share-destination' | 'bundle-destination' | 'key-destination' | 'import-parameters'): Promise<string | null>;
  /** Ask for a custodian's share file; null when cancelled. */
  chooseShareFile(): Promise<string | null>;
  /** Ask for the KMS import parameters file (AWS CLI JSON, console zip, key or token file); null when cancelled. */
  chooseImportParametersFile(): Promise<string | null>;
}

export interface ServiceOptions {
  appDataDir: string;
  layer: TokenLayer;
  probe: CapabilityProbe;
  dialogs: Dialogs;
  settings?: SettingsStore;
  airGap?: AirGapMonitor;
  appVersion: string;
  softHsmConf?: string;
  /** Where the shipped ceremony scripts are; without it the ceremony methods answer 'unavailable'. */
  scriptsDir?: string;
}

export interface Services {
  handlers: Handlers;
  airGap: AirGapMonitor;
  settings: SettingsStore;
  /** Load the modules the settings name; called at start and after every change to the list. */
  reloadModules(): Promise<void>;
  close(): Promise<void>;
}

export function createServices(options: ServiceOptions): Services {
  const { layer, probe, dialogs } = options;
  const settings = options.settings ?? new SettingsStore(options.appDataDir);
  const airGap = options.airGap ?? new AirGapMonitor();

  const tokens = new SerialQueue();
  const selections = new Selections();
  const ceremonies = options.scriptsDir
    ? new CeremonyService({ layer, dataDir: options.appDataDir, airGap: () => airGap.current(), appVersion: options.appVersion, scriptsDir: options.scriptsDir })
    : undefined;

  const reloadModules = async (): Promise<void> => {
    await tokens.run(() => layer.configureModules(settings.modules()));
  };
  const settingsView = () => settings.modules().map((m) => ({ path: m.path, source: m.source ?? 'user', ...(m.initParameters === undefined ? {} : { initParameters: m.initParameters }) }));

  const handlers: Handlers = {
    getAppInfo: () => ({
      name: 'Key Ceremony',
      version: options.appVersion,
      platform: `${process.platform}-${process.arch}`,
      ...(options.softHsmConf ? { softHsmConf: options.softHsmConf } : {}),
    }),
    getInventory: () => tokens.run(() => takeInventory(layer, probe, { dataDir: options.appDataDir })),
    getAirGapStatus: () => airGap.current(),
    listModuleSettings: () => settingsView(),
    addModule: async ({ path, initParameters }) => {
      settings.addModule(path, initParameters);
      await reloadModules();
      return settingsView();
    },
    removeModule: async ({ path }) => {
      settings.removeModule(path);
      await reloadModules();
      return settingsView();
    },
    chooseModuleFile: async () => ({ path: await dialogs.chooseModuleFile() }),
    createDemoToken: () => tokens.run(() => createDemoToken(layer)),
    chooseBundleFolders: async () => {
      const folders = await dialogs.chooseBundleFolders();
      if (!folders || folders.length === 0) return { selection: null };
      return { selection: { id: selections.add('bundle-folders', folders), folders } };
    },
    verifyBundles: async ({ selectionId }) => verifyView(await verifyBundles(selections.get('bundle-folders', selectionId))),
    importBundles: async ({ selectionId }) => {
      const r = await importIntoChain(options.appDataDir, selections.get('bundle-folders', selectionId));
      return { chain: r.chain, imported: r.imported, alreadyHeld: r.alreadyHeld, head: r.head ? { seq: r.head.seq, hash: r.head.hash } : null };
    },
    ...ceremonyHandlers(selections, dialogs, ceremonies, tokens, (path) => settings.modules().some((m) => m.path === path)),
  };

  return {
    handlers,
    airGap,
    settings,
    reloadModules,
    close: async () => {
      airGap.stop();
      await tokens.run(() => layer.close());
    },
  };
}
