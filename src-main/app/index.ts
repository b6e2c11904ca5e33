// Electron entry. Thin on purpose: everything testable lives in services.ts and below; this file only
// wires Electron's objects to it.
import { app, BrowserWindow, dialog } from 'electron';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import { createServices, type Services } from '../services.js';
import { ensureSoftHsmConf } from '../tokens/demo-token.js';
import { HostTokenLayer } from '../hsm-host/host-token-layer.js';
import { defaultDataDir } from '../data-dir.js';
import { hardenApp, hardenSession } from './security.js';
import { registerIpc } from './ipc.js';
import { createMainWindow, rendererUrl } from './window.js';
import { registerAppScheme, serveRenderer } from './protocol.js';
import { devServerUrl as devServer } from './dev-mode.js';

const here = dirname(fileURLToPath(import.meta.url));
// Only a dev build (`npm run dev`) loads the Vite dev server; a production build ignores the variable.
const devServerUrl = devServer();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  let window: BrowserWindow | undefined;
  let services: Services | undefined;

  app.on('second-instance', () => {
    if (window) {
      if (window.isMinimized()) window.restore();
      window.focus();
    }
  });

  hardenApp();
  // Before ready, as Electron requires: app://keyceremony/ serves the built renderer (see app-protocol.ts).
  registerAppScheme();

  app.whenReady().then(async () => {
    hardenSession(devServerUrl);
    // The same data directory as the CLI, so both see the same transcripts and tokens.
    const appDataDir = defaultDataDir();
    const softHsmConf = ensureSoftHsmConf(appDataDir);
    services = createServices({
      appDataDir,
      // PKCS#11 modules and YubiHSM 2 entries side by side (createTokenLayer), in the token host process
      // (out/main/hsm-host.js): a vendor module that crashes ends that process, not the app.
      layer: new HostTokenLayer({ dataDir: appDataDir }),
      probe: probeKmsCapabilities,
      appVersion: app.getVersion(),
      softHsmConf,
      // Shipped next to out/: the scripts are data the transcript hashes, not code to bundle.
      scriptsDir: join(here, '../../ceremonies'),
      dialogs: {
        chooseModuleFile: async () => {
          const options = { title: 'Choose a PKCS#11 library', properties: ['openFile' as const], filters: [{ name: 'PKCS#11 library', extensions: ['so', 'dylib', 'dll'] }] };
          const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
          return result.canceled ? null : (result.filePaths[0] ?? null);
        },
        chooseBundleFolders: async () => {
          const options = { title: 'Choose transcript bundle folders', properties: ['openDirectory' as const, 'multiSelections' as const] };
          const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
          return result.canceled ? null : result.filePaths;
        },
        chooseFolder: async (purpose) => {
          const titles = {
            'share-destination': "Choose the custodian's USB stick",
            'bundle-destination': 'Choose where to write the transcript bundle',
            'key-destination': 'Choose the USB stick for the wrapped key material',
            'backup-destination': 'Choose the USB stick for the key backup',
            'key-backup': 'Choose the key backup folder to restore',
            'import-parameters': 'Choose the folder holding the KMS import parameters',
          } as const;
          const title = titles[purpose];
          const options = { title, properties: ['openDirectory' as const, 'createDirectory' as const] };
          const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
          return result.canceled ? null : (result.filePaths[0] ?? null);
        },
        chooseImportParametersFile: async () => {
          const options = {
            title: 'Choose the KMS import parameters',
            properties: ['openFile' as const],
            filters: [{ name: 'AWS import parameters', extensions: ['json', 'zip', 'bin', 'pem', 'b64', 'txt'] }, { name: 'All files', extensions: ['*'] }],
          };
          const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
          return result.canceled ? null : (result.filePaths[0] ?? null);
        },
        chooseShareFile: async () => {
          const options = { title: 'Choose your share file', properties: ['openFile' as const], filters: [{ name: 'Key Ceremony share', extensions: ['share'] }] };
          const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
          return result.canceled ? null : (result.filePaths[0] ?? null);
        },
      },
    });
    try {
      await services.reloadModules();
    } catch (error) {
      // The window still opens; the home screen shows the settings error through listModuleSettings.
      console.error('Loading the PKCS#11 modules failed:', error);
    }
    services.airGap.start();

    serveRenderer(join(here, '../renderer'));
    const url = rendererUrl(devServerUrl);
    registerIpc(services.handlers, () => window?.webContents, devServerUrl ? new URL('/', url).href : url);
    window = createMainWindow(join(here, '../preload/index.cjs'));
    window.once('ready-to-show', () => window?.show());
    window.on('closed', () => {
      window = undefined;
    });
    await window.loadURL(url);
  });

  app.on('window-all-closed', () => {
    app.quit();
  });

  app.on('will-quit', () => {
    void services?.close();
  });
}
