// The one action kms-rewrap adds to kms-import's (ceremonies/kms-rewrap.yaml): find the key the import
// ceremony generated, by its label, and prove it is still the same material before anything is wrapped.
// AWS KMS accepts only the same material again for a key, and a replica or another key must receive the
// material the transcript vouches for, so the check value is recomputed in the token and compared with the
// one recorded at generation in this token's chain. The label comes from the ceremony parameters: no input.
import type { Entry } from '../../transcript/entry.js';
import { AppError } from '../../errors.js';
import { checkTokenCanWrap, findKmsKey, KEY_MISMATCH_ERROR, keyRecord, parseKeySpec, type CheckValueMethod } from '../../kms/index.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { TranscriptStore } from '../../transcript/store.js';
import type { ActionContext, ActionImpl } from '../engine/types.js';
import { noInput } from './general.js';
import { exactnessAfterLogin } from './kms-import.js';
import { refuseIfDestroyed } from './destroyed-keys.js';

export const NO_GENERATION_RECORD = 'kms-no-generation-record';
/** The action whose result records a key restored from a backup (restore-key.ts), in generate-key's shape. */
export const RESTORE_ACTION = 'restore-unwrap';

/** What generate-key recorded about one key (its result entry in the chain). */
export interface GenerationRecord {
  entry: Entry;
  keySpec: string;
  idHex: string;
  checkValue: { value: string; method: CheckValueMethod };
}

interface GenerateResultData {
  action?: unknown;
  key?: { label?: unknown; keySpec?: unknown; id?: unknown };
  checkValue?: { value?: unknown; method?: unknown };
}

/**
 * The latest generate-key result for this label in the token's chain. generate-key refuses a label the token
 * already holds, so an earlier record with the same label belongs to a key that was removed since; the
 * caller records how many there were.
 */
export function findGenerationRecords(store: TranscriptStore, label: string): GenerationRecord[] {
  const head = store.head();
  if (!head) return [];
  const out: GenerationRecord[] = [];
  for (const entry of store.entries(0, head.seq)) {
    if (entry.kind !== 'result') continue;
    const d = entry.data as GenerateResultData;
    // A key restore-key unwrapped into this token from a backup is recorded like a generated one.
    if ((d.action !== 'generate-key' && d.action !== RESTORE_ACTION) || d.key?.label !== label) continue;
    if (typeof d.checkValue?.value !== 'string' || typeof d.checkValue.method !== 'string') continue;
    out.push({
      entry,
      keySpec: String(d.key.keySpec),
      idHex: typeof d.key.id === 'string' ? d.key.id : '',
      checkValue: { value: d.checkValue.value, method: d.checkValue.method as CheckValueMethod },
    });
  }
  return out;
}

/** How the ceremony that generated the key ended, as the chain says (it may still be running: this one). */
function endOf(store: TranscriptStore, ceremonyId: string): string {
  const head = store.head();
  const ends = head ? store.entries(0, head.seq).filter((e) => e.ceremonyId === ceremonyId && ['completed', 'abort', 'interrupted'].includes(e.kind)) : [];
  return ends.at(-1)?.kind ?? 'not ended';
}

function fail(ctx: ActionContext, code: string, what: string, remedy: string): never {
  throw new AppError(code, `step '${ctx.step.id}': ${what}`, remedy);
}

export const findKey: ActionImpl<Record<string, never>> = {
  name: 'find-key',
  input: noInput,
  async perform(ctx) {
    const session = ctx.token.session;
    if (!session || ctx.token.loggedIn !== 'user') fail(ctx, 'ceremony-no-session', 'the token is not logged in', 'The script must run quorum-login before this step.');
    const slot = ctx.token.slot;
    const store = ctx.chain();
    if (!slot || !store) fail(ctx, 'ceremony-state', 'no token was selected', 'Run select-token first.');
    const kms = (ctx.state.kms ??= {});
    const params = kms.params;
    if (!params) fail(ctx, 'ceremony-state', 'no import parameters were loaded', 'Run load-import-parameters first.');
    if (kms.key) fail(ctx, 'ceremony-state', `the key was already found in this ceremony (${kms.key.label})`, 'Go on with the next step.');
    const keySpec = parseKeySpec(ctx.parameters.keySpec);
    const label = String(ctx.parameters.keyLabel);
    // A key destroy-key proved gone is refused with the date, before anything else is asked of the token.
    const head = store.head();
    if (head) refuseIfDestroyed(store.entries(0, head.seq), label);

    const records = findGenerationRecords(store, label);
    const record = records.at(-1);
    if (!record) {
      fail(
        ctx,
        NO_GENERATION_RECORD,
        `parameters.keyLabel: this token's transcript records no key generated with the label '${label}', so there is no check value to prove the material is the one a ceremony generated`,
        'Use the label recorded by the kms-import ceremony that generated the key on this token (its generate step). A key created outside a ceremony is never re-exported.',
      );
    }
    if (record.keySpec !== keySpec) {
      fail(ctx, KEY_MISMATCH_ERROR, `parameters.keySpec: the key labelled '${label}' was generated as ${record.keySpec} (entry ${record.entry.seq}), not ${keySpec}`, `Start kms-rewrap again with keySpec ${record.keySpec}.`);
    }
    // Checked again right before the key is touched, as generate-key does: nothing is found that cannot be wrapped.
    kms.capability = await checkTokenCanWrap(ctx.deps.layer, slot, params.wrappingAlgorithm, keySpec);
    // The material is not touched unless this token exports the spec exactly (probed at the parameters step,
    // or now that the token is open).
    const exactExport = await exactnessAfterLogin(ctx, session as string, keySpec);
    // Exactly one key with the label, of the spec's type, sensitive and extractable, and the check value the
    // token computes now equal to the recorded one: otherwise findKmsKey refuses with both values.
    const found = await findKmsKey(ctx.deps.layer, session, keySpec, label, record.checkValue);
    if (record.idHex !== '' && found.key.idHex !== record.idHex) {
      fail(
        ctx,
        KEY_MISMATCH_ERROR,
        `the key labelled '${label}' has CKA_ID ${found.key.idHex || '(none)'}, but ${record.idHex} was recorded at generation (entry ${record.entry.seq}): it is not the object that ceremony generated, although its material matches`,
        'Do not re-export it: find out who replaced the key object, and compare the token with the kms-import transcript.',
      );
    }
    kms.key = found.key;
    kms.checkValue = found.checkValue;
    const data: JsonObject = {
      key: keyRecord(found.key) as JsonObject,
      generation: {
        ceremonyId: record.entry.ceremonyId,
        ceremonyEnded: endOf(store, record.entry.ceremonyId),
        seq: record.entry.seq,
        hash: record.entry.hash,
        time: record.entry.time,
        ...(records.length > 1 ? { earlierRecordsWithThisLabel: records.length - 1 } : {}),
      },
      checkValue: {
        recorded: { ...record.checkValue },
        now: { ...found.checkValue } as unknown as JsonObject,
        matches: true,
      },
      tokenCan: { wrap: params.wrappingAlgorithm, method: kms.capability.method ?? null, ...(exactExport ? { exactExport } : {}) },
    };
    return { done: true, data };
  },
};
