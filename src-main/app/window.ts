import { BrowserWindow } from 'electron';
import { APP_INDEX_URL } from './app-protocol.js';
import { devToolsAllowed } from './dev-mode.js';

export function createMainWindow(preloadPath: string): BrowserWindow {
  return new BrowserWindow({
    width: 1280,
    height: 860,
    minWidth: 800,
    minHeight: 600,
    title: 'Key Ceremony',
    backgroundColor: '#101418',
    show: false,
    webPreferences: {
      preload: preloadPath,
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      spellcheck: false,
      // Middle-click would otherwise open links in a new window (the window-open handler denies it too).
      disableBlinkFeatures: 'Auxclick',
      devTools: devToolsAllowed(),
    },
  });
}

/** The page the window loads: the dev server in `npm run dev`, else the built renderer under app://. */
export function rendererUrl(devServerUrl: string | undefined): string {
  return devServerUrl ?? APP_INDEX_URL;
}
