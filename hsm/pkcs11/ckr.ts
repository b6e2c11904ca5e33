// CK_RV codes in words a custodian understands. The ceremony administrator reads these aloud, so each
// sentence says what happened to the token, not which C function failed, and each remedy is something a
// person in the room can do.
import pkcs11js from 'pkcs11js';
import { ErrorCodes, TokenError } from '../errors.js';

export interface CkrDescription {
  name: string;
  code: number;
  message: string;
  remedy: string;
}

type Entry = readonly [message: string, remedy: string];

const RETRY = 'Try the step again; if it keeps failing, note the code in the transcript and use another token.';
const REPORT = 'This is a defect in this application or the token driver: note the code in the transcript and stop the ceremony.';
const RECONNECT = 'Check that the token is plugged in, reconnect it and try again.';
const UNSUPPORTED = 'Choose an algorithm this token supports, or use a token that supports this one.';

// Keyed by name, not number, so the table reads like the specification. Names pkcs11js does not export
// (PKCS#11 2.40 and 3.0 additions) are given with their values in EXTRA_CODES below.
const TABLE: Record<string, Entry> = {
  CKR_OK: ['the operation succeeded', 'Nothing to do.'],
  CKR_CANCEL: ['the operation was cancelled at the token', 'Start the step again.'],
  CKR_HOST_MEMORY: ['this computer ran out of memory talking to the token', 'Close other programs and try again.'],
  CKR_SLOT_ID_INVALID: [
    'the slot has disappeared (the token was removed, or the module renumbered its slots)',
    'Reconnect the token, refresh the list of tokens and choose it again.',
  ],
  CKR_GENERAL_ERROR: ['the token reported an unrecoverable error', 'Remove and reconnect the token; if it persists, use another token.'],
  CKR_FUNCTION_FAILED: ['the token could not complete the operation', RETRY],
  CKR_ARGUMENTS_BAD: ['the token rejected the request as malformed or unsupported', UNSUPPORTED],
  CKR_NO_EVENT: ['there is no new slot event', 'Nothing to do.'],
  CKR_NEED_TO_CREATE_THREADS: ['the module needs to create threads and was not allowed to', REPORT],
  CKR_CANT_LOCK: ['the module cannot provide the locking this application asked for', REPORT],
  CKR_ATTRIBUTE_READ_ONLY: ['the token does not allow that property of the object to be changed', REPORT],
  CKR_ATTRIBUTE_SENSITIVE: ['the token refuses to reveal that value because it is sensitive', 'Nothing to do: secret values never leave the token in plaintext.'],
  CKR_ATTRIBUTE_TYPE_INVALID: ['the object does not have that property', REPORT],
  CKR_ATTRIBUTE_VALUE_INVALID: ['the token rejected a value in the object template', 'Check the key parameters in the ceremony configuration.'],
  CKR_ACTION_PROHIBITED: ['the token\'s policy prohibits this action', 'Check the token\'s policy settings with its administrator.'],
  CKR_DATA_INVALID: ['the token rejected the input data', 'Check the input file; it may be the wrong one or damaged.'],
  CKR_DATA_LEN_RANGE: ['the input data has a length the token cannot process with this algorithm', 'Check the input file; it may be the wrong one or damaged.'],
  CKR_DEVICE_ERROR: ['the token reported a hardware error', 'Remove and reconnect the token; if it persists, use another token.'],
  CKR_DEVICE_MEMORY: ['the token has run out of storage', 'Delete objects that are no longer needed, or use another token.'],
  CKR_DEVICE_REMOVED: ['the token was removed during the operation', RECONNECT],
  CKR_ENCRYPTED_DATA_INVALID: ['the token rejected the encrypted data as invalid', 'Check that the right file and the right key were chosen.'],
  CKR_ENCRYPTED_DATA_LEN_RANGE: ['the encrypted data has the wrong length', 'Check that the right file and the right key were chosen.'],
  CKR_AEAD_DECRYPT_FAILED: ['the encrypted data failed its integrity check', 'Check that the right file and the right key were chosen.'],
  CKR_CURVE_NOT_SUPPORTED: ['the token does not support this elliptic curve', UNSUPPORTED],
  CKR_FUNCTION_CANCELED: ['the operation was cancelled', 'Start the step again.'],
  CKR_FUNCTION_NOT_PARALLEL: ['the token cannot run this operation in parallel', REPORT],
  CKR_FUNCTION_NOT_SUPPORTED: ['the token does not support this operation', UNSUPPORTED],
  CKR_KEY_HANDLE_INVALID: ['the key no longer exists on the token (or was never there)', 'Refresh the list of objects and choose the key again.'],
  CKR_KEY_SIZE_RANGE: ['the token does not support this key size', 'Choose a key size the token supports.'],
  CKR_KEY_TYPE_INCONSISTENT: ['the key is of the wrong type for this algorithm', 'Choose a key that matches the algorithm.'],
  CKR_KEY_NOT_NEEDED: ['the operation does not take a key but one was given', REPORT],
  CKR_KEY_CHANGED: ['the key has changed since it was last used', 'Refresh the list of objects and choose the key again.'],
  CKR_KEY_NEEDED: ['the operation needs a key that was not given', REPORT],
  CKR_KEY_INDIGESTIBLE: ['the token cannot digest this key', UNSUPPORTED],
  CKR_KEY_FUNCTION_NOT_PERMITTED: ['the key\'s attributes do not allow this use', 'Use a key generated for this purpose; key usage cannot be widened afterwards.'],
  CKR_KEY_NOT_WRAPPABLE: ['the token will not wrap this key', 'Use a key created as extractable, or a wrapping algorithm the token allows for it.'],
  CKR_KEY_UNEXTRACTABLE: [
    'the key was created as non-extractable, so the token will not let it be wrapped or exported',
    'Generate a new key with extractable set if it must be exported; an existing key cannot be changed.',
  ],
  CKR_MECHANISM_INVALID: ['the token does not support this algorithm', UNSUPPORTED],
  CKR_MECHANISM_PARAM_INVALID: ['the token does not accept these algorithm parameters', UNSUPPORTED],
  CKR_OBJECT_HANDLE_INVALID: ['the object no longer exists on the token (or was never there)', 'Refresh the list of objects and choose it again.'],
  CKR_OPERATION_ACTIVE: ['another operation is still in progress in this session', 'Wait for it to finish, or close the session and open a new one.'],
  CKR_OPERATION_NOT_INITIALIZED: ['no operation was in progress to continue', REPORT],
  CKR_PIN_INCORRECT: ['the token did not accept the PIN', 'Re-enter the PIN carefully; the token locks after a few wrong attempts.'],
  CKR_PIN_INVALID: ['the new PIN contains characters the token does not accept', 'Choose a PIN with only the characters the token allows.'],
  CKR_PIN_LEN_RANGE: ['the PIN is too short or too long for this token', 'Choose a PIN within the token\'s minimum and maximum length.'],
  CKR_PIN_EXPIRED: ['the PIN has expired', 'Set a new PIN (the security officer can do this) before continuing.'],
  CKR_PIN_LOCKED: [
    'the PIN is locked after too many wrong attempts',
    'The security officer must log in and set a new user PIN; if the SO PIN is locked too, the token must be re-initialised, which erases it.',
  ],
  CKR_PIN_TOO_WEAK: ['the token considers the new PIN too weak', 'Choose a longer or less predictable PIN.'],
  CKR_SESSION_CLOSED: ['the session was closed during the operation', 'Open a new session and try again.'],
  CKR_SESSION_COUNT: ['the token has too many sessions open', 'Close other applications using the token and try again.'],
  CKR_SESSION_HANDLE_INVALID: ['the session no longer exists (the token may have been removed or reset)', 'Open a new session and try again.'],
  CKR_SESSION_PARALLEL_NOT_SUPPORTED: ['the token does not support parallel sessions', REPORT],
  CKR_SESSION_READ_ONLY: ['the session is read-only, so nothing can be created or changed', 'Open a read-write session for this step.'],
  CKR_SESSION_EXISTS: ['sessions are still open on this token', 'Close every session (and other applications using the token) first.'],
  CKR_SESSION_READ_ONLY_EXISTS: ['a read-only session is open, so the security officer cannot log in', 'Close the read-only sessions first.'],
  CKR_SESSION_READ_WRITE_SO_EXISTS: ['the security officer is logged in on a read-write session', 'Log the security officer out first.'],
  CKR_SIGNATURE_INVALID: ['the signature does not verify', 'Check that the right file and the right key were chosen.'],
  CKR_SIGNATURE_LEN_RANGE: ['the signature has the wrong length', 'Check that the right file and the right key were chosen.'],
  CKR_TEMPLATE_INCOMPLETE: ['the token needs more properties to create this object', REPORT],
  CKR_TEMPLATE_INCONSISTENT: ['the token rejected the combination of key properties requested', 'Check the key properties in the ceremony configuration; this token may not allow this combination.'],
  CKR_TOKEN_NOT_PRESENT: ['no token is present in the slot', RECONNECT],
  CKR_TOKEN_NOT_RECOGNIZED: [
    'the token is not recognised: it has probably not been initialised yet',
    'Run init-token for this slot (this sets the label and SO PIN), then set the user PIN.',
  ],
  CKR_TOKEN_WRITE_PROTECTED: ['the token is write-protected', 'Remove the write protection or use another token.'],
  CKR_UNWRAPPING_KEY_HANDLE_INVALID: ['the unwrapping key no longer exists on the token', 'Refresh the list of objects and choose the key again.'],
  CKR_UNWRAPPING_KEY_SIZE_RANGE: ['the unwrapping key has a size the token cannot use', 'Choose a different unwrapping key.'],
  CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT: ['the unwrapping key is of the wrong type for this algorithm', 'Choose a key that matches the algorithm.'],
  CKR_USER_ALREADY_LOGGED_IN: ['someone is already logged in to this token', 'Log out first, or continue in the session that is logged in.'],
  CKR_USER_NOT_LOGGED_IN: ['this step needs a custodian to log in to the token first', 'Log in with the user PIN and try again.'],
  CKR_USER_PIN_NOT_INITIALIZED: ['the user PIN has not been set on this token', 'The security officer must log in and set the user PIN.'],
  CKR_USER_TYPE_INVALID: ['the token does not know that kind of user', REPORT],
  CKR_USER_ANOTHER_ALREADY_LOGGED_IN: ['a different user is already logged in to this token', 'Log that user out first.'],
  CKR_USER_TOO_MANY_TYPES: ['too many different users are logged in to this token', 'Log the other users out first.'],
  CKR_WRAPPED_KEY_INVALID: ['the wrapped key is not valid', 'Check that the right file and the right unwrapping key were chosen.'],
  CKR_WRAPPED_KEY_LEN_RANGE: ['the wrapped key has the wrong length', 'Check that the right file and the right unwrapping key were chosen.'],
  CKR_WRAPPING_KEY_HANDLE_INVALID: ['the wrapping key no longer exists on the token', 'Load the wrapping key again.'],
  CKR_WRAPPING_KEY_SIZE_RANGE: ['the wrapping key has a size the token cannot use for this algorithm', 'Ask for import parameters with a key size this token supports.'],
  CKR_WRAPPING_KEY_TYPE_INCONSISTENT: ['the wrapping key is of the wrong type for this algorithm', 'Check that the import parameters match the chosen wrapping algorithm.'],
  CKR_RANDOM_SEED_NOT_SUPPORTED: ['the token does not accept a random seed', 'Nothing to do: the token uses its own random source.'],
  CKR_RANDOM_NO_RNG: ['the token has no random number generator', 'Use a token with a random number generator.'],
  CKR_DOMAIN_PARAMS_INVALID: ['the token does not accept these key parameters (curve or domain)', UNSUPPORTED],
  CKR_BUFFER_TOO_SMALL: ['the result was larger than the space reserved for it', REPORT],
  CKR_SAVED_STATE_INVALID: ['the saved operation state is invalid', REPORT],
  CKR_INFORMATION_SENSITIVE: ['the token refuses to reveal that information because it is sensitive', 'Nothing to do.'],
  CKR_STATE_UNSAVEABLE: ['the token cannot save the operation state', REPORT],
  CKR_CRYPTOKI_NOT_INITIALIZED: ['the module has not been initialised', 'Reload the module in the settings and try again.'],
  CKR_CRYPTOKI_ALREADY_INITIALIZED: ['the module was already initialised by this application', 'Nothing to do.'],
  CKR_MUTEX_BAD: ['the module reported a locking error', REPORT],
  CKR_MUTEX_NOT_LOCKED: ['the module reported a locking error', REPORT],
  CKR_NEW_PIN_MODE: ['the token expects a new PIN', 'Set a new PIN and try again.'],
  CKR_NEXT_OTP: ['the token expects the next one-time password', 'Enter the next one-time password.'],
  CKR_EXCEEDED_MAX_ITERATIONS: ['the token gave up after too many iterations', RETRY],
  CKR_FIPS_SELF_TEST_FAILED: ['the token failed its FIPS self-test', 'Do not use this token; use another one.'],
  CKR_LIBRARY_LOAD_FAILED: ['the module could not load a library it needs', 'Reinstall the token driver.'],
  CKR_PUBLIC_KEY_INVALID: ['the token rejected the public key as invalid', 'Check that the import parameters file is the right one and undamaged.'],
  CKR_FUNCTION_REJECTED: ['the token (or the person at it) rejected the request', 'Check the token for a confirmation prompt and try again.'],
  CKR_TOKEN_RESOURCE_EXCEEDED: ['the token ran out of resources', 'Close other sessions or delete unneeded objects and try again.'],
  CKR_OPERATION_CANCEL_FAILED: ['the token could not cancel the operation', 'Close the session and open a new one.'],
};

