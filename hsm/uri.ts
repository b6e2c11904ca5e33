// PKCS#11 URIs (RFC 7512): how a ceremony configuration names the token to use, independently of slot
// numbers that change when tokens are replugged or re-initialised.
import { ErrorCodes, TokenError } from './errors.js';

const STRING_PATH_ATTRIBUTES = [
  'token',
  'manufacturer',
  'serial',
  'model',
  'library-manufacturer',
  'library-description',
  'library-version',
  'slot-id',
  'slot-description',
  'slot-manufacturer',
  'object',
  'type',
] as const;
type StringPathAttribute = (typeof STRING_PATH_ATTRIBUTES)[number];

const QUERY_ATTRIBUTES = ['pin-source', 'pin-value', 'module-name', 'module-path'] as const;
type QueryAttribute = (typeof QUERY_ATTRIBUTES)[number];

export const OBJECT_TYPES = ['public', 'private', 'cert', 'secret-key', 'data'] as const;
export type UriObjectType = (typeof OBJECT_TYPES)[number];

export interface Pkcs11Uri {
  /** Path attributes, percent-decoded (UTF-8). An empty value (e.g. `serial=`) is kept as ''. */
  path: Partial<Record<StringPathAttribute, string>>;
  /** `id` is a byte string, not text. */
  id?: Uint8Array;
  query: Partial<Record<QueryAttribute, string>>;
}

const SCHEME = 'pkcs11:';
// RFC 7512 section 2.3: what may appear unescaped in a path or query value besides unreserved characters.
// "&" is accepted in the path for compatibility with URIs produced by p11-kit.
const UNRESERVED = /[A-Za-z0-9\-._~]/;
const PATH_EXTRA = new Set([':', '[', ']', '@', '!', '$', "'", '(', ')', '*', '+', ',', '=', '&']);
const QUERY_EXTRA = new Set([':', '[', ']', '@', '!', '$', "'", '(', ')', '*', '+', ',', ';', '/', '?', '|']);
// A vendor attribute is any name with a dash that we do not know (RFC 7512 section 2.3: ignored).
const ATTRIBUTE_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/i;

function invalid(message: string, remedy = 'Correct the PKCS#11 URI; see RFC 7512 for the syntax.'): TokenError {
  return new TokenError(ErrorCodes.URI_INVALID, message, remedy);
}

function percentDecode(raw: string, allowed: Set<string>, where: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c === '%') {
      const h = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) throw invalid(`PKCS#11 URI: ${where} has a bad percent escape "%${h}" (a % must be followed by two hex digits)`);
      out.push(parseInt(h, 16));
      i += 2;
    } else if (UNRESERVED.test(c) || allowed.has(c)) {
      out.push(c.charCodeAt(0));
    } else {
      throw invalid(`PKCS#11 URI: ${where} contains "${c}", which must be percent-encoded (${encodeURIComponent(c) === c ? '%' + c.charCodeAt(0).toString(16).toUpperCase() : encodeURIComponent(c)})`);
    }
  }
  return Uint8Array.from(out);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(bytes: Uint8Array, where: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw invalid(`PKCS#11 URI: ${where} is not valid UTF-8 after percent-decoding`);
  }
}

function validatePathValue(name: StringPathAttribute, value: string): void {
  if (name === 'slot-id' && !/^[0-9]+$/.test(value)) {
    throw invalid(`PKCS#11 URI: slot-id "${value}" must be a decimal number`);
  }
  if (name === 'library-version' && !/^[0-9]+(\.[0-9]+)?$/.test(value)) {
    throw invalid(`PKCS#11 URI: library-version "${value}" must be a version like "2" or "2.6"`);
  }
  if (name === 'type' && !(OBJECT_TYPES as readonly string[]).includes(value)) {
    throw invalid(`PKCS#11 URI: type "${value}" must be one of ${OBJECT_TYPES.join(', ')}`);
  }
}

