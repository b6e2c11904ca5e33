// YubiHSM 2 entries in the module list: yubihsm:usb and a loopback yubihsm-connector URL are kept (in one
// canonical spelling); anything else is refused naming the field and what to give instead.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SettingsStore } from '../../src-main/settings/settings-store.js';
import { normalizeYubiHsmEntry } from '../../src-main/settings/yubihsm-module.js';
import { FileLabelMemory } from '../../src-main/tokens/yubihsm-labels.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-yubihsm-settings-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('YubiHSM module entries', () => {
  it('keeps yubihsm:usb and a loopback connector, canonically spelled, after the defaults', () => {
    const store = new SettingsStore(dir, () => []);
    store.addModule('yubihsm:USB');
    store.addModule(' yubihsm:http://localhost:12345 ');
    expect(store.modules()).toEqual([
      { path: 'yubihsm:usb', source: 'user' },
      { path: 'yubihsm:http://127.0.0.1:12345', source: 'user' },
    ]);
    expect(JSON.parse(readFileSync(store.file, 'utf8')).modules).toEqual([{ path: 'yubihsm:usb' }, { path: 'yubihsm:http://127.0.0.1:12345' }]);
    expect(() => store.addModule('yubihsm:http://127.0.0.1:12345')).toThrow('path: yubihsm:http://127.0.0.1:12345 is already in the module list.');
    store.removeModule('yubihsm:usb');
    expect(store.modules().map((m) => m.path)).toEqual(['yubihsm:http://127.0.0.1:12345']);
  });

  const refused: [string, string | undefined, string][] = [
    ['yubihsm:http://192.168.1.20:12345', undefined, 'path (connector URL): The YubiHSM connector address "http://192.168.1.20:12345" was refused: 192.168.1.20 is not this computer.'],
    ['yubihsm:https://127.0.0.1:12345', undefined, 'path (connector URL): The YubiHSM connector address "https://127.0.0.1:12345" was refused: only http:// is spoken to a local connector, not https://.'],
    ['yubihsm:http://127.0.0.1:12345/connector/api', undefined, 'give the connector address only (scheme, host, port)'],
    ['yubihsm:http://user:pw@127.0.0.1:1', undefined, 'it carries credentials'],
    ['yubihsm:serial=123', undefined, 'path: "yubihsm:serial=123" is neither yubihsm:usb nor yubihsm:http://HOST:PORT.'],
    ['yubihsm:usb', 'flags=', 'initParameters: a YubiHSM 2 entry takes no init parameters'],
  ];
  for (const [path, params, message] of refused) {
    it(`refuses ${path}${params ? ` with init parameters` : ''}, naming the field`, () => {
      const store = new SettingsStore(dir, () => []);
      let error: (Error & { code?: string; remedy?: string }) | undefined;
      try {
        store.addModule(path, params);
      } catch (e) {
        error = e as Error & { code?: string; remedy?: string };
      }
      expect(error?.code).toBe('MODULE_PATH_INVALID');
      expect(error?.message).toContain(message);
      expect(error?.remedy).toMatch(/yubihsm:usb|Leave the init parameters empty/);
      expect(store.modules()).toEqual([]);
    });
  }

  it('normalizes IPv6 loopback', () => {
    expect(normalizeYubiHsmEntry('yubihsm:http://[::1]:8080')).toBe('yubihsm:http://[::1]:8080');
  });
});

describe('FileLabelMemory', () => {
  it('remembers labels by serial across instances and ignores a damaged file', async () => {
    const a = new FileLabelMemory(dir);
    expect(a.recall('123')).toBeUndefined();
    a.remember('123', 'root-A');
    a.remember('456', '');
    expect(new FileLabelMemory(dir).recall('123')).toBe('root-A');
    expect(new FileLabelMemory(dir).recall('456')).toBe('');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(a.file, '{"version":1,"labels":{"x":1}}');
    expect(new FileLabelMemory(dir).recall('123')).toBeUndefined();
  });
});
