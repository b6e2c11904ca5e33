// IPC handlers for ceremonies: dialog choices become opaque selection ids, and a step's input names them as
// { "$selection": id }, which main swaps for the chosen path before the engine sees the input.
import { AppError } from './errors.js';
import type { Handlers } from './ipc/dispatch.js';
import type { Selections } from './files/selections.js';
import type { Dialogs } from './services.js';
import type { CeremonyService } from './ceremony/engine/service.js';
import type { SerialQueue } from './util/serial-queue.js';
import { checkChosenFolder, listRemovableDrives } from './files/removable-drives.js';

type CeremonyMethods = 'listCeremonyScripts' | 'listPastCeremonies' | 'getPastCeremony' | 'startCeremony' | 'resumeCeremony' | 'abandonCeremony' | 'getCeremony' | 'performStep' | 'abortCeremony' | 'chooseFolder' | 'chooseShareFile' | 'chooseImportParametersFile' | 'listRemovableDrives';

const notYet = (): never => {
  throw new AppError('CEREMONY_UNAVAILABLE', 'Ceremonies are not set up in this window (no scripts folder was given).', 'Start the app with npm start, or use the keyceremony command line.');
};

const LOOKS_LIKE_PATH = /^(\/|~|\.\.?([\\/]|$)|[A-Za-z]:[\\/]|\\\\)/;

/**
 * Replace every { "$selection": id } in a step input by the path the user chose for that id. A path typed
 * into the input by the renderer is refused: main only writes to or reads from places chosen in its dialog.
 */
export function resolveSelections(input: unknown, selections: Selections, isModuleId: (s: string) => boolean = () => false, where = 'input'): unknown {
  // A token is named by its module's id, which is the module's path: those are listed, not typed.
  if (typeof input === 'string' && LOOKS_LIKE_PATH.test(input) && !isModuleId(input)) {
    throw new AppError('INVALID_REQUEST', `${where}: a file or folder must be chosen in the dialog, not typed.`, 'Use the Choose… button for this field.');
  }
  if (Array.isArray(input)) return input.map((v, i) => resolveSelections(v, selections, isModuleId, `${where}[${i}]`));
  if (input !== null && typeof input === 'object') {
    const record = input as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && keys[0] === '$selection') {
      const id = record.$selection;
      if (typeof id !== 'string') throw new AppError('INVALID_REQUEST', 'input: a $selection must be the id main returned for a chosen file or folder.', 'Choose the file or folder again.');
      const [path] = selections.get('chosen-path', id);
      return path;
    }
    return Object.fromEntries(keys.map((k) => [k, resolveSelections(record[k], selections, isModuleId, `${where}.${k}`)]));
  }
  return input;
}

/**
 * Token work of a ceremony step runs in the same queue as the inventory's probes, so a Refresh on the home
 * screen never opens a session in the middle of C_InitToken.
 */
export function ceremonyHandlers(
  selections: Selections,
  dialogs: Dialogs,
  ceremonies: CeremonyService | undefined,
  tokens: SerialQueue,
  isModuleId: (s: string) => boolean,
): Pick<Handlers, CeremonyMethods> {
  const service = (): CeremonyService => ceremonies ?? notYet();
  return {
    listCeremonyScripts: () => service().listScripts(),
    // Without a scripts folder there are no ceremonies to list; that is not an error on the home screen.
    listPastCeremonies: () => (ceremonies ? tokens.run(() => ceremonies.history()) : []),
    startCeremony: ({ script, parameters, rehearsal }) => tokens.run(() => service().start(rehearsal === undefined ? { script, parameters } : { script, parameters, rehearsal })),
    getPastCeremony: ({ ceremonyId }) => tokens.run(() => service().pastCeremony(ceremonyId)),
    resumeCeremony: ({ ceremonyId }) => tokens.run(() => service().resume(ceremonyId)),
    abandonCeremony: ({ ceremonyId, reason }) => tokens.run(() => service().abandon(ceremonyId, reason)),
    getCeremony: ({ ceremonyId }) => service().view(ceremonyId),
    performStep: ({ ceremonyId, stepId, input }) => tokens.run(() => service().perform(ceremonyId, stepId, resolveSelections(input, selections, isModuleId))),
    abortCeremony: ({ ceremonyId, reason }) => tokens.run(() => service().abort(ceremonyId, reason)),
    chooseFolder: async ({ purpose }) => {
      const folder = await dialogs.chooseFolder(purpose);
      if (!folder) return { selection: null };
      const selection = { id: selections.add('chosen-path', [folder]), folder };
      // Outputs belong on removable media: the room is told when the chosen folder is not on one.
      if (purpose === 'import-parameters') return { selection };
      const { onRemovable, message } = await checkChosenFolder(folder);
      return { selection, drive: { onRemovable, message } };
    },
    listRemovableDrives: () => listRemovableDrives(),
    chooseShareFile: async () => {
      const file = await dialogs.chooseShareFile();
      return { selection: file ? { id: selections.add('chosen-path', [file]), file } : null };
    },
    chooseImportParametersFile: async () => {
      const file = await dialogs.chooseImportParametersFile();
      return { selection: file ? { id: selections.add('chosen-path', [file]), file } : null };
    },
  };
}
