// A token layer for fault injection: every call goes to the real driver (SoftHSM), except the one the test
// arms, which fails with the PKCS#11 error it names, either before it reaches the token (nothing happened)
// or after (it happened, but the answer was lost: a device that resets or is pulled after acting). Every
// call is counted and named, so a test can fail each call of a ceremony in turn.
import type { TokenLayer } from '../../hsm/token.js';
import { TokenError } from '../../hsm/errors.js';

export const FAULT_CODES = ['CKR_DEVICE_ERROR', 'CKR_DEVICE_REMOVED', 'CKR_SESSION_HANDLE_INVALID', 'CKR_GENERAL_ERROR', 'CKR_PIN_INCORRECT'] as const;
export type FaultCode = (typeof FAULT_CODES)[number];

/** Calls that change the token: a fault after them leaves the change made. */
export const MUTATING = ['initToken', 'initUserPin', 'setPin', 'generateKeyPair', 'generateSecretKey', 'createDataObject', 'replaceDataObject', 'destroyObject', 'createPublicKeyFromSpki'];

/** Calls that only read the module's configuration, never the token: not counted. */
const NOT_TOKEN_CALLS = new Set(['configureModules', 'listModules', 'close']);

export interface Fault {
  /** 1-based index of the token call to fail (counting only calls of `call`, when given). */
  at: number;
  call?: string;
  code: FaultCode;
  when: 'before' | 'after';
}

export interface FaultyLayer {
  layer: TokenLayer;
  /** The token calls made so far, in order. */
  calls: string[];
  /** Arm a fault (counting from the next call), or disarm with undefined. */
  arm(fault: Fault | undefined): void;
  /** Whether the armed fault has fired. */
  fired(): boolean;
}

export function faultyLayer(real: TokenLayer): FaultyLayer {
  const calls: string[] = [];
  let fault: Fault | undefined;
  let base = 0;
  let seen = 0;
  let fired = false;
  const layer = new Proxy(real, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function' || typeof name !== 'string' || NOT_TOKEN_CALLS.has(name)) return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      return async (...args: unknown[]) => {
        calls.push(name);
        if (fault && (fault.call === undefined || fault.call === name)) seen += 1;
        const now = fault && !fired && (fault.call === undefined ? calls.length - base : seen) === fault.at && (fault.call === undefined || fault.call === name) ? fault : undefined;
        const injected = () => {
          fired = true;
          return new TokenError(now!.code, `injected ${now!.code} ${now!.when} ${name} (token call ${now!.at})`);
        };
        if (now?.when === 'before') throw injected();
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (now?.when === 'after') throw injected();
        return result;
      };
    },
  });
  return {
    layer,
    calls,
    arm(f) {
      fault = f;
      base = calls.length;
      seen = 0;
      fired = false;
    },
    fired: () => fired,
  };
}
