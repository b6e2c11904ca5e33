// One line of a journal or transcript.jsonl: parsed, shape-checked, checked to be in canonical form, and its
// hash checked. Shared by the store (on open) and the verifier, and written for speed: the verifier reads
// 100,000-entry transcripts.
import { canonicalJson, sha256Hex } from './canonical.js';
import { entryProblem } from './chain.js';
import { parseEntry, type Entry } from './entry.js';

export type LineResult = { ok: true; entry: Entry } | { ok: false; problem: string; seq?: number };

/** JCS key order (UTF-16 code units): what Array.prototype.sort does by default. */
function sortedKeys(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i += 1) if ((keys[i - 1] as string) >= (keys[i] as string)) return false;
  return true;
}

function keysInJcsOrder(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return value.every(keysInJcsOrder);
  const keys = Object.keys(value);
  if (!sortedKeys(keys)) return false;
  for (const k of keys) if (!keysInJcsOrder((value as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * Whether `text` is exactly the JCS form of the (already validated) entry. The fast path is exact for
 * entry values (safe integers, well-formed strings): when every object's own key order is already JCS
 * order, JCS and JSON.stringify emit the same bytes. Otherwise fall back to canonicalize itself.
 */
export function isCanonicalText(entry: Entry, text: string): boolean {
  if (keysInJcsOrder(entry) && JSON.stringify(entry) === text) return true;
  return canonicalJson(entry) === text;
}

const HASH_MEMBER = ',"hash":"';

/**
 * The bytes an entry's hash covers, cut from its canonical line: the line without its top-level "hash"
 * member. In canonical form the members after "hash" are kind, prev, seq, step and time, none of which can
 * contain `,"hash":"`, so the last occurrence is the top-level one.
 */
export function hashedTextFromCanonicalLine(text: string): string | undefined {
  const at = text.lastIndexOf(HASH_MEMBER);
  if (at < 0) return undefined;
  const end = at + HASH_MEMBER.length + 64 + 1;
  return text.slice(0, at) + text.slice(end);
}

/** Parse and check one line (without its newline). `where` prefixes problems, e.g. "transcript.jsonl line 3". */
export function parseEntryLine(text: string, where: string, expectedSeq?: number): LineResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return expectedSeq === undefined ? { ok: false, problem: `${where} is not valid JSON` } : { ok: false, problem: `${where} (expected seq ${expectedSeq}) is not valid JSON`, seq: expectedSeq };
  }
  const parsed = parseEntry(value);
  if (!parsed.ok) {
    const s = (value as { seq?: unknown } | null)?.seq;
    const seq = typeof s === 'number' && Number.isSafeInteger(s) ? s : expectedSeq;
    return seq === undefined ? { ok: false, problem: `${where}: ${parsed.error}` } : { ok: false, problem: `${where} (seq ${seq}): ${parsed.error}`, seq };
  }
  const entry = parsed.value;
  const at = `${where} (seq ${entry.seq})`;
  if (!isCanonicalText(entry, text)) return { ok: false, problem: `${at} is not in canonical JSON (RFC 8785) form`, seq: entry.seq };
  const hashed = hashedTextFromCanonicalLine(text);
  const own = entryProblem(entry, hashed === undefined ? undefined : sha256Hex(hashed));
  if (own) return { ok: false, problem: `${at}: ${own}`, seq: entry.seq };
  return { ok: true, entry };
}
