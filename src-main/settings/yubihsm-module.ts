// A YubiHSM 2 entry in the module list: `yubihsm:usb` (the devices on this computer's USB) or
// `yubihsm:http://127.0.0.1:PORT` (a yubihsm-connector on this computer). Checked when added, so a typo
// is named at once and not later as a module that "did not load".
import { AppError } from '../errors.js';
import { loopbackTarget } from '../../hsm/yubihsm/transport-http.js';
import { YUBIHSM_MODULE_PREFIX, YUBIHSM_USB_MODULE } from '../../hsm/yubihsm/token-layer.js';

export const isYubiHsmEntry = (path: string) => path.trim().toLowerCase().startsWith(YUBIHSM_MODULE_PREFIX);

const REMEDY = 'Give yubihsm:usb for a YubiHSM 2 plugged into this computer, or yubihsm:http://127.0.0.1:12345 for a yubihsm-connector running on it (loopback only).';

/** The canonical entry for what the user typed, or an error naming the field and the remedy. */
export function normalizeYubiHsmEntry(path: string, initParameters?: string): string {
  if (initParameters !== undefined && initParameters.trim() !== '') {
    throw new AppError('MODULE_PATH_INVALID', 'initParameters: a YubiHSM 2 entry takes no init parameters (they are for PKCS#11 libraries).', 'Leave the init parameters empty.');
  }
  const rest = path.trim().slice(YUBIHSM_MODULE_PREFIX.length);
  if (rest.toLowerCase() === 'usb') return YUBIHSM_USB_MODULE;
  if (!/^https?:\/\//i.test(rest)) {
    throw new AppError('MODULE_PATH_INVALID', `path: "${path}" is neither yubihsm:usb nor yubihsm:http://HOST:PORT.`, REMEDY);
  }
  let display: string;
  try {
    display = loopbackTarget(rest).display;
  } catch (error) {
    // The settings field is `path`; on screen it is the connector URL: name both.
    throw new AppError('MODULE_PATH_INVALID', `path (connector URL): ${(error as Error).message}`, REMEDY);
  }
  return `${YUBIHSM_MODULE_PREFIX}${display}`;
}
