// The destroy-key actions (ceremonies/destroy-key.yaml). identify-key finds the key by the label the room
// named, proves it is the one a ceremony recorded (CKA_ID, and the check value recomputed in the token equal
// to the recorded one) and lists every object of the token that carries its label or CKA_ID (the private and
// public halves, a secret key, any copy or session object); destroy-key destroys exactly those, then searches
// the token again by label and by CKA_ID and records that nothing answers. From then on the chain says the
// key is gone (destroyed-keys.ts refuses any later ceremony that names it).
import { AppError } from '../../errors.js';
import { findKmsKey, parseKeySpec } from '../../kms/index.js';
import type { CheckValue } from '../../kms/kcv.js';
import { CHAIN_HEAD_LABEL } from '../../transcript/chain-head.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { TranscriptStore } from '../../transcript/store.js';
import { AUDIT_KEY_LABEL } from '../../transcript/token-signer.js';
import type { ActionContext, ActionImpl, RunState } from '../engine/types.js';
import { refuseIfDestroyed } from './destroyed-keys.js';
import { deviceAddressesOf, deviceGone, isGone } from './device-gone.js';
import { noInput } from './general.js';
import { keyHistory, type KeyRecord } from './key-history.js';
import { describeObject, objectName, objectRecord, type TokenObject } from './token-objects.js';

export const NO_KEY_RECORD = 'key-no-record';
export const KEY_NOT_DESTROYED = 'key-not-destroyed';

/** What identify-key found, for destroy-key (kept beside RunState: it lives only as long as the session). */
interface Identified {
  record: KeyRecord;
  checkValue: CheckValue;
  objects: TokenObject[];
}
const identified = new WeakMap<RunState, Identified & { continues?: { ceremonyId: string; seq: number } }>();

function fail(ctx: ActionContext, code: string, what: string, remedy: string): never {
  throw new AppError(code, `step '${ctx.step.id}': ${what}`, remedy);
}

function openChain(ctx: ActionContext): { store: TranscriptStore; session: string } {
  const session = ctx.token.session;
  if (!session || ctx.token.loggedIn !== 'user') fail(ctx, 'ceremony-no-session', 'the token is not logged in', 'The script must run quorum-login before this step.');
  const store = ctx.chain();
  if (!store) fail(ctx, 'ceremony-state', 'no token was selected', 'Run select-token first.');
  return { store, session };
}

const chainEntries = (store: TranscriptStore) => {
  const head = store.head();
  return head ? store.entries(0, head.seq) : [];
};

/** Every object of the token that carries the key's label or its recorded CKA_ID, each once. */
async function objectsOfKey(ctx: ActionContext, session: string, label: string, idHex: string): Promise<TokenObject[]> {
  const { layer } = ctx.deps;
  const handles = new Set(await layer.findAll(session, { label }));
  if (idHex !== '') for (const h of await layer.findAll(session, { id: Buffer.from(idHex, 'hex') })) handles.add(h);
  const out: TokenObject[] = [];
  for (const h of handles) out.push(await describeObject(layer, session, h));
  return out;
}

const keyData = (r: KeyRecord): JsonObject => ({ label: r.label, keySpec: r.keySpec, id: r.idHex });

/**
 * The destroy-key intent of a ceremony that never recorded its result (interrupted, aborted, or this one
 * before a Retry or resume) for the key as `record` names it: its destruction may have begun, so the key is
 * found by label and CKA_ID alone (half of a pair may be gone, and its check value with it).
 */
function unfinishedDestroy(entries: readonly { kind: string; data: unknown; ceremonyId: string; seq: number }[], record: KeyRecord): { ceremonyId: string; seq: number } | undefined {
  const finished = new Set(entries.filter((e) => e.kind === 'result' && (e.data as { action?: unknown }).action === 'destroy-key').map((e) => e.ceremonyId));
  const intent = [...entries]
    .reverse()
    .find((e) => e.kind === 'intent' && e.seq > record.by.seq && (e.data as { action?: unknown; key?: { label?: unknown } }).action === 'destroy-key' && (e.data as { key?: { label?: unknown } }).key?.label === record.label);
  return intent && !finished.has(intent.ceremonyId) ? { ceremonyId: intent.ceremonyId, seq: intent.seq } : undefined;
}

