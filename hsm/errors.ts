import type { ErrorData } from './types.js';

/** An error that carries a code, a sentence and a remedy, and crosses process boundaries as plain data. */
export class CodedError extends Error {
  readonly code: string;
  readonly remedy: string | undefined;

  constructor(code: string, message: string, remedy?: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.remedy = remedy;
  }

  toData(): ErrorData {
    return this.remedy === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, remedy: this.remedy };
  }
}

/**
 * The one error type the token layer throws. `code` is a CKR_* name for errors a token returned, or one of
 * our own codes for everything else; `message` names the module or slot and says what happened in words a
 * custodian understands; `remedy` says what to do.
 */
export class TokenError extends CodedError {}

/** Our own codes, for failures that are not a CK_RV. */
export const ErrorCodes = {
  MODULE_NOT_FOUND: 'MODULE_NOT_FOUND',
  MODULE_LOAD_FAILED: 'MODULE_LOAD_FAILED',
  MODULE_NOT_LOADED: 'MODULE_NOT_LOADED',
  SLOT_NOT_FOUND: 'SLOT_NOT_FOUND',
  TOKEN_NOT_FOUND: 'TOKEN_NOT_FOUND',
  TOKEN_AMBIGUOUS: 'TOKEN_AMBIGUOUS',
  URI_INVALID: 'URI_INVALID',
  SESSION_UNKNOWN: 'SESSION_UNKNOWN',
  OBJECT_NOT_FOUND: 'OBJECT_NOT_FOUND',
  OBJECT_AMBIGUOUS: 'OBJECT_AMBIGUOUS',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
} as const;

export function isTokenError(e: unknown): e is TokenError {
  return e instanceof TokenError;
}

/**
 * Codes that say the token's session is gone (the host process died, the device was unplugged, the login
 * ended), not that the token refused what was asked: no retry on the same session can work, and a probe
 * must not report them as something the token cannot do.
 */
export const SESSION_LOST_CODES: ReadonlySet<string> = new Set(['HOST_EXITED', 'SESSION_UNKNOWN', 'CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED', 'CKR_USER_NOT_LOGGED_IN']);
