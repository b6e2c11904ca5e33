// Every ipcMain registration goes through here: the sender must be our window's main frame showing our
// own renderer, and the payload then takes the contract's dispatch path.
import { ipcMain, type WebContents } from 'electron';
import { isTrustedSender } from './sender.js';
import { METHOD_NAMES, channelFor } from '../../src-preload/contract.js';
import { dispatch, type Handlers } from '../ipc/dispatch.js';

export function registerIpc(handlers: Handlers, window: () => WebContents | undefined, rendererUrl: string): void {
  for (const method of METHOD_NAMES) {
    ipcMain.handle(channelFor(method), async (event, payload: unknown) => {
      if (!isTrustedSender(event, window(), rendererUrl)) {
        return { ok: false, error: { code: 'SENDER_REJECTED', message: `${method}: the request did not come from the Key Ceremony window.` } };
      }
      return dispatch(handlers, method, payload);
    });
  }
}
