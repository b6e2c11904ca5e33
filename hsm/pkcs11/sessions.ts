// Our opaque session handles and the native sessions behind them. One handle may be backed by a newer
// native session after recovery (see replaceNative): callers never notice, and session objects made in the
// stuck session survive because it is kept open until the handle is closed.
import type { PKCS11 } from 'pkcs11js';
import { ErrorCodes, TokenError } from '../errors.js';
import type { ErrorContext } from './ckr.js';
import type { LoadedModule } from './module.js';

export interface SessionEntry {
  id: string;
  module: LoadedModule;
  slot: Buffer;
  slotId: string;
  tokenLabel: string;
  readWrite: boolean;
  native: Buffer;
  /** Native sessions left with an operation we could not end; closed with the handle. */
  retired: Buffer[];
}

export function sessionContext(s: SessionEntry): ErrorContext {
  const ctx: ErrorContext = { modulePath: s.module.config.path, slotId: s.slotId, tokenLabel: s.tokenLabel };
  if (s.module.name !== undefined) ctx.moduleName = s.module.name;
  return ctx;
}

export class SessionTable {
  private readonly entries = new Map<string, SessionEntry>();
  private counter = 0;

  add(entry: Omit<SessionEntry, 'id' | 'retired'>): SessionEntry {
    this.counter += 1;
    const full: SessionEntry = { ...entry, id: `session-${this.counter}`, retired: [] };
    this.entries.set(full.id, full);
    return full;
  }

  get(id: string): SessionEntry {
    const entry = typeof id === 'string' ? this.entries.get(id) : undefined;
    if (!entry) {
      throw new TokenError(
        ErrorCodes.SESSION_UNKNOWN,
        `Session ${String(id)} is not open (it was closed, or its module was unloaded)`,
        'Open a new session on the token.',
      );
    }
    return entry;
  }

  remove(id: string): void {
    this.entries.delete(id);
  }

  onSlot(moduleId: string, slotId: string): SessionEntry[] {
    return [...this.entries.values()].filter((e) => e.module.id === moduleId && e.slotId === slotId);
  }

  onModule(moduleId: string): SessionEntry[] {
    return [...this.entries.values()].filter((e) => e.module.id === moduleId);
  }

  all(): SessionEntry[] {
    return [...this.entries.values()];
  }
}

/** Close every native session behind a handle, ignoring errors: the token may already be gone. */
export function closeNative(lib: PKCS11 | null, entry: SessionEntry): void {
  if (!lib) return;
  for (const h of [entry.native, ...entry.retired]) {
    try {
      lib.C_CloseSession(h);
    } catch {
      // Already closed by the module (token removed, C_Finalize).
    }
  }
  entry.retired = [];
}
