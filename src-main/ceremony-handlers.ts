// IPC handlers for ceremonies: dialog choices become opaque selection ids, and a step's input names them as
// { "$selection": id }, which main swaps for the chosen path before the engine sees the input.
import { AppError } from './errors.js';
import type { Handlers } from './ipc/dispatch.js';
import type { Selections } from './files/selections.js';
import type { Dialogs } from './services.js';

type CeremonyMethods = 'listCeremonyScripts' | 'startCeremony' | 'getCeremony' | 'performStep' | 'abortCeremony' | 'chooseFolder' | 'chooseShareFile';

const notYet = (): never => {
  throw new AppError('CEREMONY_UNAVAILABLE', 'Ceremonies cannot be run from the app in this version.', 'Use the keyceremony command line for now.');
};

const LOOKS_LIKE_PATH = /^(\/|~|\.\.?([\\/]|$)|[A-Za-z]:[\\/]|\\\\)/;

/**
 * Replace every { "$selection": id } in a step input by the path the user chose for that id. A path typed
 * into the input by the renderer is refused: main only writes to or reads from places chosen in its dialog.
 */
export function resolveSelections(input: unknown, selections: Selections, where = 'input'): unknown {
  if (typeof input === 'string' && LOOKS_LIKE_PATH.test(input)) {
    throw new AppError('INVALID_REQUEST', `${where}: a file or folder must be chosen in the dialog, not typed.`, 'Use the Choose… button for this field.');
  }
  if (Array.isArray(input)) return input.map((v, i) => resolveSelections(v, selections, `${where}[${i}]`));
  if (input !== null && typeof input === 'object') {
    const record = input as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && keys[0] === '$selection') {
      const id = record.$selection;
      if (typeof id !== 'string') throw new AppError('INVALID_REQUEST', 'input: a $selection must be the id main returned for a chosen file or folder.', 'Choose the file or folder again.');
      const [path] = selections.get('chosen-path', id);
      return path;
    }
    return Object.fromEntries(keys.map((k) => [k, resolveSelections(record[k], selections, `${where}.${k}`)]));
  }
  return input;
}

export function ceremonyHandlers(selections: Selections, dialogs: Dialogs): Pick<Handlers, CeremonyMethods> {
  return {
    listCeremonyScripts: notYet,
    startCeremony: notYet,
    getCeremony: notYet,
    performStep: notYet,
    abortCeremony: notYet,
    chooseFolder: async ({ purpose }) => {
      const folder = await dialogs.chooseFolder(purpose);
      return { selection: folder ? { id: selections.add('chosen-path', [folder]), folder } : null };
    },
    chooseShareFile: async () => {
      const file = await dialogs.chooseShareFile();
      return { selection: file ? { id: selections.add('chosen-path', [file]), file } : null };
    },
  };
}
