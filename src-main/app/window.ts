import { BrowserWindow } from 'electron';
import { join } from 'node:path';

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
      devTools: !process.env.KEYCEREMONY_NO_DEVTOOLS,
    },
  });
}

export function rendererLocation(outDir: string, devServerUrl: string | undefined): { url: string; file?: string } {
  if (devServerUrl) return { url: devServerUrl };
  const file = join(outDir, '../renderer/index.html');
  return { url: `file://${file}`, file };
}
