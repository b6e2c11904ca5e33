import { describe, expect, it } from 'vitest';
import { isTrustedSender } from '../../src-main/app/sender.js';

const RENDERER = 'app://keyceremony/index.html';
const mainFrame = { url: `${RENDERER}#home` };
const window = { mainFrame } as never;
const event = (sender: unknown, senderFrame: unknown) => ({ sender, senderFrame }) as never;

describe('IPC sender check', () => {
  it('accepts our window main frame showing our renderer', () => {
    expect(isTrustedSender(event(window, mainFrame), window, RENDERER)).toBe(true);
  });

  it.each([
    ['another window', event({ mainFrame }, mainFrame)],
    ['a subframe of our window', event(window, { url: RENDERER })],
    ['a missing frame (destroyed)', event(window, null)],
  ])('refuses %s', (_what, e) => {
    expect(isTrustedSender(e, window, RENDERER)).toBe(false);
  });

  it('refuses our window once it shows another page', () => {
    const navigated = { url: 'https://example.com/index.html' };
    const w = { mainFrame: navigated } as never;
    expect(isTrustedSender(event(w, navigated), w, RENDERER)).toBe(false);
    const sibling = { url: 'app://keyceremony/index.html.evil' };
    const w2 = { mainFrame: sibling } as never;
    expect(isTrustedSender(event(w2, sibling), w2, RENDERER)).toBe(false);
  });

  it('refuses everything when there is no window', () => {
    expect(isTrustedSender(event(window, mainFrame), undefined, RENDERER)).toBe(false);
  });

  it('accepts pages under the dev server only when the renderer URL is a directory', () => {
    const dev = 'http://localhost:5173/';
    const frame = { url: 'http://localhost:5173/index.html' };
    const w = { mainFrame: frame } as never;
    expect(isTrustedSender(event(w, frame), w, dev)).toBe(true);
  });
});