/**
 * The same code means different things from different calls, and only some remedies fit: a
 * CKR_ARGUMENTS_BAD from C_InitToken is no reason to "choose an algorithm". Entries here replace the
 * general one for the named function.
 */
const PIN_REMEDY = 'Check that the PIN meets the token\'s length and character rules; nothing on the token changed.';
/** Where a token the app may not initialise goes instead: the ceremony for tokens initialised elsewhere (ceremonies/enrol-token.yaml). */
const ENROL_INSTEAD = "then enrol its custodians with the enrol-token ceremony ('Enrol custodians on an initialized token' on the Ceremony screen; keyceremony enrol-token on the command line)";
const BY_FUNCTION: Record<string, Record<string, Entry>> = {
  C_InitToken: {
    CKR_ARGUMENTS_BAD: [
      'the token refused to be initialised with this label and SO PIN (many HSM partitions and vendor modules do not allow an application to initialise a token at all)',
      `Check the token label (at most 32 bytes) and the SO PIN rules; if this token must be initialised with its vendor's tool, do that, ${ENROL_INSTEAD}.`,
    ],
    CKR_FUNCTION_NOT_SUPPORTED: [
      'this token does not allow an application to initialise it',
      `Initialise it with its vendor's tool, ${ENROL_INSTEAD}.`,
    ],
    CKR_PIN_INCORRECT: [
      'the token is already initialised and the SO PIN given is not its SO PIN, so it was not re-initialised',
      'Choose a blank token, or bring the token\'s current SO PIN; nothing on the token changed.',
    ],
    CKR_PIN_LEN_RANGE: ['the SO PIN is too short or too long for this token', PIN_REMEDY],
    CKR_TOKEN_WRITE_PROTECTED: ['the token is write-protected, so it cannot be initialised', 'Remove the write protection or use another token.'],
  },
  C_InitPIN: {
    CKR_ARGUMENTS_BAD: ['the token refused the new user PIN as malformed', PIN_REMEDY],
  },
  C_SetPIN: {
    CKR_ARGUMENTS_BAD: ['the token refused the PIN change as malformed', PIN_REMEDY],
  },
  C_Login: {
    CKR_ARGUMENTS_BAD: ['the token refused the login request as malformed', 'Check that the PIN meets the token\'s length rules and log in again.'],
  },
  C_GenerateKey: {
    CKR_ARGUMENTS_BAD: ['the token refused the key generation request (key type, size or properties)', 'Choose a key spec this token can generate, or use another token; nothing was generated.'],
  },
  C_GenerateKeyPair: {
    CKR_ARGUMENTS_BAD: ['the token refused the key pair generation request (key type, size, curve or properties)', 'Choose a key spec this token can generate, or use another token; nothing was generated.'],
  },
  C_CreateObject: {
    CKR_ARGUMENTS_BAD: ['the token refused to hold the object as given', 'Check the input file (for example the KMS wrapping public key); it may be the wrong one or damaged.'],
  },
};

