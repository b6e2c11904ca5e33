import { CodedError } from '../hsm/errors.js';
import type { ErrorData } from '../hsm/types.js';

/** A failure of the app's own logic (settings, files, input), carried across IPC as data like TokenError. */
export class AppError extends CodedError {}

/**
 * What to do after a failure nobody anticipated. It cannot promise that nothing changed: the call may have
 * stopped after it touched the token or wrote to the transcript, so the room is sent to look, not to retry.
 */
export const INTERNAL_REMEDY =
  'Note what you were doing and report it. The call may have stopped part-way, after changing the token or the transcript: before going on, look at the ceremony as recorded (Home, or its last transcript entries) instead of assuming nothing happened.';

/** Any failure as data for the UI or the CLI; something uncoded is a bug of ours and says so. */
export function toErrorData(error: unknown): ErrorData {
  if (error instanceof CodedError) return error.toData();
  // Say what failed without leaking internals such as stacks.
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'INTERNAL', message: `Unexpected failure in the main process: ${message}`, remedy: INTERNAL_REMEDY };
}
