// The chain head on the token: a data object holding the JCS of {seq, hash} of the transcript's last entry,
// written at the end of every ceremony. It anchors continuity across laptops: a store whose head differs
// from the token's is behind (entries to import), ahead (the head was not written yet) or diverged.
import type { TokenLayer } from '../../hsm/token.js';
import type { SessionHandle } from '../../hsm/types.js';
import { ErrorCodes, isTokenError } from '../../hsm/errors.js';
import { canonicalJson } from './canonical.js';
import { HASH_PATTERN } from './entry.js';
import { TranscriptError, TranscriptErrorCodes } from './errors.js';

export const CHAIN_HEAD_LABEL = 'keyceremony-chain-head';
export const CHAIN_HEAD_APPLICATION = 'keyceremony';

export interface TokenChainHead {
  seq: number;
  hash: string;
}

export function encodeChainHead(head: TokenChainHead): Uint8Array {
  return Buffer.from(canonicalJson({ seq: head.seq, hash: head.hash }), 'utf8');
}

/** Parse the data object's value; it must be exactly the canonical JSON of {hash, seq}. */
export function decodeChainHead(bytes: Uint8Array): TokenChainHead {
  const text = Buffer.from(bytes).toString('utf8');
  const bad = (why: string): never => {
    throw new TranscriptError(
      TranscriptErrorCodes.CHAIN_HEAD_INVALID,
      `The token's chain head object '${CHAIN_HEAD_LABEL}' is invalid: ${why}.`,
      'Do not continue on this token until the chain head is explained; compare with the last exported bundle.',
    );
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return bad('it is not JSON');
  }
  const v = value as Record<string, unknown>;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return bad('it is not a JSON object');
  const keys = Object.keys(v).sort().join(',');
  if (keys !== 'hash,seq') return bad(`it must hold exactly the fields hash and seq, not ${keys || 'none'}`);
  if (typeof v.seq !== 'number' || !Number.isSafeInteger(v.seq) || v.seq < 0) return bad("field 'seq' must be a non-negative integer");
  if (typeof v.hash !== 'string' || !HASH_PATTERN.test(v.hash)) return bad("field 'hash' must be 64 lowercase hexadecimal digits");
  const head = { seq: v.seq, hash: v.hash };
  if (canonicalJson(head) !== text) return bad('it is not in canonical JSON (RFC 8785) form');
  return head;
}

/** The token's chain head, or null when the token has none yet. */
export async function readChainHead(layer: TokenLayer, session: SessionHandle): Promise<TokenChainHead | null> {
  let bytes: Uint8Array;
  try {
    bytes = await layer.readDataObject(session, CHAIN_HEAD_LABEL);
  } catch (error) {
    if (isTokenError(error) && error.code === ErrorCodes.OBJECT_NOT_FOUND) return null;
    throw error;
  }
  return decodeChainHead(bytes);
}

/** Write the chain head (a private token object: reading and writing it needs the user login), then read it back. */
export async function writeChainHead(layer: TokenLayer, session: SessionHandle, head: TokenChainHead): Promise<void> {
  const value = encodeChainHead(head);
  const current = await readChainHead(layer, session);
  if (current === null) {
    await layer.createDataObject(session, { label: CHAIN_HEAD_LABEL, application: CHAIN_HEAD_APPLICATION, token: true, private: true }, value);
  } else {
    if (head.seq < current.seq)
      throw new TranscriptError(
        TranscriptErrorCodes.CHAIN_HEAD_INVALID,
        `Refusing to move the token's chain head back from seq ${current.seq} to seq ${head.seq}.`,
        'Import the missing bundles so the local transcript reaches the token head first.',
      );
    await layer.replaceDataObject(session, CHAIN_HEAD_LABEL, value);
  }
  const back = await readChainHead(layer, session);
  if (!back || back.seq !== head.seq || back.hash !== head.hash)
    throw new TranscriptError(TranscriptErrorCodes.CHAIN_HEAD_INVALID, `The token's chain head reads back as ${back ? `seq ${back.seq} ${back.hash}` : 'missing'} after writing seq ${head.seq} ${head.hash}.`, 'Check the token.');
}

export type ChainHeadStatus = 'equal' | 'both-empty' | 'token-empty' | 'store-empty' | 'store-ahead' | 'store-behind' | 'diverged';

export interface ChainHeadComparison {
  status: ChainHeadStatus;
  /** What the difference means, in words for the ceremony administrator. */
  message: string;
  /** Entries the local store lacks (store-behind, store-empty): import the bundles that hold them. */
  missing?: { first: number; last: number };
}

/** What compareChainHead needs from a store: its head and the hash at a seq. */
export interface ChainView {
  head(): { seq: number; hash: string } | null;
  hashAt(seq: number): string | undefined;
}

const short = (h: string) => h.slice(0, 16);

export function compareChainHead(token: TokenChainHead | null, store: ChainView): ChainHeadComparison {
  const local = store.head();
  if (token === null && local === null) return { status: 'both-empty', message: 'Neither the token nor the local transcript has a chain yet: this is the first ceremony on this token.' };
  if (token === null) {
    return {
      status: 'token-empty',
      message: `The token holds no chain head, but the local transcript has entries up to seq ${(local as { seq: number }).seq}: either the first ceremony on this token ended before its head was written, or this transcript belongs to another token (check its genesis entry).`,
    };
  }
  if (local === null) {
    return {
      status: 'store-empty',
      message: `The token's chain head is seq ${token.seq} (${short(token.hash)}…) but the local transcript is empty: entries 0-${token.seq} were written on another computer.`,
      missing: { first: 0, last: token.seq },
    };
  }
  if (local.seq === token.seq && local.hash === token.hash) return { status: 'equal', message: `The local transcript and the token agree: head seq ${token.seq} (${short(token.hash)}…).` };
  if (local.seq < token.seq) {
    return {
      status: 'store-behind',
      message: `The token's chain head is seq ${token.seq} (${short(token.hash)}…) but the local transcript ends at seq ${local.seq}: entries ${local.seq + 1}-${token.seq} were written on another computer and are missing here.`,
      missing: { first: local.seq + 1, last: token.seq },
    };
  }
  const mine = store.hashAt(token.seq);
  if (mine === token.hash) {
    return {
      status: 'store-ahead',
      message: `The local transcript (head seq ${local.seq}) runs past the token's chain head (seq ${token.seq}) and agrees with it there: the last ceremony ended before its head was written to the token.`,
    };
  }
  return {
    status: 'diverged',
    message: `The local transcript's entry seq ${token.seq} has hash ${short(mine ?? '(none)')}… but the token's chain head says ${short(token.hash)}…: this transcript is not this token's history, or one of them was altered.`,
  };
}
