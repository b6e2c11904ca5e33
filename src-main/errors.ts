import { CodedError } from '../hsm/errors.js';
import type { ErrorData } from '../hsm/types.js';

/** A failure of the app's own logic (settings, files, input), carried across IPC as data like TokenError. */
export class AppError extends CodedError {}

/** Any failure as data for the UI or the CLI; something uncoded is a bug of ours and says so. */
export function toErrorData(error: unknown): ErrorData {
  if (error instanceof CodedError) return error.toData();
  // Say what failed without leaking internals such as stacks.
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: 'INTERNAL',
    message: `Unexpected failure in the main process: ${message}`,
    remedy: 'Note what you were doing and report it; the ceremony state was not changed by this call.',
  };
}
