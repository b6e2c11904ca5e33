import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SettingsStore } from '../../src-main/settings/settings-store.js';
import { candidateModulePaths, defaultModulePaths } from '../../src-main/settings/default-modules.js';

let dir: string;
let libA: string;
let libB: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-settings-'));
  libA = join(dir, 'liba.so');
  libB = join(dir, 'libb.so');
  writeFileSync(libA, 'a');
  writeFileSync(libB, 'b');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('default module paths', () => {
  it('has candidates for each desktop OS and keeps only the present ones', () => {
    for (const os of ['linux', 'darwin', 'win32'] as const) expect(candidateModulePaths(os).length).toBeGreaterThan(0);
    expect(defaultModulePaths('linux', (p) => p === '/usr/lib/softhsm/libsofthsm2.so')).toEqual(['/usr/lib/softhsm/libsofthsm2.so']);
    expect(defaultModulePaths('aix')).toEqual([]);
  });
});

describe('SettingsStore', () => {
  it('starts with the defaults, then the user-added modules, without duplicates', () => {
    const store = new SettingsStore(dir, () => [libA]);
    expect(store.modules()).toEqual([{ path: libA, source: 'default' }]);
    store.addModule(libB, "configdir='sql:/tmp/x'");
    expect(store.modules()).toEqual([
      { path: libA, source: 'default' },
      { path: libB, initParameters: "configdir='sql:/tmp/x'", source: 'user' },
    ]);
    expect(JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8')).modules).toEqual([{ path: libB, initParameters: "configdir='sql:/tmp/x'" }]);
  });

  it('lists a library reached through a symlink once', () => {
    const link = join(dir, 'link.so');
    symlinkSync(libA, link);
    expect(new SettingsStore(dir, () => [libA, link]).modules()).toEqual([{ path: libA, source: 'default' }]);
  });

  it.each([
    ['relative.so', 'path: "relative.so" is not an absolute path.'],
    ['/no/such/lib.so', 'path: no file at /no/such/lib.so.'],
  ])('refuses %s with a message naming the path', (path, message) => {
    const store = new SettingsStore(dir, () => []);
    expect(() => store.addModule(path)).toThrow(message);
    expect(store.modules()).toEqual([]);
  });

  it('refuses a settings file whose stored init parameters the app would refuse when typed', () => {
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ version: 1, modules: [{ path: libB, initParameters: "configdir='dbm:/tmp/old'" }], hiddenDefaults: [] }));
    const store = new SettingsStore(dir, () => []);
    expect(() => store.modules()).toThrow(`The settings file ${join(dir, 'settings.json')} is not usable: modules.0.initParameters: configdir must name an SQLite database as sql:/absolute/folder (other database types are not allowed), not "dbm:/tmp/old".`);
  });

  it('refuses a module already listed', () => {
    const store = new SettingsStore(dir, () => [libA]);
    expect(() => store.addModule(libA)).toThrow(`path: ${libA} is already in the module list.`);
  });

  it('removes a user module, and hides a default one until it is added again', () => {
    const store = new SettingsStore(dir, () => [libA]);
    store.addModule(libB);
    store.removeModule(libB);
    store.removeModule(libA);
    expect(store.modules()).toEqual([]);
    store.addModule(libA);
    expect(store.modules()).toEqual([{ path: libA, source: 'default' }]);
    expect(JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'))).toEqual({ version: 1, modules: [], hiddenDefaults: [] });
    expect(() => store.removeModule('/never/listed.so')).toThrow('path: /never/listed.so is not in the module list.');
  });

  it('reports a damaged settings file instead of half-using it', () => {
    writeFileSync(join(dir, 'settings.json'), '{"version":1,"modules":[{"path":"/x.so","colour":"red"}]}');
    expect(() => new SettingsStore(dir, () => []).modules()).toThrow(/settings\.json is not usable: modules\.0: Unrecognized key: "colour"/);
    writeFileSync(join(dir, 'settings.json'), '{not json');
    expect(() => new SettingsStore(dir, () => []).modules()).toThrow(/is not valid JSON/);
  });
});
