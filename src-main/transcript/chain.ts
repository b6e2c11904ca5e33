// The rules that tie entries into one chain. Shared by the store (on open and append) and the verifier,
// so both reject exactly the same things with the same words.
import { GENESIS_PREV } from './canonical.js';
import { computeEntryHash, KINDS, parseGenesisData, type Entry } from './entry.js';

/** What a following entry needs to know about the one before it. */
export interface ChainLink {
  seq: number;
  hash: string;
  time: string;
}

/**
 * Problems with one entry on its own: its hash, and the genesis rules. Undefined when it is sound.
 * `computedHash` may be given when the caller already hashed the entry's canonical text.
 */
export function entryProblem(entry: Entry, computedHash?: string): string | undefined {
  const computed = computedHash ?? computeEntryHash(entry);
  if (computed !== entry.hash) return `hash ${entry.hash} does not match the entry's content, which hashes to ${computed}`;
  if (entry.seq === 0) {
    if (entry.kind !== KINDS.genesis) return `seq 0 must be the genesis entry (kind 'genesis'), not kind '${entry.kind}'`;
    if (entry.prev !== GENESIS_PREV) return 'the genesis entry must have prev = 64 zeros';
    const genesis = parseGenesisData(entry.data);
    if (!genesis.ok) return `genesis ${genesis.error}`;
  } else if (entry.kind === KINDS.genesis) {
    return `kind 'genesis' is only allowed at seq 0`;
  }
  return undefined;
}

/** Problems with how `entry` follows `before`: seq continuity, the prev link, time order. */
export function linkProblem(before: ChainLink, entry: Entry): string | undefined {
  if (entry.seq !== before.seq + 1) return `seq ${entry.seq} follows seq ${before.seq}; expected seq ${before.seq + 1}`;
  if (entry.prev !== before.hash) return `prev ${entry.prev} is not the hash of seq ${before.seq} (${before.hash})`;
  if (entry.time < before.time) return `time ${entry.time} is earlier than the time of seq ${before.seq} (${before.time})`;
  return undefined;
}

export function linkOf(entry: Entry): ChainLink {
  return { seq: entry.seq, hash: entry.hash, time: entry.time };
}