/** Identify the key now: its record, its check value recomputed (unless a destruction already began), every object carrying it. */
async function identifyNow(ctx: ActionContext, session: string, store: TranscriptStore): Promise<Identified & { continues?: { ceremonyId: string; seq: number } }> {
  const label = String(ctx.parameters.keyLabel);
  const entries = chainEntries(store);
  refuseIfDestroyed(entries, label);
  const history = keyHistory(entries);
  const record = history.present.get(label);
  if (!record) {
    fail(
      ctx,
      NO_KEY_RECORD,
      `parameters.keyLabel: this token's transcript records no key with the label '${label}' (generated by kms-import or restored by restore-key), so nothing proves which object is the key`,
      `Use the label recorded by the ceremony that made the key on this token${history.present.size > 0 ? ` (the transcript records: ${[...history.present.keys()].join(', ')})` : ''}. An object no ceremony recorded is found by audit-token, not destroyed by label. Nothing was destroyed.`,
    );
  }
  const continues = unfinishedDestroy(entries, record);
  let checkValue: CheckValue;
  if (continues) {
    // Its check value was recomputed and matched before that intent (its identify step): what is left of it
    // is found by the recorded label and CKA_ID.
    checkValue = { ...record.checkValue, description: `recorded by ${record.by.action}; matched before the destruction that ceremony ${continues.ceremonyId} began` };
  } else {
    const keySpec = parseKeySpec(record.keySpec);
    // Exactly one key with the label, of the recorded type, and its check value computed in the token now
    // equal to the recorded one: otherwise findKmsKey refuses with both values, and nothing is destroyed.
    const found = await findKmsKey(ctx.deps.layer, session, keySpec, label, record.checkValue);
    if (record.idHex !== '' && found.key.idHex !== record.idHex) {
      fail(
        ctx,
        'KMS_KEY_MISMATCH',
        `the key labelled '${label}' has CKA_ID ${found.key.idHex || '(none)'}, but ${record.idHex} was recorded by ${record.by.action} (entry ${record.by.seq}): it is not the object that ceremony made, although its material matches`,
        'Nothing was destroyed. Run audit-token to see what this token holds, and find out who replaced the key object.',
      );
    }
    checkValue = found.checkValue;
  }
  const objects = await objectsOfKey(ctx, session, label, record.idHex);
  // Never the transcript's own objects, whatever label or id they share with the key.
  const ours = objects.filter((o) => o.label === AUDIT_KEY_LABEL || o.label === CHAIN_HEAD_LABEL);
  if (ours.length > 0) {
    fail(ctx, 'key-shares-audit-objects', `the key's CKA_ID is also carried by ${ours.map(objectName).join('; ')}, the token's transcript objects`, 'Nothing was destroyed. Run audit-token and compare the token with its transcript before destroying anything.');
  }
  return { record, checkValue, objects, ...(continues ? { continues } : {}) };
}

export const identifyKey: ActionImpl<Record<string, never>> = {
  name: 'identify-key',
  input: noInput,
  async perform(ctx) {
    const { store, session } = openChain(ctx);
    const found = await identifyNow(ctx, session, store);
    identified.set(ctx.state, found);
    const { record } = found;
    return {
      done: true,
      data: {
        key: keyData(record),
        recordedBy: { ...record.by },
        checkValue: (found.continues
          ? { recorded: { ...record.checkValue }, now: null, note: `not recomputed: ceremony ${found.continues.ceremonyId} began destroying this key (intent at entry ${found.continues.seq}); what is left is found by label and CKA_ID` }
          : { recorded: { ...record.checkValue }, now: { value: found.checkValue.value, method: found.checkValue.method }, matches: true }) as JsonObject,
        objects: found.objects.map(objectRecord),
        ...(found.continues ? { continuesDestructionBy: found.continues } : {}),
      },
    };
  },
};

export const destroyKey: ActionImpl<Record<string, never>> = {
  name: 'destroy-key',
  input: noInput,
  intent: (ctx): JsonObject => {
    const found = identified.get(ctx.state);
    return found ? { key: keyData(found.record), destroys: found.objects.map(objectRecord) } : {};
  },
  async perform(ctx) {
    const { session } = openChain(ctx);
    const { store } = openChain(ctx);
    // After a resume the handles identify-key found lived in the stopped process: the key is identified again
    // (its destruction may have begun: what is left is found by label and CKA_ID).
    const found = identified.get(ctx.state) ?? (await identifyNow(ctx, session, store));
    const { layer } = ctx.deps;
    const idHexes = [...new Set([found.record.idHex, ...found.objects.map((o) => o.id)].filter((x) => x.length === 4))];
    const addresses = await deviceAddressesOf(layer, session, found.objects.map((o) => String(o.handle)), found.record.label, idHexes.map((x) => parseInt(x, 16)));
    // An object a failed attempt already destroyed is gone; the search below is the proof, not each answer.
    let firstError: unknown;
    for (const o of found.objects) await layer.destroyObject(session, o.handle).catch((error: unknown) => (firstError ??= error));
    identified.delete(ctx.state);
    // The proof: the token, asked again by label and by CKA_ID, answers with nothing.
    const { label, idHex } = found.record;
    const byLabel = (await layer.findAll(session, { label })).length;
    const byId = idHex === '' ? null : (await layer.findAll(session, { id: Buffer.from(idHex, 'hex') })).length;
    // A device that lists its own objects (the YubiHSM 2) is asked too, in its own words.
    const onDevice = addresses ? await deviceGone(layer, session, addresses, label) : null;
    if (byLabel > 0 || (byId ?? 0) > 0 || (onDevice && !isGone(onDevice))) {
      fail(
        ctx,
        KEY_NOT_DESTROYED,
        `after destroying ${found.objects.length} object(s), the token still answers ${byLabel} object(s) by the label '${label}'${byId === null ? '' : ` and ${byId} by CKA_ID ${idHex}`}${onDevice ? `; the device lists ${onDevice.listedById} by id and ${onDevice.listedByLabel} by label` : ''}${firstError ? ` (${(firstError as Error).message})` : ''}`,
        'Do not treat the key as destroyed. Run audit-token to see what is left, then destroy-key again.',
      );
    }
    return {
      done: true,
      data: {
        key: keyData(found.record),
        checkValue: { value: found.checkValue.value, method: found.checkValue.method },
        destroyed: found.objects.map(objectRecord),
        ...(found.continues ? { continuesDestructionBy: found.continues } : {}),
        gone: { searchedByLabel: label, foundByLabel: byLabel, ...(byId === null ? {} : { searchedById: idHex, foundById: byId }) },
        ...(onDevice ? { deviceGone: onDevice as unknown as JsonObject } : {}),
      },
    };
  },
};
