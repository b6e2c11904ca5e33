import { describe, expect, it } from 'vitest';
import { contract, METHOD_NAMES, channelFor } from '../../src-preload/contract.js';
import { dispatch, isMethodName, type Handlers } from '../../src-main/ipc/dispatch.js';
import { TokenError } from '../../hsm/errors.js';
import { AppError } from '../../src-main/errors.js';

const settings = [{ id: 'module-1', path: '/usr/lib/softhsm/libsofthsm2.so', source: 'default' as const }];
const SELECTION = '7b0c4f8e-2a61-4d3b-9c5e-1f2a3b4c5d6e';

function handlers(overrides: Partial<Handlers> = {}): Handlers {
  const fail = () => {
    throw new Error('not used in this test');
  };
  return {
    getAppInfo: () => ({ name: 'Key Ceremony', version: '0.0.0', platform: 'linux-x64' }),
    getInventory: fail,
    getAirGapStatus: () => ({ offline: true, interfaces: [], checkedAt: '2026-01-01T00:00:00.000Z' }),
    listModuleSettings: () => settings,
    addModule: () => settings,
    addYubiHsm: () => settings,
    removeModule: () => settings,
    chooseModuleFile: () => ({ selection: null }),
    createDemoToken: fail,
    chooseBundleFolders: () => ({ selection: null }),
    verifyBundles: fail,
    importBundles: fail,
    listCeremonyScripts: fail,
    listPastCeremonies: () => [],
    getPastCeremony: fail,
    startCeremony: fail,
    resumeCeremony: fail,
    abandonCeremony: fail,
    getCeremony: fail,
    performStep: fail,
    abortCeremony: fail,
    chooseFolder: fail,
    chooseShareFile: fail,
    chooseImportParametersFile: fail,
    listRemovableDrives: fail,
    ...overrides,
  };
}

describe('IPC contract', () => {
  it('declares every method once with a request and a response schema', () => {
    expect(METHOD_NAMES.length).toBe(Object.keys(contract).length);
    for (const m of METHOD_NAMES) {
      expect(contract[m].request).toBeDefined();
      expect(contract[m].response).toBeDefined();
      expect(channelFor(m)).toBe(`keyceremony:${m}`);
    }
  });

  it('knows its method names and nothing else', () => {
    expect(isMethodName('getInventory')).toBe(true);
    expect(isMethodName('constructor')).toBe(false);
    expect(isMethodName('__proto__')).toBe(false);
    expect(isMethodName(42)).toBe(false);
  });
});

describe('dispatch', () => {
  it('passes a valid request through and returns the value as data', async () => {
    await expect(dispatch(handlers(), 'getAirGapStatus', {})).resolves.toEqual({
      ok: true,
      value: { offline: true, interfaces: [], checkedAt: '2026-01-01T00:00:00.000Z' },
    });
  });

  it.each([
    ['addModule', {}, 'addModule: selectionId: Invalid input: expected string, received undefined'],
    ['addModule', { path: '/usr/lib/softhsm/libsofthsm2.so' }, 'addModule: selectionId: Invalid input: expected string, received undefined; request: Unrecognized key: "path"'],
    ['addModule', { selectionId: '/tmp/evil.so' }, 'addModule: selectionId: selectionId must come from chooseModuleFile'],
    ['addModule', { selectionId: SELECTION, extra: 1 }, 'addModule: request: Unrecognized key: "extra"'],
    ['addModule', { selectionId: SELECTION, initParameters: 'x'.repeat(4097) }, 'addModule: initParameters: initParameters is longer than 4096 characters'],
    ['addYubiHsm', { via: 'connector' }, 'addYubiHsm: url: Invalid input: expected string, received undefined'],
    ['addYubiHsm', { via: 'usb', path: '/tmp/evil.so' }, 'addYubiHsm: request: Unrecognized key: "path"'],
    ['addYubiHsm', { via: 'pkcs11', url: '/tmp/evil.so' }, "addYubiHsm: via: Invalid discriminator value. Expected 'usb' | 'connector'"],
    ['removeModule', { path: '/usr/lib/softhsm/libsofthsm2.so' }, 'removeModule: moduleId: Invalid input: expected string, received undefined; request: Unrecognized key: "path"'],
    ['removeModule', { moduleId: 7 }, 'removeModule: moduleId: Invalid input: expected string, received number'],
    ['getInventory', { anything: true }, 'getInventory: request: Unrecognized key: "anything"'],
    ['verifyBundles', { selectionId: '/etc/passwd' }, 'verifyBundles: selectionId: selectionId must come from chooseBundleFolders'],
  ] as const)('rejects %s(%j) naming the field', async (method, payload, message) => {
    const called: string[] = [];
    const result = await dispatch(handlers({ addModule: () => (called.push('add'), settings), addYubiHsm: () => (called.push('yubihsm'), settings), removeModule: () => (called.push('remove'), settings) }), method, payload);
    expect(result).toEqual({ ok: false, error: { code: 'INVALID_REQUEST', message, remedy: 'Correct the named field and try again.' } });
    expect(called).toEqual([]);
  });

  it('turns a TokenError into data with its code and remedy', async () => {
    const result = await dispatch(
      handlers({
        getInventory: () => {
          throw new TokenError('CKR_PIN_INCORRECT', 'the token did not accept the PIN', 'Try again.');
        },
      }),
      'getInventory',
      {},
    );
    expect(result).toEqual({ ok: false, error: { code: 'CKR_PIN_INCORRECT', message: 'the token did not accept the PIN', remedy: 'Try again.' } });
  });

  it('turns an AppError and an unexpected error into data, never a throw', async () => {
    const app = await dispatch(handlers({ addModule: () => { throw new AppError('MODULE_PATH_INVALID', 'path: no file at /x.so.', 'Check it.'); } }), 'addModule', { selectionId: SELECTION });
    expect(app).toEqual({ ok: false, error: { code: 'MODULE_PATH_INVALID', message: 'path: no file at /x.so.', remedy: 'Check it.' } });
    const bug = await dispatch(handlers({ chooseModuleFile: () => { throw new TypeError('boom'); } }), 'chooseModuleFile', {});
    expect(bug.ok).toBe(false);
    if (!bug.ok) {
      expect(bug.error.code).toBe('INTERNAL');
      expect(bug.error.message).toContain('boom');
    }
  });

  it('refuses to return an answer outside the contract', async () => {
    const result = await dispatch(handlers({ getAirGapStatus: () => ({ offline: 'yes' }) as never }), 'getAirGapStatus', {});
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/^getAirGapStatus produced an answer outside the contract: offline: /);
  });
});
