// The message shapes between the app and the token host process (host-main.ts), and the checks both ends
// apply to them. The host runs vendor PKCS#11 code; a request must never be able to make it do anything
// but a TokenLayer call, so the method is looked up in a fixed table, never on the layer by name.
import type { ErrorData } from '../../hsm/types.js';

/**
 * Every TokenLayer method the host serves, with the most arguments it takes. `close` is not here: the
 * proxy ends the host by disconnecting, and the host closes its layer on the way out (host-main.ts).
 */
export const HOST_METHODS = {
  configureModules: 1,
  listModules: 0,
  listSlots: 1,
  listMechanisms: 1,
  initToken: 3,
  openSession: 2,
  closeSession: 1,
  login: 3,
  logout: 1,
  initUserPin: 2,
  setPin: 3,
  generateSecretKey: 3,
  generateKeyPair: 4,
  createPublicKeyFromSpki: 3,
  getAttributes: 3,
  findOne: 2,
  findAll: 2,
  destroyObject: 2,
  wrapKey: 4,
  createSecretKey: 4,
  unwrapKey: 5,
  sign: 4,
  digest: 3,
  encrypt: 4,
  random: 2,
  createDataObject: 3,
  readDataObject: 2,
  replaceDataObject: 3,
  kmsCapabilities: 1,
  deviceLogSince: 2,
  exportUnderDomainWrapKey: 3,
  importUnderDomainWrapKey: 3,
  importAesUnderDomainRsaWrapKey: 4,
  deviceObjects: 2,
  deviceObjectAt: 3,
} as const;

export type HostMethod = keyof typeof HOST_METHODS;

export const isHostMethod = (m: unknown): m is HostMethod => typeof m === 'string' && Object.hasOwn(HOST_METHODS, m);

export interface HostRequest {
  id: number;
  method: HostMethod;
  args: unknown[];
}

/** A failure as data: a TokenError (or any coded error) keeps code and remedy; anything else is a bug and says its class. */
export type HostErrorData = ({ kind: 'token' } & ErrorData) | { kind: 'other'; name: string; message: string };

export type HostReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: HostErrorData };

/** Codes of the host's own refusals and of the proxy's report of a dead host. */
export const HostErrorCodes = {
  HOST_EXITED: 'HOST_EXITED',
  HOST_UNKNOWN_METHOD: 'HOST_UNKNOWN_METHOD',
  HOST_BAD_REQUEST: 'HOST_BAD_REQUEST',
} as const;

const MAX_DEPTH = 16;

/**
 * Plain data only: what the token interface passes (strings, numbers, booleans, null, Uint8Array, arrays
 * and plain objects). The advanced serialization would carry Maps, Dates or class instances stripped of
 * their prototype; nothing in the interface takes one, so their presence means a request we did not write.
 * Returns the path of the first offending value, or null.
 */
export function firstNonPlain(value: unknown, path = 'args', depth = 0): string | null {
  if (depth > MAX_DEPTH) return `${path} (nested too deeply)`;
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isNaN(value) ? path : null;
    case 'object':
      break;
    default:
      return path;
  }
  if (value instanceof Uint8Array) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = firstNonPlain(value[i], `${path}[${i}]`, depth + 1);
      if (bad) return bad;
    }
    return null;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return path;
  for (const [k, v] of Object.entries(value)) {
    const bad = firstNonPlain(v, `${path}.${k}`, depth + 1);
    if (bad) return bad;
  }
  return null;
}

/** Why a message is not a request the host will run, or null when it is one. */
export function requestProblem(message: unknown): { code: string; message: string } | null {
  if (typeof message !== 'object' || message === null) return { code: HostErrorCodes.HOST_BAD_REQUEST, message: 'The token host received a message that is not a request.' };
  const { method, args } = message as Record<string, unknown>;
  if (!isHostMethod(method)) return { code: HostErrorCodes.HOST_UNKNOWN_METHOD, message: `The token host has no method ${JSON.stringify(String(method))}.` };
  if (!Array.isArray(args)) return { code: HostErrorCodes.HOST_BAD_REQUEST, message: `The token host received ${method} without an argument list.` };
  if (args.length > HOST_METHODS[method]) return { code: HostErrorCodes.HOST_BAD_REQUEST, message: `The token host received ${args.length} arguments for ${method}, which takes at most ${HOST_METHODS[method]}.` };
  const bad = firstNonPlain(args);
  if (bad) return { code: HostErrorCodes.HOST_BAD_REQUEST, message: `The token host received ${method} with ${bad} that is not plain data.` };
  return null;
}

export const requestId = (message: unknown): number | null => {
  const id = typeof message === 'object' && message !== null ? (message as { id?: unknown }).id : undefined;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : null;
};
