// The composition root shared by the Electron app, the CLI and the e2e harness: one token layer, the
// settings, the air-gap monitor, and the handlers that implement the IPC contract on top of them.
import type { TokenLayer } from '../hsm/token.js';
import { AppError } from './errors.js';
import type { Handlers } from './ipc/dispatch.js';
import { AirGapMonitor } from './airgap/airgap.js';
import { SettingsStore } from './settings/settings-store.js';
import { takeInventory, type CapabilityProbe } from './tokens/inventory.js';
import { createDemoToken } from './tokens/demo-token.js';
import { SerialQueue } from './util/serial-queue.js';
import { Selections } from './files/selections.js';
import { ModuleIds } from './settings/module-ids.js';
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
  chooseFolder(purpose: 'share-destination' | 'bundle-destination' | 'key-destination' | 'backup-destination' | 'key-backup' | 'import-parameters'): Promise<string | null>;
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

  // The renderer sees modules only by opaque ids (module-ids.ts); main turns them back into paths.
  const moduleIds = new ModuleIds();
  const isListed = (path: string) => settings.modules().some((m) => m.path === path);
  const modulePath = (id: string, field: string) => moduleIds.pathFor(id, isListed, field);

  const reloadModules = async (): Promise<void> => {
    await tokens.run(() => layer.configureModules(settings.modules()));
  };
  const settingsView = () =>
    settings.modules().map((m) => ({ id: moduleIds.idFor(m.path), path: m.path, source: m.source ?? 'user', ...(m.initParameters === undefined ? {} : { initParameters: m.initParameters }) }));
  const changeModules = async (change: () => void) => {
    change();
    await reloadModules();
    return settingsView();
  };

  const handlers: Handlers = {
    getAppInfo: () => ({
      name: 'Key Ceremony',
      version: options.appVersion,
      platform: `${process.platform}-${process.arch}`,
      ...(options.softHsmConf ? { softHsmConf: options.softHsmConf } : {}),
    }),
    getInventory: async () => {
      const inventory = await tokens.run(() => takeInventory(layer, probe, { dataDir: options.appDataDir }));
      return {
        ...inventory,
        modules: inventory.modules.map((m) => ({ ...m, id: moduleIds.idFor(m.id) })),
        slots: inventory.slots.map((slot) => ({ ...slot, moduleId: moduleIds.idFor(slot.moduleId) })),
      };
    },
    getAirGapStatus: () => airGap.current(),
    listModuleSettings: () => settingsView(),
    // Only a library chosen in main's dialog for this purpose; never a path the renderer typed.
    addModule: ({ selectionId, initParameters }) =>
      changeModules(() => {
        const [path] = selections.get('module-file', selectionId);
        settings.addModule(path!, initParameters);
      }),
    // A YubiHSM 2 loads no library: main builds the entry and checks the connector is on loopback.
    addYubiHsm: (request) =>
      changeModules(() => {
        if (request.via === 'usb') return settings.addModule('yubihsm:usb');
        const url = request.url.trim();
        if (!/^http:\/\//i.test(url)) throw new AppError('MODULE_PATH_INVALID', `url: "${url}" is not a connector address (http://127.0.0.1:PORT).`, 'Give the address of the yubihsm-connector on this computer, e.g. http://127.0.0.1:12345.');
        settings.addModule(`yubihsm:${url}`);
      }),
    removeModule: ({ moduleId }) => changeModules(() => settings.removeModule(modulePath(moduleId, 'moduleId'))),
    chooseModuleFile: async () => {
      const file = await dialogs.chooseModuleFile();
      return { selection: file ? { id: selections.add('module-file', [file]), file } : null };
    },
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
    ...ceremonyHandlers(selections, dialogs, ceremonies, tokens, modulePath),
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
