// What a token's chain says about the keys in that token: which ceremony put each one there (generate-key of
// kms-import, restore-unwrap of restore-key), with which CKA_ID and check value, and which
// were destroyed since (destroy-key). destroy-key, audit-token and the ceremonies that name a key by its label
// read it from the chain entries alone, so the answer is what a verifier of the bundles would find.
import type { Entry } from '../../transcript/entry.js';
import type { CheckValueMethod } from '../../kms/kcv.js';

/** The actions whose result puts a key in the token, with the same record shape (key: {label, keySpec, id}, checkValue): kms-import's generate-key, restore-key's restore-unwrap. */
export const KEY_CREATING_ACTIONS: readonly string[] = ['generate-key', 'restore-unwrap'];
/** The action whose result proves a key gone from the token. */
export const DESTROY_ACTION = 'destroy-key';

/** One key a ceremony recorded putting in the token. */
export interface KeyRecord {
  label: string;
  keySpec: string;
  /** CKA_ID, lowercase hex ('' when none was recorded). */
  idHex: string;
  checkValue: { value: string; method: CheckValueMethod };
  /** The result entry that recorded it. */
  by: { action: string; ceremonyId: string; seq: number; hash: string; time: string };
}

/** A destroy-key result: when and by which ceremony a key was proven gone. */
export interface DestroyRecord {
  label: string;
  idHex: string;
  ceremonyId: string;
  seq: number;
  time: string;
}

export interface KeyHistory {
  /** Per label, the latest record of a key put in the token, unless a destroy-key came after it. */
  present: Map<string, KeyRecord>;
  /** Per label, the latest destruction that came after the last record of that label. */
  destroyed: Map<string, DestroyRecord & { key?: KeyRecord }>;
  /** Per label, how many earlier records of that label were superseded (a key removed and a new one made). */
  superseded: Map<string, number>;
}

const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The key a creating result records, or undefined when the entry is not one (or lacks a check value). */
export function keyRecordOf(entry: Pick<Entry, 'kind' | 'data' | 'ceremonyId' | 'seq' | 'hash' | 'time'>): KeyRecord | undefined {
  if (entry.kind !== 'result') return undefined;
  const d = obj(entry.data);
  const action = str(d.action);
  if (!action || !KEY_CREATING_ACTIONS.includes(action)) return undefined;
  const key = obj(d.key);
  const cv = obj(d.checkValue);
  const label = str(key.label);
  const value = str(cv.value);
  const method = str(cv.method);
  if (!label || !value || !method) return undefined;
  return {
    label,
    keySpec: str(key.keySpec) ?? '?',
    idHex: str(key.id) ?? '',
    checkValue: { value, method: method as CheckValueMethod },
    by: { action, ceremonyId: entry.ceremonyId, seq: entry.seq, hash: entry.hash, time: entry.time },
  };
}

/** The history of every key label in these entries (one chain, in order). */
export function keyHistory(entries: Iterable<Pick<Entry, 'kind' | 'data' | 'ceremonyId' | 'seq' | 'hash' | 'time'>>): KeyHistory {
  const h: KeyHistory = { present: new Map(), destroyed: new Map(), superseded: new Map() };
  for (const e of entries) {
    const made = keyRecordOf(e);
    if (made) {
      if (h.present.has(made.label) || h.destroyed.has(made.label)) h.superseded.set(made.label, (h.superseded.get(made.label) ?? 0) + 1);
      h.present.set(made.label, made);
      h.destroyed.delete(made.label);
      continue;
    }
    if (e.kind !== 'result') continue;
    const d = obj(e.data);
    if (d.action !== DESTROY_ACTION) continue;
    const label = str(obj(d.key).label);
    if (!label) continue;
    const key = h.present.get(label);
    h.present.delete(label);
    h.destroyed.set(label, { label, idHex: str(obj(d.key).id) ?? '', ceremonyId: e.ceremonyId, seq: e.seq, time: e.time, ...(key ? { key } : {}) });
  }
  return h;
}
