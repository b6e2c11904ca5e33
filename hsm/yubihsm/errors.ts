// YubiHSM failures as TokenError: a code, a sentence a custodian understands, and a remedy.
import { TokenError } from '../errors.js';
import { Command, DeviceError, commandName, deviceErrorName } from './constants.js';

/** Our own codes for failures that are not a device error byte. */
export const YubiHsmErrorCodes = {
  WRONG_PASSWORD: 'YUBIHSM_WRONG_PASSWORD',
  RESPONSE_MAC_MISMATCH: 'YUBIHSM_RESPONSE_MAC_MISMATCH',
  BAD_RESPONSE: 'YUBIHSM_BAD_RESPONSE',
  MESSAGE_TOO_LONG: 'YUBIHSM_MESSAGE_TOO_LONG',
  SESSION_CLOSED: 'YUBIHSM_SESSION_CLOSED',
  UNPLUGGED: 'YUBIHSM_UNPLUGGED',
  NOT_FOUND: 'YUBIHSM_NOT_FOUND',
  USB_FAILED: 'YUBIHSM_USB_FAILED',
  CONNECTOR_NOT_LOOPBACK: 'YUBIHSM_CONNECTOR_NOT_LOOPBACK',
  CONNECTOR_UNREACHABLE: 'YUBIHSM_CONNECTOR_UNREACHABLE',
  CONNECTOR_FAILED: 'YUBIHSM_CONNECTOR_FAILED',
  LOG_CHAIN_BROKEN: 'YUBIHSM_LOG_CHAIN_BROKEN',
  INVALID_ARGUMENT: 'YUBIHSM_INVALID_ARGUMENT',
} as const;

/** The code a device error byte maps to, e.g. YUBIHSM_OBJECT_NOT_FOUND. */
export const deviceErrorCode = (error: number) => `YUBIHSM_${deviceErrorName(error)}`;

interface Sentence {
  message: string;
  remedy: string;
}

function sentenceFor(error: number, command: number): Sentence {
  const what = commandName(command);
  switch (error) {
    case DeviceError.AUTHENTICATION_FAILED:
      if (command === Command.AUTHENTICATE_SESSION || command === Command.CREATE_SESSION)
        return {
          message: 'The YubiHSM did not accept the authentication key password.',
          remedy: 'Check the authentication key id and re-enter the password; the session was not opened.',
        };
      return {
        message: `The YubiHSM rejected the ${what} message: its integrity check (MAC) did not verify, so it may have been altered on the way, and the device closed the session.`,
        remedy: 'Check the USB cable or connector, then open a new session and repeat the step.',
      };
    case DeviceError.INVALID_SESSION:
      return {
        message: 'The YubiHSM no longer knows this session (it timed out, was closed, or the device restarted).',
        remedy: 'Open a new session and repeat the step.',
      };
    case DeviceError.SESSIONS_FULL:
      return {
        message: 'All 16 sessions of the YubiHSM are in use.',
        remedy: 'Close sessions held by other programs (or wait 30 seconds for idle ones to expire), then try again.',
      };
    case DeviceError.SESSION_FAILED:
      return { message: 'The YubiHSM could not create a session.', remedy: 'Try again; if it persists, re-plug the device.' };
    case DeviceError.OBJECT_NOT_FOUND:
      return {
        message: `The YubiHSM has no object for ${what} that this session may see (wrong id, wrong type, or a domain this authentication key does not hold).`,
        remedy: 'Check the object id and type, and that the authentication key shares a domain with the object.',
      };
    case DeviceError.INSUFFICIENT_PERMISSIONS:
      return {
        message: `The YubiHSM refused ${what}: the authentication key or the object lacks a capability it needs, or asked to grant capabilities it may not delegate.`,
        remedy: 'Use an authentication key whose capabilities (and delegated capabilities) include this operation.',
      };
    case DeviceError.OBJECT_EXISTS:
      return { message: `The YubiHSM already holds an object with this id and type (${what}).`, remedy: 'Choose another object id, or 0 to let the device choose.' };
    case DeviceError.INVALID_DATA:
    case DeviceError.WRONG_LENGTH:
      return { message: `The YubiHSM rejected the parameters of ${what} as malformed.`, remedy: 'This is a defect in the application; report it with the transcript.' };
    case DeviceError.INVALID_COMMAND:
      return { message: `The YubiHSM does not know the command ${what} (older firmware?).`, remedy: 'Check the firmware version: RSA wrapping needs firmware 2.4 or later.' };
    case DeviceError.INVALID_ID:
      return { message: `The YubiHSM rejected the object id given to ${what}.`, remedy: 'Choose an id between 1 and 65534, or 0 to let the device choose.' };
    case DeviceError.STORAGE_FAILED:
      return { message: 'The YubiHSM has no room left for the object (256 objects or 126 KB at most).', remedy: 'Delete objects that are no longer needed.' };
    case DeviceError.LOG_FULL:
      return {
        message: 'The YubiHSM audit log is full and forced audit is on, so the device refuses logged commands.',
        remedy: 'Read the audit log and mark it consumed (SET LOG INDEX), then repeat the step.',
      };
    case DeviceError.ALGORITHM_DISABLED:
      return { message: `The algorithm asked of ${what} is disabled on this YubiHSM.`, remedy: 'Enable it (only possible on a freshly reset device) or choose another.' };
    case DeviceError.DEMO_MODE:
      return { message: 'The YubiHSM is in demo mode and must be power cycled.', remedy: 'Unplug the device and plug it back in.' };
    default:
      return { message: `The YubiHSM answered ${what} with error ${deviceErrorName(error)}.`, remedy: 'Try again; if it persists, report it with the transcript.' };
  }
}

export function deviceError(error: number, command: number): TokenError {
  const s = sentenceFor(error, command);
  return new TokenError(deviceErrorCode(error), s.message, s.remedy);
}

export function protocolError(code: string, message: string, remedy?: string): TokenError {
  return new TokenError(code, message, remedy);
}

export const unplugged = () =>
  new TokenError(YubiHsmErrorCodes.UNPLUGGED, 'The YubiHSM was unplugged.', 'Plug it back in and open a new session; the step that was running did not complete.');
