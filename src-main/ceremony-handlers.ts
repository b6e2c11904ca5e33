// IPC handlers for ceremonies: dialog choices become opaque selection ids bound to their purpose, and a
// step's input names them as { "$selection": id }, which main swaps for the chosen path before the engine
// sees the input (and an opaque module id for the module's path).
import { AppError } from './errors.js';
import type { Handlers } from './ipc/dispatch.js';
import type { SelectionPurpose, Selections } from './files/selections.js';
import type { Dialogs } from './services.js';
import type { CeremonyService } from './ceremony/engine/service.js';
import type { SerialQueue } from './util/serial-queue.js';
import { checkChosenFolder, listRemovableDrives } from './files/removable-drives.js';

type CeremonyMethods = 'listCeremonyScripts' | 'listPastCeremonies' | 'getPastCeremony' | 'startCeremony' | 'resumeCeremony' | 'abandonCeremony' | 'getCeremony' | 'performStep' | 'abortCeremony' | 'chooseFolder' | 'chooseShareFile' | 'chooseImportParametersFile' | 'listRemovableDrives';

const notYet = (): never => {
  throw new AppError('CEREMONY_UNAVAILABLE', 'Ceremonies are not set up in this window (no scripts folder was given).', 'Start the app with npm start, or use the keyceremony command line.');
};

const LOOKS_LIKE_PATH = /^(\/|~|\.\.?([\\/]|$)|[A-Za-z]:[\\/]|\\\\)/;

/** The fields of a step input that name a file or folder; they take only { "$selection": id }. */
const PATH_FIELDS = new Set(['shareFile', 'path', 'destinationDir', 'backupDir']);

/** What a path field of a given action may have been chosen for; anything else is refused. */
export function purposesFor(action: string, field: string | undefined): SelectionPurpose[] {
  if (field === 'shareFile') return ['share-file'];
  if (field === 'path' && action === 'load-import-parameters') return ['import-parameters-file', 'import-parameters'];
  if (field === 'backupDir' && action === 'check-backup') return ['key-backup'];
  if (field === 'destinationDir') {
    const byAction: Record<string, SelectionPurpose> = { 'distribute-shares': 'share-destination', 'export-bundle': 'bundle-destination', 'export-wrapped-key': 'key-destination', 'write-backup': 'backup-destination' };
    const purpose = byAction[action];
    return purpose ? [purpose] : [];
  }
  return [];
}

export interface StepInputContext {
  /** The action of the step the input is for (it decides what a destination may have been chosen as). */
  action: string;
  selections: Selections;
  /** The module path behind an opaque module id from getInventory; throws for an id main did not hand out. */
  modulePath: (id: string, field: string) => string;
}

/**
 * Replace every { "$selection": id } in a step input by the path the user chose for that id, if it was
 * chosen for that field, and every moduleId by the module it stands for. A path typed into the input by the
 * renderer is refused: main only writes to or reads from places chosen in its dialog, and loads only
 * modules on its list.
 */
export function resolveStepInput(input: unknown, ctx: StepInputContext, where = 'input', field?: string): unknown {
  if (typeof input === 'string') {
    if (field === 'moduleId') return ctx.modulePath(input, where);
    if ((field !== undefined && PATH_FIELDS.has(field)) || LOOKS_LIKE_PATH.test(input)) {
      throw new AppError('INVALID_REQUEST', `${where}: a file or folder must be chosen in the dialog, not typed.`, 'Use the Choose… button for this field.');
    }
    return input;
  }
  if (Array.isArray(input)) return input.map((v, i) => resolveStepInput(v, ctx, `${where}[${i}]`));
  if (input !== null && typeof input === 'object') {
    const record = input as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && keys[0] === '$selection') {
      const id = record.$selection;
      if (typeof id !== 'string') throw new AppError('INVALID_REQUEST', `${where}: a $selection must be the id main returned for a chosen file or folder.`, 'Choose the file or folder again.');
      const purposes = purposesFor(ctx.action, field);
      if (purposes.length === 0) throw new AppError('INVALID_REQUEST', `${where}: this step takes no chosen file or folder here.`, 'Leave the field out, or use the field the step asks for.');
      const [path] = ctx.selections.get(purposes, id, where);
      return path;
    }
    return Object.fromEntries(keys.map((k) => [k, resolveStepInput(record[k], ctx, `${where}.${k}`, k)]));
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
  modulePath: StepInputContext['modulePath'],
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
    performStep: ({ ceremonyId, stepId, input }) =>
      tokens.run(() => {
        const action = service().view(ceremonyId).steps.find((s) => s.id === stepId)?.action ?? '';
        return service().perform(ceremonyId, stepId, resolveStepInput(input, { action, selections, modulePath }));
      }),
    abortCeremony: ({ ceremonyId, reason }) => tokens.run(() => service().abort(ceremonyId, reason)),
    chooseFolder: async ({ purpose }) => {
      const folder = await dialogs.chooseFolder(purpose);
      if (!folder) return { selection: null };
      const selection = { id: selections.add(purpose, [folder]), folder };
      // Outputs belong on removable media: the room is told when the chosen folder is not on one.
      if (purpose === 'import-parameters' || purpose === 'key-backup') return { selection };
      const { onRemovable, message } = await checkChosenFolder(folder);
      return { selection, drive: { onRemovable, message } };
    },
    listRemovableDrives: () => listRemovableDrives(),
    chooseShareFile: async () => {
      const file = await dialogs.chooseShareFile();
      return { selection: file ? { id: selections.add('share-file', [file]), file } : null };
    },
    chooseImportParametersFile: async () => {
      const file = await dialogs.chooseImportParametersFile();
      return { selection: file ? { id: selections.add('import-parameters-file', [file]), file } : null };
    },
  };
}