export function parsePkcs11Uri(input: string): Pkcs11Uri {
  if (typeof input !== 'string' || input.slice(0, SCHEME.length).toLowerCase() !== SCHEME) {
    throw invalid(`PKCS#11 URI "${String(input)}" must start with "pkcs11:"`);
  }
  const rest = input.slice(SCHEME.length);
  if (rest.includes('#')) throw invalid('PKCS#11 URI: a fragment ("#") is not allowed; percent-encode "#" as %23');
  const q = rest.indexOf('?');
  const pathPart = q < 0 ? rest : rest.slice(0, q);
  const queryPart = q < 0 ? '' : rest.slice(q + 1);
  const result: Pkcs11Uri = { path: {}, query: {} };
  const seen = new Set<string>();

  for (const item of pathPart === '' ? [] : pathPart.split(';')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalid(`PKCS#11 URI: path part "${item}" must be attribute=value`);
    const name = item.slice(0, eq).toLowerCase();
    const rawValue = item.slice(eq + 1);
    if (!ATTRIBUTE_NAME.test(name)) throw invalid(`PKCS#11 URI: "${item.slice(0, eq)}" is not a valid attribute name`);
    if (seen.has(name)) throw invalid(`PKCS#11 URI: path attribute "${name}" appears more than once`);
    seen.add(name);
    const bytes = percentDecode(rawValue, PATH_EXTRA, `attribute "${name}"`);
    if (name === 'id') {
      result.id = bytes;
    } else if ((STRING_PATH_ATTRIBUTES as readonly string[]).includes(name)) {
      const attr = name as StringPathAttribute;
      const value = decodeText(bytes, `attribute "${name}"`);
      validatePathValue(attr, value);
      result.path[attr] = value;
    } else if (!name.includes('-')) {
      throw invalid(`PKCS#11 URI: unknown path attribute "${name}"`, 'Use one of the RFC 7512 attributes (token, manufacturer, serial, model, slot-id, object, type, id, ...).');
    }
    // Otherwise a vendor-specific attribute: ignored, as RFC 7512 requires of a consumer that does not know it.
  }

  const seenQuery = new Set<string>();
  for (const item of queryPart === '' ? [] : queryPart.split('&')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalid(`PKCS#11 URI: query part "${item}" must be attribute=value`);
    const name = item.slice(0, eq).toLowerCase();
    if (!ATTRIBUTE_NAME.test(name)) throw invalid(`PKCS#11 URI: "${item.slice(0, eq)}" is not a valid query attribute name`);
    if (seenQuery.has(name)) throw invalid(`PKCS#11 URI: query attribute "${name}" appears more than once`);
    seenQuery.add(name);
    const value = decodeText(percentDecode(item.slice(eq + 1), QUERY_EXTRA, `query attribute "${name}"`), `query attribute "${name}"`);
    if ((QUERY_ATTRIBUTES as readonly string[]).includes(name)) {
      result.query[name as QueryAttribute] = value;
    } else if (!name.includes('-')) {
      throw invalid(`PKCS#11 URI: unknown query attribute "${name}"`, 'Use pin-source, pin-value, module-name or module-path.');
    }
  }
  if (result.query['pin-source'] !== undefined && result.query['pin-value'] !== undefined) {
    throw invalid('PKCS#11 URI: pin-source and pin-value must not both be given', 'Keep only one of pin-source and pin-value.');
  }
  return result;
}

/** What a URI is matched against. Strings are as the module reports them; blank padding is trimmed here. */
export interface UriMatchTarget {
  module: { path: string; manufacturer?: string; description?: string; version?: { major: number; minor: number } };
  slot: { slotId: string; description?: string; manufacturer?: string };
  token?: { label: string; manufacturer: string; model: string; serial: string };
}

/** libsofthsm2.so -> softhsm2, the "module-name" form of RFC 7512 section 2.3. */
export function moduleNameOf(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? path;
  return base.replace(/^lib/, '').replace(/\.(so(\.[0-9]+)*|dylib|dll)$/i, '');
}

const TOKEN_ATTRIBUTES = ['token', 'manufacturer', 'serial', 'model'] as const;

/**
 * Whether a module/slot/token satisfies the URI's library, slot and token attributes. Object attributes
 * (object, type, id) select objects on a token and do not take part. An absent attribute matches anything.
 */
export function uriMatches(uri: Pkcs11Uri, target: UriMatchTarget): boolean {
  const p = uri.path;
  const eq = (want: string | undefined, have: string | undefined) => want === undefined || (have ?? '').trim() === want;
  if (uri.query['module-path'] !== undefined && uri.query['module-path'] !== target.module.path) return false;
  if (uri.query['module-name'] !== undefined) {
    const want = uri.query['module-name'];
    const base = target.module.path.split(/[\\/]/).pop() ?? '';
    if (want !== moduleNameOf(target.module.path) && want !== base) return false;
  }
  if (!eq(p['library-manufacturer'], target.module.manufacturer)) return false;
  if (!eq(p['library-description'], target.module.description)) return false;
  if (p['library-version'] !== undefined) {
    const [major, minor = '0'] = p['library-version'].split('.');
    const v = target.module.version;
    if (!v || v.major !== Number(major) || v.minor !== Number(minor)) return false;
  }
  if (p['slot-id'] !== undefined && p['slot-id'] !== target.slot.slotId) return false;
  if (!eq(p['slot-description'], target.slot.description)) return false;
  if (!eq(p['slot-manufacturer'], target.slot.manufacturer)) return false;
  const wantsToken = TOKEN_ATTRIBUTES.some((a) => p[a] !== undefined);
  if (wantsToken && !target.token) return false;
  if (target.token) {
    const t = target.token;
    if (!eq(p.token, t.label) || !eq(p.manufacturer, t.manufacturer) || !eq(p.model, t.model) || !eq(p.serial, t.serial)) return false;
  }
  return true;
}

function encodeValue(value: string | Uint8Array, allowed: Set<string>): string {
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && (UNRESERVED.test(c) || allowed.has(c)) && c !== '%' ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** A URI naming one token, for display and for ceremony configurations. */
export function formatTokenUri(token: { label: string; manufacturer?: string; model?: string; serial?: string }): string {
  // "=" and "&" are legal in a path value but some parsers choke on them; encode them for portability.
  const safe = new Set([...PATH_EXTRA].filter((c) => c !== '=' && c !== '&'));
  const parts: string[] = [];
  if (token.model !== undefined) parts.push(`model=${encodeValue(token.model, safe)}`);
  if (token.manufacturer !== undefined) parts.push(`manufacturer=${encodeValue(token.manufacturer, safe)}`);
  if (token.serial !== undefined) parts.push(`serial=${encodeValue(token.serial, safe)}`);
  parts.push(`token=${encodeValue(token.label, safe)}`);
  return SCHEME + parts.join(';');
}
