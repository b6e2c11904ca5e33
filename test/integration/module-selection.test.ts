// The renderer cannot make main load native code it names: a library is added only as the file chosen in
// main's module dialog. Tried with a real shared library whose constructor writes a marker file when it is
// loaded: a typed path, a file chosen in another dialog and hostile NSS init parameters all leave no
// marker and no settings entry; the same library chosen in the module dialog is loaded (the marker appears),
// which shows the marker would have caught a load. Module ids seen by the renderer are opaque, and a step
// naming a token takes only such an id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServices, type Services } from '../../src-main/services.js';
import { dispatch } from '../../src-main/ipc/dispatch.js';
import type { MethodName } from '../../src-preload/contract.js';
import { SettingsStore } from '../../src-main/settings/settings-store.js';
import { AirGapMonitor } from '../../src-main/airgap/airgap.js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { probeKmsCapabilities } from '../../hsm/capabilities.js';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { DialogStandIn } from '../helpers/dialog-stand-in.js';

let env: SoftHsmEnv;
let dir: string;
let evil: string;
let marker: string;
let dialogs: DialogStandIn;
let services: Services;
let layer: Pkcs11TokenLayer;

beforeAll(async () => {
  env = createSoftHsmEnv();
  initSoftHsmToken('module-ids', '87654321', '12345678');
  dir = mkdtempSync(join(tmpdir(), 'kc-module-selection-'));
  marker = join(dir, 'constructor-ran');
  writeFileSync(join(dir, 'evil.c'), `#include <stdio.h>\n__attribute__((constructor)) static void ran(void) { FILE *f = fopen(${JSON.stringify(marker)}, "w"); if (f) fclose(f); }\n`);
  evil = join(dir, 'libevil.so');
  execFileSync('gcc', ['-shared', '-fPIC', '-o', evil, join(dir, 'evil.c')]);
  dialogs = new DialogStandIn();
  layer = new Pkcs11TokenLayer();
  services = createServices({
    appDataDir: dir,
    layer,
    probe: probeKmsCapabilities,
    dialogs,
    settings: new SettingsStore(dir, () => [SOFTHSM_MODULE]),
    // Only loopback: this test is offline whatever the machine's interfaces are.
    airGap: new AirGapMonitor(() => ({})),
    appVersion: 'test',
    scriptsDir: resolve('ceremonies'),
  });
  await services.reloadModules();
});

