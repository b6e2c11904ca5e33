// What the engine writes when a ceremony joins a chain, built by hand for verifier tests: the `pre-genesis`
// (init-token) or `pre-chain` entry carrying the script's SHA-256 and the records written before the chain,
// the first a `ceremony-start`, then the air-gap step's result. Shaped as src-main/ceremony/engine/run.ts,
// actions/init-token.ts (write-genesis) and actions/existing-chain.ts write them.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { preGenesisHash, type PreGenesisRecord } from '../../src-main/ceremony/engine/pre-genesis-log.js';
import { GENESIS_PREV } from '../../src-main/transcript/canonical.js';
import type { EntryInput } from '../../src-main/transcript/entry.js';
import type { JsonObject } from '../../src-main/transcript/json-value.js';

export const scriptBytes = (name: string) => readFileSync(join(import.meta.dirname, '../../ceremonies', `${name}.yaml`));
export const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

export interface StartOptions {
  ceremonyId: string;
  /** init-token writes `pre-genesis`, a ceremony on an enrolled token `pre-chain`. */
  kind: 'pre-genesis' | 'pre-chain';
  script: { name: string; sha256: string; kind?: string; version?: number };
  rehearsal: boolean;
  /** What the check-airgap step found; undefined: the script has no air-gap step. */
  offline?: boolean;
  /** Where the air-gap result is: in the records before the chain (default) or as a chain entry after the start. */
  airGapIn?: 'records' | 'chain';
  appVersion?: string;
}

function record(n: number, prev: string, r: Omit<PreGenesisRecord, 'n' | 'prev' | 'hash' | 'time'>): PreGenesisRecord {
  const body = { n, time: `2026-01-31T11:00:0${n}.000Z`, ceremonyId: r.ceremonyId, step: r.step, kind: r.kind, actor: r.actor, data: r.data, prev };
  return { ...body, hash: preGenesisHash(body) };
}

/** The entries (inputs) a ceremony's start writes into the chain. */
export function ceremonyStart(o: StartOptions): EntryInput[] {
  const script = { name: o.script.name, kind: o.script.kind ?? o.script.name, version: o.script.version ?? 1, sha256: o.script.sha256 };
  const records: PreGenesisRecord[] = [];
  const push = (r: Omit<PreGenesisRecord, 'n' | 'prev' | 'hash' | 'time'>) => records.push(record(records.length, records.at(-1)?.hash ?? GENESIS_PREV, r));
  push({ ceremonyId: o.ceremonyId, step: 'start', kind: 'ceremony-start', actor: 'administrator', data: { script: { ...script, title: 't', source: `${o.script.name}.yaml` }, parameters: {}, rehearsal: o.rehearsal, appVersion: o.appVersion ?? '0.1.0', chain: o.ceremonyId } });
  const airGap: JsonObject | undefined = o.offline === undefined ? undefined : { action: 'check-airgap', offline: o.offline, interfaces: o.offline ? [] : [{ name: 'eth0', addresses: ['10.0.0.2'] }], checkedAt: '2026-01-31T11:00:00.000Z' };
  if (airGap && (o.airGapIn ?? 'records') === 'records') push({ ceremonyId: o.ceremonyId, step: 'airgap', kind: 'result', actor: 'administrator', data: airGap });
  const entries: EntryInput[] = [
    {
      ceremonyId: o.ceremonyId,
      step: o.kind === 'pre-genesis' ? 'genesis' : 'token',
      kind: o.kind,
      actor: 'administrator',
      data: { script, log: { file: 'pre-genesis.jsonl', sha256: sha256(records.map((r) => `${JSON.stringify(r)}\n`).join('')), records: records.length }, records: records as unknown as JsonObject[] },
    },
  ];
  if (airGap && o.airGapIn === 'chain') entries.push({ ceremonyId: o.ceremonyId, step: 'airgap', kind: 'result', actor: 'administrator', data: airGap });
  return entries;
}

/**
 * init-token.yaml as a hostile editor would change it: the air-gap, prove and sign-off steps dropped, the head
 * step's quorum off, 0 witnesses required. `keepProve`: for a script that must run through the engine, which
 * refuses to touch the token before the shares are proved whatever the script says.
 */
export function weakenedInitToken(original: string, options: { keepProve?: boolean } = {}): string {
  const withoutAirGap = original.replace(/\n  - id: airgap\n[\s\S]*?\n\n/, '\n');
  return (options.keepProve ? withoutAirGap : withoutAirGap.replace(/\n  - id: prove\n[\s\S]*?\n\n/, '\n'))
    .replace(/\n  - id: sign-off\n[\s\S]*?\n\n/, '\n')
    .replace(/(action: write-chain-head\n\s+approvals:) quorum/, '$1 none')
    .replace(/(witnesses:\n[\s\S]*?min:) 1/, '$1 0');
}
