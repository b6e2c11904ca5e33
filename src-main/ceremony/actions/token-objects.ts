// The objects of a logged-in token as plain data for the transcript: class, key type, label, CKA_ID and the
// attributes that say how a key may leave the token. destroy-key records what it destroys with it, and
// audit-token lists every object of the token with it. Nothing secret is read (CKA_VALUE never is).
import type { TokenLayer } from '../../../hsm/token.js';
import type { AttributeName, ObjectHandle, SessionHandle } from '../../../hsm/types.js';

const CLASS_NAMES: Record<number, string> = { 0: 'DATA', 1: 'CERTIFICATE', 2: 'PUBLIC_KEY', 3: 'PRIVATE_KEY', 4: 'SECRET_KEY' };
const KEY_TYPE_NAMES: Record<number, string> = { 0x0: 'RSA', 0x3: 'EC', 0x10: 'GENERIC_SECRET', 0x1f: 'AES' };

const READ: readonly AttributeName[] = ['CKA_CLASS', 'CKA_KEY_TYPE', 'CKA_LABEL', 'CKA_ID', 'CKA_TOKEN', 'CKA_PRIVATE', 'CKA_SENSITIVE', 'CKA_ALWAYS_SENSITIVE', 'CKA_EXTRACTABLE', 'CKA_NEVER_EXTRACTABLE', 'CKA_LOCAL'];

/** One object of the token as recorded (the handle is for this session only and is never recorded). */
export interface TokenObject {
  handle: ObjectHandle;
  class: string;
  keyType: string | null;
  label: string;
  /** CKA_ID, lowercase hex ('' when empty). */
  id: string;
  /** true: a token object; false: a session object (gone when its session closes). */
  token: boolean | null;
  private: boolean | null;
  sensitive: boolean | null;
  alwaysSensitive: boolean | null;
  extractable: boolean | null;
  neverExtractable: boolean | null;
  local: boolean | null;
}

const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);

export async function describeObject(layer: TokenLayer, session: SessionHandle, handle: ObjectHandle): Promise<TokenObject> {
  const a = await layer.getAttributes(session, handle, READ);
  const cls = typeof a.CKA_CLASS === 'number' ? (CLASS_NAMES[a.CKA_CLASS] ?? `0x${a.CKA_CLASS.toString(16)}`) : 'unknown';
  const kt = typeof a.CKA_KEY_TYPE === 'number' ? (KEY_TYPE_NAMES[a.CKA_KEY_TYPE] ?? `0x${a.CKA_KEY_TYPE.toString(16)}`) : null;
  const label = typeof a.CKA_LABEL === 'string' ? a.CKA_LABEL : a.CKA_LABEL instanceof Uint8Array ? Buffer.from(a.CKA_LABEL).toString('utf8') : '';
  const id = a.CKA_ID instanceof Uint8Array ? Buffer.from(a.CKA_ID).toString('hex') : '';
  return {
    handle,
    class: cls,
    keyType: cls === 'DATA' ? null : kt,
    label,
    id,
    token: bool(a.CKA_TOKEN),
    private: bool(a.CKA_PRIVATE),
    sensitive: bool(a.CKA_SENSITIVE),
    alwaysSensitive: bool(a.CKA_ALWAYS_SENSITIVE),
    extractable: bool(a.CKA_EXTRACTABLE),
    neverExtractable: bool(a.CKA_NEVER_EXTRACTABLE),
    local: bool(a.CKA_LOCAL),
  };
}

/** Every object this logged-in session can see (C_FindObjects with an empty template). */
export async function listObjects(layer: TokenLayer, session: SessionHandle): Promise<TokenObject[]> {
  const out: TokenObject[] = [];
  for (const h of await layer.findAll(session, {})) out.push(await describeObject(layer, session, h));
  return out;
}

/** An object as the transcript records it: without the session's handle, and without attributes the token did not report. */
export function objectRecord(o: TokenObject): Record<string, string | boolean> {
  const { handle: _handle, ...rest } = o;
  const out: Record<string, string | boolean> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== null) out[k] = v;
  return out;
}

/** An object named in words: "PRIVATE_KEY (EC) 'k1', CKA_ID 0a0b". */
export function objectName(o: Pick<TokenObject, 'class' | 'keyType' | 'label' | 'id'>): string {
  return `${o.class}${o.keyType ? ` (${o.keyType})` : ''} '${o.label}'${o.id ? `, CKA_ID ${o.id}` : ', no CKA_ID'}`;
}