afterAll(async () => {
  await services?.close();
  env?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const call = <M extends MethodName>(method: M, payload: unknown) => dispatch(services.handlers, method, payload);
const settingsText = () => (existsSync(join(dir, 'settings.json')) ? readFileSync(join(dir, 'settings.json'), 'utf8') : '');

describe('adding a PKCS#11 module', () => {
  it('refuses a typed path: nothing is stored and nothing is loaded', async () => {
    const r = await call('addModule', { path: evil });
    expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('addModule: selectionId: Invalid input') } });
    expect(await call('addModule', { selectionId: evil })).toMatchObject({ ok: false, error: { message: 'addModule: selectionId: selectionId must come from chooseModuleFile' } });
    expect(existsSync(marker)).toBe(false);
    expect(settingsText()).not.toContain('libevil');
  });

  it('refuses a file chosen in another dialog (a share file, import parameters) as not chosen for a library', async () => {
    dialogs.answers.shareFile = evil;
    const share = await call('chooseShareFile', {});
    if (!share.ok || !share.value.selection) throw new Error('the share dialog gave no selection');
    expect(await call('addModule', { selectionId: share.value.selection.id })).toEqual({
      ok: false,
      error: { code: 'SELECTION_PURPOSE', message: "selectionId: that was chosen as a custodian's share file, not as a PKCS#11 library.", remedy: "Choose it again with this field's own Choose… button." },
    });
    dialogs.answers.paramsFile = evil;
    const params = await call('chooseImportParametersFile', {});
    if (!params.ok || !params.value.selection) throw new Error('the parameters dialog gave no selection');
    expect(await call('addModule', { selectionId: params.value.selection.id })).toMatchObject({ ok: false, error: { code: 'SELECTION_PURPOSE' } });
    expect(existsSync(marker)).toBe(false);
    expect(settingsText()).not.toContain('libevil');
  });

  it.each([
    ["configdir='dbm:/tmp/db'", 'initParameters: configdir must name an SQLite database as sql:/absolute/folder'],
    ["configdir='extern:/tmp/db'", 'initParameters: configdir must name an SQLite database'],
    ["configdir='sql:/tmp/db' updatedir='/tmp/old'", 'initParameters: "updatedir" is not an allowed parameter'],
    ["configdir='sql:/tmp/../etc'", 'must be an absolute folder without ".."'],
    ["secmod='/tmp/pkcs11.txt'", 'initParameters: secmod must be a plain file name'],
    ["configdir='sql:/tmp/db' configdir='sql:/tmp/other'", 'initParameters: configdir is given twice'],
  ])('refuses the library with init parameters %s before loading it', async (initParameters, message) => {
    dialogs.answers.path = evil;
    const chosen = await call('chooseModuleFile', {});
    if (!chosen.ok || !chosen.value.selection) throw new Error('the module dialog gave no selection');
    const r = await call('addModule', { selectionId: chosen.value.selection.id, initParameters });
    expect(r).toMatchObject({ ok: false, error: { code: 'MODULE_INIT_PARAMETERS_INVALID', message: expect.stringContaining(message) } });
    expect(existsSync(marker)).toBe(false);
    expect(settingsText()).not.toContain('libevil');
  });

  it('adds the library chosen in the module dialog (the only way), and the renderer sees only opaque ids', async () => {
    dialogs.answers.path = evil;
    const chosen = await call('chooseModuleFile', {});
    if (!chosen.ok || !chosen.value.selection) throw new Error('the module dialog gave no selection');
    expect(chosen.value.selection.file).toBe(evil);
    const added = await call('addModule', { selectionId: chosen.value.selection.id });
    if (!added.ok) throw new Error(added.error.message);
    // Loaded now: its constructor ran. (It is no PKCS#11 library, so it is listed as not loaded.)
    expect(existsSync(marker)).toBe(true);
    const evilEntry = added.value.find((m) => m.path === evil)!;
    const softhsm = added.value.find((m) => m.path === SOFTHSM_MODULE)!;
    for (const m of [evilEntry, softhsm]) expect(m.id).toMatch(/^module-[0-9a-f-]{36}$/);

    const inventory = await call('getInventory', {});
    if (!inventory.ok) throw new Error(inventory.error.message);
    expect(inventory.value.modules.map((m) => m.id).sort()).toEqual([evilEntry.id, softhsm.id].sort());
    expect(inventory.value.modules.find((m) => m.id === evilEntry.id)).toMatchObject({ path: evil, loaded: false });
    const slot = inventory.value.slots.find((s) => s.token?.label === 'module-ids');
    expect(slot?.moduleId).toBe(softhsm.id);

    // Removed by its id; a path in its place is refused, and so is the id once the module is gone.
    expect(await call('removeModule', { moduleId: SOFTHSM_MODULE })).toMatchObject({ ok: false, error: { code: 'MODULE_NOT_LISTED', message: expect.stringContaining('moduleId: that module is not in the module list') } });
    const removed = await call('removeModule', { moduleId: evilEntry.id });
    if (!removed.ok) throw new Error(removed.error.message);
    expect(removed.value.map((m) => m.path)).toEqual([SOFTHSM_MODULE]);
    expect(await call('removeModule', { moduleId: evilEntry.id })).toMatchObject({ ok: false, error: { code: 'MODULE_NOT_LISTED' } });
  });

  it('adds a YubiHSM 2 only in its two shapes, loopback only', async () => {
    for (const [request, message] of [
      [{ via: 'connector', url: 'http://192.168.7.7:12345' }, '192.168.7.7 is not this computer'],
      [{ via: 'connector', url: 'usb' }, 'url: "usb" is not a connector address'],
      [{ via: 'connector', url: evil }, `url: "${evil}" is not a connector address`],
      [{ via: 'connector', url: 'http://127.0.0.1:12345/../x' }, 'give the connector address only'],
    ] as const) {
      expect(await call('addYubiHsm', request)).toMatchObject({ ok: false, error: { message: expect.stringContaining(message) } });
    }
    const usb = await call('addYubiHsm', { via: 'usb' });
    if (!usb.ok) throw new Error(usb.error.message);
    expect(usb.value.map((m) => m.path)).toContain('yubihsm:usb');
  });
});

describe('a ceremony step naming a token', () => {
  it('takes the opaque module id from the inventory, and refuses the module path typed in its place', async () => {
    const started = await call('startCeremony', { script: 'init-token', parameters: { tokenLabel: 'ids-root', custodians: ['alice', 'bob', 'carol'], threshold: 2 }, rehearsal: true });
    if (!started.ok) throw new Error(started.error.message);
    const ceremonyId = started.value.ceremonyId;
    for (const [stepId, input] of [['participants', { administrator: 'Erin', witnesses: ['Dana'] }], ['airgap', {}]] as const) {
      const r = await call('performStep', { ceremonyId, stepId, input });
      if (!r.ok) throw new Error(`${stepId}: ${r.error.message}`);
    }
    const inventory = await call('getInventory', {});
    if (!inventory.ok) throw new Error(inventory.error.message);
    const blank = inventory.value.slots.find((s) => s.token && !s.token.initialized)!;
    // A folder chosen for something else is no token either.
    dialogs.answers.folder = dir;
    const folder = await call('chooseFolder', { purpose: 'share-destination' });
    if (!folder.ok || !folder.value.selection) throw new Error('the folder dialog gave no selection');

    for (const [moduleId, message] of [
      [SOFTHSM_MODULE, 'input.moduleId: that module is not in the module list'],
      [evil, 'input.moduleId: that module is not in the module list'],
      [{ $selection: folder.value.selection.id }, 'input.moduleId: this step takes no chosen file or folder here.'],
    ] as const) {
      const r = await call('performStep', { ceremonyId, stepId: 'token', input: { moduleId, slotId: blank.slotId } });
      expect(r).toMatchObject({ ok: false, error: { message: expect.stringContaining(message) } });
    }
    const chosen = await call('performStep', { ceremonyId, stepId: 'token', input: { moduleId: blank.moduleId, slotId: blank.slotId } });
    if (!chosen.ok) throw new Error(chosen.error.message);
    expect(chosen.value.view.steps.find((s) => s.id === 'token')?.status).toBe('done');
    await call('abortCeremony', { ceremonyId, reason: 'test: token step checked' });
  });
});
