// Building chains in memory, without a store: for rehearsals, tests and benchmarks.
import { GENESIS_PREV } from './canonical.js';
import { genesisData, KINDS, sealEntry, type Entry, type EntryInput, type GenesisData } from './entry.js';

/** Entries that continue after `before` (or start a chain with a genesis entry when it is null). */
export function extendChain(before: Entry | null, inputs: EntryInput[], time: (i: number) => string): Entry[] {
  const out: Entry[] = [];
  let last = before;
  inputs.forEach((input, i) => {
    const entry = sealEntry({
      seq: last ? last.seq + 1 : 0,
      time: time(i),
      ceremonyId: input.ceremonyId,
      step: input.step,
      kind: input.kind,
      actor: input.actor,
      data: input.data,
      prev: last ? last.hash : GENESIS_PREV,
    });
    out.push(entry);
    last = entry;
  });
  return out;
}

export function genesisInput(ceremonyId: string, actor: string, token: GenesisData['token'], auditSpkiDer: Uint8Array): EntryInput {
  return { ceremonyId, step: 'genesis', kind: KINDS.genesis, actor, data: genesisData(token, auditSpkiDer) as unknown as Entry['data'] };
}
