// Paths the user chose through main's file dialog, handed to the renderer only as an opaque id (plus the
// names for display). A later call names the id, so the renderer can never make main read a path the
// user did not choose.
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';

export type SelectionKind = 'bundle-folders' | 'chosen-path';

interface Selection {
  kind: SelectionKind;
  paths: string[];
}

export class Selections {
  private readonly byId = new Map<string, Selection>();

  constructor(private readonly limit = 64) {}

  add(kind: SelectionKind, paths: string[]): string {
    const id = randomUUID();
    this.byId.set(id, { kind, paths: [...paths] });
    // Old selections are forgotten first; a long session never grows this without bound.
    while (this.byId.size > this.limit) this.byId.delete(this.byId.keys().next().value as string);
    return id;
  }

  get(kind: SelectionKind, id: string): string[] {
    const found = this.byId.get(id);
    if (!found || found.kind !== kind) {
      throw new AppError('SELECTION_UNKNOWN', 'selectionId: that choice of files is not known (it may be from before a restart).', 'Choose the folders again.');
    }
    return [...found.paths];
  }
}
