// The renderer names modules by opaque ids, never by their paths: a path it could send back would be a
// path main loads as native code. Main keeps the mapping for the life of the window; ids mean nothing
// outside it and are not derived from the path.
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';

export class ModuleIds {
  private readonly byPath = new Map<string, string>();
  private readonly byId = new Map<string, string>();

  /** The id shown for a configured module (its path in the settings); the same id for the same path. */
  idFor(path: string): string {
    let id = this.byPath.get(path);
    if (!id) {
      id = `module-${randomUUID()}`;
      this.byPath.set(path, id);
      this.byId.set(id, path);
    }
    return id;
  }

  /** The module path behind an id main handed out; `isListed` says whether it is still configured. */
  pathFor(id: string, isListed: (path: string) => boolean, field = 'moduleId'): string {
    const path = this.byId.get(id);
    if (path === undefined || !isListed(path)) {
      throw new AppError('MODULE_NOT_LISTED', `${field}: that module is not in the module list (it may have been removed, or the list is from before a restart).`, 'Refresh the list and choose a module shown there.');
    }
    return path;
  }
}
