// What the token-changing actions (init-token, enrol-token, the chain steps) share about the ceremony's state:
// a step that finds what an earlier step should have left missing says so in the room's words, and a token is
// recorded and named the same way in every transcript entry and message.
import type { SlotRef, TokenInfo } from '../../../hsm/types.js';
import { AppError } from '../../errors.js';
import type { EntryInput } from '../../transcript/entry.js';
import type { ActionContext } from '../engine/types.js';

/** `value`, or an AppError naming the step, what is missing and which step provides it. */
export function need<T>(value: T | undefined, step: string, what: string, remedy: string): T {
  if (value === undefined) throw new AppError('ceremony-state', `step '${step}': ${what}`, remedy);
  return value;
}

/** A token as the transcript records it (PKCS#11 pads these fields with spaces). */
export const tokenRecord = (t: TokenInfo) => ({ manufacturer: t.manufacturer.trim(), model: t.model.trim(), serial: t.serial.trim(), label: t.label.trim() });

/** A token as messages name it. */
export const tokenName = (slot: SlotRef, info: TokenInfo) => `token '${info.label.trim()}' (serial ${info.serial.trim()}, slot ${slot.slotId})`;

/**
 * The chain entry that carries this ceremony's pre-genesis log into a chain (`kind`: pre-genesis for a new
 * chain, pre-chain for one a ceremony continues): the script run, the log's hash and every record in it.
 */
export async function preChainLogEntry(ctx: ActionContext, kind: string): Promise<EntryInput> {
  const log = await ctx.preGenesisRecords();
  const { script } = ctx.loaded;
  return {
    ceremonyId: ctx.ceremonyId,
    step: ctx.step.id,
    kind,
    actor: ctx.administrator,
    data: {
      script: { name: ctx.scriptName, kind: script.kind, version: script.version, sha256: ctx.loaded.sha256 },
      log: { file: log.file, sha256: log.sha256, records: log.records.length },
      records: log.records,
    },
  };
}