// PKCS#11 2.40/3.0 codes pkcs11js 2.1.7 does not export.
const EXTRA_CODES: Record<string, number> = {
  CKR_ACTION_PROHIBITED: 0x1b,
  CKR_AEAD_DECRYPT_FAILED: 0x35,
  CKR_CURVE_NOT_SUPPORTED: 0x140,
  CKR_TOKEN_RESOURCE_EXCEEDED: 0x201,
  CKR_OPERATION_CANCEL_FAILED: 0x202,
};

export const CKR_VENDOR_DEFINED = 0x80000000;

function buildCodeTable(): Map<number, string> {
  const byCode = new Map<number, string>();
  const lib = pkcs11js as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(lib)) {
    if (name.startsWith('CKR_') && typeof value === 'number' && !byCode.has(value)) byCode.set(value, name);
  }
  for (const [name, value] of Object.entries(EXTRA_CODES)) if (!byCode.has(value)) byCode.set(value, name);
  return byCode;
}

const NAMES = buildCodeTable();

/** Every code this module has a name for, for tests and documentation. */
export function knownCkrCodes(): ReadonlyMap<number, string> {
  return NAMES;
}

export function hex(code: number): string {
  return '0x' + (code >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** `operation`: the C_ function that returned the code, when its remedy differs from the general one. */
export function describeCkr(code: number, operation?: string): CkrDescription {
  const name = NAMES.get(code);
  if (name !== undefined) {
    const entry = (operation !== undefined ? BY_FUNCTION[operation]?.[name] : undefined) ?? TABLE[name];
    if (entry) return { name, code, message: entry[0], remedy: entry[1] };
    return { name, code, message: `the token returned ${name} (${hex(code)})`, remedy: RETRY };
  }
  if (code >= CKR_VENDOR_DEFINED) {
    return {
      name: `CKR_VENDOR_DEFINED+${hex(code - CKR_VENDOR_DEFINED)}`,
      code,
      message: `the token returned a vendor-specific error ${hex(code)}`,
      remedy: 'Look the code up in the token vendor\'s documentation; note it in the transcript.',
    };
  }
  return {
    name: hex(code),
    code,
    message: `the token returned an unknown error code ${hex(code)}`,
    remedy: RETRY,
  };
}

/** Where an error happened, so the sentence can name the module and slot. */
export interface ErrorContext {
  modulePath: string;
  /** Short module name, e.g. "SoftHSM" (from the library manufacturer). */
  moduleName?: string;
  slotId?: string;
  tokenLabel?: string;
  /** The C_ function that failed, e.g. "C_InitToken": some codes need a remedy of their own there. */
  operation?: string;
}

/** "SoftHSM slot 123 (token "ceremony") via /usr/lib/softhsm/libsofthsm2.so" */
export function describeWhere(ctx: ErrorContext): string {
  const name = ctx.moduleName ? `${ctx.moduleName} ` : '';
  if (ctx.slotId === undefined) return `${ctx.moduleName ?? 'PKCS#11 module'} via ${ctx.modulePath}`;
  const token = ctx.tokenLabel ? ` (token "${ctx.tokenLabel}")` : '';
  return `${name}slot ${ctx.slotId}${token} via ${ctx.modulePath}`;
}

/** The CK_RV a pkcs11js error carries, or undefined for anything else. */
export function ckrOf(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const err = e as { name?: unknown; code?: unknown; message?: unknown };
  // Pkcs11Error keeps the name in .message ("CKR_PIN_INCORRECT") and the value in .code; a NativeError
  // has code 0 and no CKR_ prefix.
  if (typeof err.message !== 'string') return undefined;
  // Some pkcs11js paths (e.g. C_SetAttributeValue) throw an unparsed "CKR_NAME:value" message.
  const raw = /^(CKR_[A-Z0-9_]+):(\d+)/.exec(err.message);
  if (raw) return Number(raw[2]);
  if (typeof err.code === 'number' && err.message.startsWith('CKR_')) return err.code;
  return undefined;
}

export function isCkr(e: unknown, ...names: string[]): boolean {
  const code = ckrOf(e);
  return code !== undefined && names.includes(NAMES.get(code) ?? '');
}

/** The error a token returned, as a TokenError naming where it happened. */
export function ckrError(code: number, ctx: ErrorContext): TokenError {
  const d = describeCkr(code, ctx.operation);
  return new TokenError(d.name, `${describeWhere(ctx)}: ${d.message}`, d.remedy);
}

/**
 * Any exception from a pkcs11js call, as a TokenError. TokenErrors pass through; TypeErrors from pkcs11js
 * argument checking are our defect and say so.
 */
export function toTokenError(e: unknown, ctx: ErrorContext): TokenError {
  if (e instanceof TokenError) return e;
  const code = ckrOf(e);
  if (code !== undefined) {
    // pkcs11js names the failing C_ function on its errors (`method`); the driver's own word comes first.
    const method = (e as { method?: unknown }).method;
    return ckrError(code, ctx.operation === undefined && typeof method === 'string' && method.startsWith('C_') ? { ...ctx, operation: method } : ctx);
  }
  const reason = e instanceof Error ? e.message : String(e);
  return new TokenError(
    ErrorCodes.INVALID_ARGUMENT,
    `${describeWhere(ctx)}: the request could not be passed to the module (${reason})`,
    REPORT,
  );
}
