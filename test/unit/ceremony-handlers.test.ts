import { describe, expect, it } from 'vitest';
import { resolveSelections } from '../../src-main/ceremony-handlers.js';
import { Selections } from '../../src-main/files/selections.js';

describe('step input selections', () => {
  it('swaps { $selection: id } for the chosen path, anywhere in the input', () => {
    const selections = new Selections();
    const stick = selections.add('chosen-path', ['/media/alice-usb']);
    const file = selections.add('chosen-path', ['/media/bob-usb/bob.share']);
    expect(
      resolveSelections({ custodian: 'alice', destinationDir: { $selection: stick }, shares: [{ file: { $selection: file }, passphrase: 'x' }] }, selections),
    ).toEqual({ custodian: 'alice', destinationDir: '/media/alice-usb', shares: [{ file: '/media/bob-usb/bob.share', passphrase: 'x' }] });
  });

  it('refuses an id main never issued, or one of another kind', () => {
    const selections = new Selections();
    const bundles = selections.add('bundle-folders', ['/media/x']);
    expect(() => resolveSelections({ d: { $selection: 'made-up' } }, selections)).toThrow('selectionId: that choice of files is not known');
    expect(() => resolveSelections({ d: { $selection: bundles } }, selections)).toThrow('selectionId: that choice of files is not known');
    expect(() => resolveSelections({ d: { $selection: 7 } }, selections)).toThrow('input: a $selection must be the id main returned');
  });

  it.each([['/etc'], ['~/x'], ['../../etc'], ['./x'], ['C:\\Users\\x'], ['\\\\server\\share']])('refuses a typed path %s, naming the field', (path) => {
    const selections = new Selections();
    expect(() => resolveSelections({ shares: [{ destinationDir: path }] }, selections)).toThrow('input.shares[0].destinationDir: a file or folder must be chosen in the dialog, not typed.');
    expect(resolveSelections({ name: 'alice', note: 'see /etc later' }, selections)).toEqual({ name: 'alice', note: 'see /etc later' });
  });

  it('accepts a configured module id (a path) where a token is named', () => {
    const selections = new Selections();
    const isModule = (s: string) => s === '/usr/lib/softhsm/libsofthsm2.so';
    expect(resolveSelections({ moduleId: '/usr/lib/softhsm/libsofthsm2.so', slotId: '0' }, selections, isModule)).toEqual({ moduleId: '/usr/lib/softhsm/libsofthsm2.so', slotId: '0' });
    expect(() => resolveSelections({ destinationDir: '/usr/lib' }, selections, isModule)).toThrow('input.destinationDir: a file or folder must be chosen');
  });

  it('forgets the oldest selections beyond its limit', () => {
    const selections = new Selections(2);
    const first = selections.add('chosen-path', ['/a']);
    selections.add('chosen-path', ['/b']);
    selections.add('chosen-path', ['/c']);
    expect(() => selections.get('chosen-path', first)).toThrow();
  });
});
