// A step input names files and folders only by the selection ids main handed out, each bound to the
// purpose its dialog asked for, and tokens only by opaque module ids: typed paths (including those of
// configured modules) and choices made for another field are refused, naming the field.
import { describe, expect, it } from 'vitest';
import { resolveStepInput, type StepInputContext } from '../../src-main/ceremony-handlers.js';
import { Selections } from '../../src-main/files/selections.js';
import { ModuleIds } from '../../src-main/settings/module-ids.js';

const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';

function context(action: string, selections = new Selections()): StepInputContext & { ids: ModuleIds } {
  const ids = new ModuleIds();
  return { action, selections, ids, modulePath: (id, field) => ids.pathFor(id, (p) => p === SOFTHSM, field) };
}

describe('step input selections', () => {
  it('swaps { $selection: id } for the chosen path when it was chosen for that field, also inside lists', () => {
    const ctx = context('distribute-shares');
    const stick = ctx.selections.add('share-destination', ['/media/alice-usb']);
    expect(resolveStepInput({ custodian: 'alice', passphrase: 'x', destinationDir: { $selection: stick } }, ctx)).toEqual({ custodian: 'alice', passphrase: 'x', destinationDir: '/media/alice-usb' });
    const init = context('init-token', ctx.selections);
    const share = ctx.selections.add('share-file', ['/media/bob-usb/bob.share']);
    expect(resolveStepInput({ previousShares: [{ shareFile: { $selection: share }, passphrase: 'y' }] }, init)).toEqual({ previousShares: [{ shareFile: '/media/bob-usb/bob.share', passphrase: 'y' }] });
    const params = context('load-import-parameters', ctx.selections);
    const folder = ctx.selections.add('import-parameters', ['/media/params']);
    const file = ctx.selections.add('import-parameters-file', ['/media/params/p.json']);
    expect(resolveStepInput({ path: { $selection: folder } }, params)).toEqual({ path: '/media/params' });
    expect(resolveStepInput({ path: { $selection: file } }, params)).toEqual({ path: '/media/params/p.json' });
  });

  it.each([
    ['a folder chosen for the import parameters as a share destination', 'distribute-shares', 'import-parameters', 'destinationDir', "input.destinationDir: that was chosen as the folder holding the KMS import parameters, not as a custodian's USB stick."],
    ['a share stick as the bundle destination', 'export-bundle', 'share-destination', 'destinationDir', "input.destinationDir: that was chosen as a custodian's USB stick, not as where to write the transcript bundle."],
    ['a bundle destination as the wrapped key stick', 'export-wrapped-key', 'bundle-destination', 'destinationDir', 'not as the USB stick for the wrapped key material'],
    ['a chosen module library as a share file', 'quorum-login', 'module-file', 'shareFile', "input.shareFile: that was chosen as a PKCS#11 library, not as a custodian's share file."],
    ['import parameters as a share file', 'quorum-login', 'import-parameters-file', 'shareFile', "not as a custodian's share file"],
    ['bundle folders as import parameters', 'load-import-parameters', 'bundle-folders', 'path', 'not as the KMS import parameters file or the folder holding the KMS import parameters'],
  ] as const)('refuses %s', (_what, action, purpose, field, message) => {
    const ctx = context(action);
    const id = ctx.selections.add(purpose, ['/media/x']);
    expect(() => resolveStepInput({ [field]: { $selection: id } }, ctx)).toThrow(message);
  });

  it('refuses a selection in a field that takes none, an id main never issued, and a non-string id', () => {
    const ctx = context('record-participants');
    const id = ctx.selections.add('share-destination', ['/media/x']);
    expect(() => resolveStepInput({ administrator: { $selection: id } }, ctx)).toThrow('input.administrator: this step takes no chosen file or folder here.');
    expect(() => resolveStepInput({ destinationDir: { $selection: id } }, ctx)).toThrow('input.destinationDir: this step takes no chosen file or folder here.');
    const shares = context('distribute-shares');
    expect(() => resolveStepInput({ destinationDir: { $selection: 'made-up' } }, shares)).toThrow('input.destinationDir: that choice of files is not known');
    expect(() => resolveStepInput({ destinationDir: { $selection: 7 } }, shares)).toThrow('input.destinationDir: a $selection must be the id main returned');
  });

  it.each([['/etc'], ['~/x'], ['../../etc'], ['./x'], ['C:\\Users\\x'], ['\\\\server\\share'], ['relative/dir'], ['params.json']])('refuses a typed path %s in a path field, naming the field', (path) => {
    const ctx = context('distribute-shares');
    expect(() => resolveStepInput({ destinationDir: path }, ctx)).toThrow('input.destinationDir: a file or folder must be chosen in the dialog, not typed.');
    expect(() => resolveStepInput({ previousShares: [{ shareFile: path }] }, context('init-token'))).toThrow('input.previousShares[0].shareFile: a file or folder must be chosen in the dialog, not typed.');
    expect(() => resolveStepInput({ path, wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }, context('load-import-parameters'))).toThrow('input.path: a file or folder must be chosen in the dialog, not typed.');
  });

  it('leaves text that only mentions a path alone, and refuses any absolute path typed elsewhere', () => {
    const ctx = context('witness-sign-off');
    expect(resolveStepInput({ name: 'alice', note: 'see /etc later' }, ctx)).toEqual({ name: 'alice', note: 'see /etc later' });
    expect(() => resolveStepInput({ note: '/etc/passwd' }, ctx)).toThrow('input.note: a file or folder must be chosen in the dialog, not typed.');
  });

  it('names a token by an opaque module id only: a typed module path is refused, even of a configured module', () => {
    const ctx = context('select-token');
    const id = ctx.ids.idFor(SOFTHSM);
    expect(id).not.toContain('softhsm');
    expect(resolveStepInput({ moduleId: id, slotId: '0' }, ctx)).toEqual({ moduleId: SOFTHSM, slotId: '0' });
    expect(() => resolveStepInput({ moduleId: SOFTHSM, slotId: '0' }, ctx)).toThrow('input.moduleId: that module is not in the module list');
    expect(() => resolveStepInput({ moduleId: '/tmp/evil.so', slotId: '0' }, ctx)).toThrow('input.moduleId: that module is not in the module list');
    // An id handed out for a module since removed from the list no longer resolves.
    const gone = ctx.ids.idFor('/usr/lib/removed.so');
    expect(() => resolveStepInput({ moduleId: gone, slotId: '0' }, ctx)).toThrow('input.moduleId: that module is not in the module list');
  });

  it('forgets the oldest selections beyond its limit', () => {
    const selections = new Selections(2);
    const first = selections.add('share-file', ['/a']);
    selections.add('share-file', ['/b']);
    selections.add('share-file', ['/c']);
    expect(() => selections.get('share-file', first)).toThrow('selectionId: that choice of files is not known');
  });
});
