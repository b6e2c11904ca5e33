// Paths the user chose through main's file dialog, handed to the renderer only as an opaque id (plus the
// names for display). A later call names the id, so the renderer can never make main read a path the
// user did not choose; and each choice is bound to the purpose its dialog asked for, so a folder chosen
// for the import parameters cannot become a custodian's share destination, nor a share file a module.
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';

export const SELECTION_PURPOSES = {
  'bundle-folders': 'transcript bundle folders to verify or import',
  'module-file': 'a PKCS#11 library',
  'share-file': "a custodian's share file",
  'import-parameters-file': 'the KMS import parameters file',
  'import-parameters': 'the folder holding the KMS import parameters',
  'share-destination': "a custodian's USB stick",
  'bundle-destination': 'where to write the transcript bundle',
  'key-destination': 'the USB stick for the wrapped key material',
  'backup-destination': 'the USB stick for the key backup',
  'key-backup': 'the key backup folder to restore',
} as const;

export type SelectionPurpose = keyof typeof SELECTION_PURPOSES;

interface Selection {
  purpose: SelectionPurpose;
  paths: string[];
}

export class Selections {
  private readonly byId = new Map<string, Selection>();

  constructor(private readonly limit = 64) {}

  add(purpose: SelectionPurpose, paths: string[]): string {
    const id = randomUUID();
    this.byId.set(id, { purpose, paths: [...paths] });
    // Old selections are forgotten first; a long session never grows this without bound.
    while (this.byId.size > this.limit) this.byId.delete(this.byId.keys().next().value as string);
    return id;
  }

  /** The paths chosen under `id`, if they were chosen for one of `purposes`; `field` names the input. */
  get(purposes: SelectionPurpose | readonly SelectionPurpose[], id: string, field = 'selectionId'): string[] {
    const wanted: readonly SelectionPurpose[] = typeof purposes === 'string' ? [purposes] : purposes;
    const found = this.byId.get(id);
    if (!found) {
      throw new AppError('SELECTION_UNKNOWN', `${field}: that choice of files is not known (it may be from before a restart).`, 'Choose the file or folder again.');
    }
    if (!wanted.includes(found.purpose)) {
      throw new AppError(
        'SELECTION_PURPOSE',
        `${field}: that was chosen as ${SELECTION_PURPOSES[found.purpose]}, not as ${wanted.map((p) => SELECTION_PURPOSES[p]).join(' or ')}.`,
        "Choose it again with this field's own Choose… button.",
      );
    }
    return [...found.paths];
  }
}
