// The sender check every IPC handler runs first: only our own window's main frame, showing our own
// renderer, may call the main process. Subframes, other windows and navigated-away pages are refused.
import type { IpcMainInvokeEvent, WebContents } from 'electron';

type SenderEvent = Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>;

export function isTrustedSender(event: SenderEvent, window: Pick<WebContents, 'mainFrame'> | undefined, rendererUrl: string): boolean {
  const frame = event.senderFrame;
  if (!window || (event.sender as unknown) !== window || !frame || frame !== window.mainFrame) return false;
  // Compare without query and fragment; a dev-server URL ends in '/', so anything under it is ours.
  const url = frame.url.split('#')[0]?.split('?')[0] ?? '';
  return url === rendererUrl || (rendererUrl.endsWith('/') && url.startsWith(rendererUrl));
}

