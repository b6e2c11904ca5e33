// The enrol-token actions (ceremonies/enrol-token.yaml): enrol custodians on a token that is already
// initialized (a vendor HSM partition, the NSS softoken), whose PINs the room brings. Never-brick order: the
// current PINs are checked and the token is asked, with throw-away objects, whether it takes the audit key
// and the chain head; then S is generated, split, handed out and every M-subset proven; only THEN does
// change-pins replace the PINs (C_SetPIN) with ones derived from S. From that moment the shares open the
// token, and an interruption is recorded as such (service.ts: the shares are not voided), with a way out:
// run enrol-token again, presenting M of those shares instead of the current user PIN.
import { z } from 'zod';
import { isTokenError } from '../../../hsm/errors.js';
import type { SlotRef, TokenInfo } from '../../../hsm/types.js';
import { AppError } from '../../errors.js';
import { sha256Hex } from '../../transcript/canonical.js';
import { CHAIN_HEAD_APPLICATION, CHAIN_HEAD_LABEL } from '../../transcript/chain-head.js';
import type { JsonObject } from '../../transcript/json-value.js';
import { probeAuditKeyTemplate } from '../../../hsm/pkcs11/audit-key-probe.js';
import { AUDIT_KEY_LABEL } from '../../transcript/token-signer.js';
import { derivePins, wipe } from '../quorum/index.js';
import type { ActionContext, ActionImpl, ActionOutcome, PriorAttempt } from '../engine/types.js';
import type { ScriptStep } from '../script/index.js';
import { resolveToken } from './existing-chain.js';
import { noInput } from './general.js';
import type { selectTokenInput } from './init-token.js';
import { need, tokenName, tokenRecord } from './step-state.js';
import { requireRecoverableSecret } from './never-brick.js';
import { isYubiHsmEntry } from '../../settings/yubihsm-module.js';
import { auditKeyWaivers, isNssSoftoken } from './nss-softoken.js';
import { presentShareInput } from './presented-share.js';
import { ENROLMENT_KIND, openPresentedShares, pinsCeremonyIdOf, rebuildSecret } from './quorum-login.js';

/** The entry change-pins writes right after each C_SetPIN succeeded: from then on the shares open the token. */
export const PIN_CHANGED_KIND = 'pin-changed';
/** What recovery and abort record for an enrol-token stopped after its PIN change (instead of voiding its shares). */
export const SHARES_OPEN_TOKEN_KIND = 'shares-open-token';
export const SHARES_OPEN_TOKEN_WAY_OUT =
  "The token's PINs were replaced by PINs derived from this ceremony's secret: keep the shares handed out, they are the only way into the token. Run enrol-token again on the same token presenting M of them instead of the current user PIN (in the app: the current PINs step; keyceremony enrol-token --previous-share FILE:PASSPHRASE_FILE ...), which enrols the custodians anew (and removes the audit key the stopped attempt may have created). If it stopped before the PIN change took effect, the shares are refused with those words, and the PINs the room brought still open the token: run enrol-token with them.";
/** rotate-custodians stopped at or after its PIN change: its new shares open the token (or may), and so may the old ones. */
export const ROTATION_SHARES_WAY_OUT =
  "The token's user PIN was replaced, or may have been, by one derived from this rotation's secret: keep the new shares and the old ones; destroy neither. If the transcript records the rotation's user PIN change (pin-changed), the new shares open the token for every later ceremony. If it stopped between the change and its record, only the new shares open the token while the transcript still names the old custodians (docs/ceremonies.md, rotate-custodians: known gap).";

/** What the room is told about the shares of a ceremony stopped after (or during) its PIN change. */
export const sharesOpenTokenWayOut = (kind: string) => (kind === 'rotate-custodians' ? ROTATION_SHARES_WAY_OUT : SHARES_OPEN_TOKEN_WAY_OUT);

/** The label of the throw-away data object check-current-pins writes, reads back and destroys. */
const CHAIN_HEAD_PROBE_LABEL = 'keyceremony-chain-head-probe';

/** A script that takes the token's current PINs works on an initialized token (select-token must not refuse it). */
export const enrolsInitializedToken = (script: { steps: readonly Pick<ScriptStep, 'action'>[] }) => script.steps.some((s) => s.action === 'check-current-pins');

/**
 * Did this ceremony's records reach change-pins (its intent: the PINs may have changed, a crash can strike
 * between C_SetPIN and the next record)? Then its shares open the token and must not be voided.
 */
export function pinsMayHaveChanged(entries: readonly { kind: string; data: unknown }[]): boolean {
  return entries.some((e) => e.kind === PIN_CHANGED_KIND || (e.kind === 'intent' && ['change-pins', 'rotate-pins'].includes(String((e.data as { action?: unknown } | null)?.action))));
}

/**
 * Did this ceremony reach its generate-audit-key intent? Then the token may hold its audit key (and, later,
 * its chain head): a way out presenting its shares removes them at change-pins instead of refusing the token.
 */
export function auditKeyMayExist(entries: readonly { kind: string; data: unknown }[]): boolean {
  return entries.some((e) => e.kind === 'intent' && (e.data as { action?: unknown } | null)?.action === 'generate-audit-key');
}

/**
 * Was this ceremony to change the SO PIN too (its PIN check was given one), did it change the user PIN, and
 * did it record no SO change? Then it stopped around the SO's C_SetPIN: the SO PIN is the vendor's or the one
 * its shares rebuild, and only the token can say which.
 */
export function soPinMayHaveChanged(entries: readonly { kind: string; data: unknown }[]): boolean {
  const d = (e: { data: unknown }) => (e.data ?? {}) as { action?: unknown; input?: { currentSoPin?: unknown }; pin?: unknown };
  const soGiven = entries.some((e) => e.kind === 'intent' && d(e).action === 'check-current-pins' && d(e).input?.currentSoPin === 'given');
  const changed = (pin: string) => entries.some((e) => e.kind === PIN_CHANGED_KIND && d(e).pin === pin);
  return soGiven && changed('user') && !changed('so');
}

/** What recovery needs to know of a stopped enrol-token from its records (PriorAttempt's enrol-token facts). */
export function enrolAttemptFacts(entries: readonly { kind: string; data: unknown }[]): Pick<PriorAttempt, 'pinsChanged' | 'soPinMayHaveChanged' | 'auditKeyMayExist'> {
  if (!pinsMayHaveChanged(entries)) return {};
  const so = entries.some((e) => e.kind === PIN_CHANGED_KIND && (e.data as { pin?: unknown } | null)?.pin === 'so');
  return { pinsChanged: so ? ['user', 'so'] : ['user'], ...(soPinMayHaveChanged(entries) ? { soPinMayHaveChanged: true } : {}), ...(auditKeyMayExist(entries) ? { auditKeyMayExist: true } : {}) };
}

/** select-token of enrol-token: the token must be initialized; nothing about it changes here. */
export async function selectInitializedToken(ctx: ActionContext, input: z.infer<typeof selectTokenInput>): Promise<ActionOutcome> {
  const { ref, info } = await resolveToken(ctx, input);
  if (isYubiHsmEntry(ref.moduleId)) {
    // Its "PINs" are authentication keys that init-token sets up from the factory state; a C_SetPIN-style
    // change of a key someone else set up is not what this ceremony was built and tested for.
    throw new AppError(
      'enrol-yubihsm',
      `${tokenName(ref, info)} is a YubiHSM 2: enrol-token is for PKCS#11 tokens initialized with their vendor's tool; nothing was changed`,
      'Run init-token on the YubiHSM 2 instead (reset it to its factory state first if it holds nothing you need).',
    );
  }
  if (!info.initialized) {
    throw new AppError(
      'token-blank',
      `the token in slot ${ref.slotId} is blank (not initialized); enrol-token needs a token initialized with its vendor's tool, whose PINs the room brings`,
      'Run init-token on a blank token instead, or initialize this token with its vendor tool first.',
    );
  }
  ctx.token.slot = ref;
  ctx.token.info = info;
  return { done: true, data: { moduleId: ref.moduleId, slotId: ref.slotId, token: { ...tokenRecord(info), initialized: true } } };
}

const pinText = (what: string) => z.string({ error: `must be ${what}` }).max(255, { error: 'must be at most 255 characters' });

export const checkCurrentPinsInput = z.union(
  [
    // Empty only for a token that needs no login (an NSS database without a password): checked in perform.
    z.strictObject({ currentUserPin: pinText('the current user PIN'), currentSoPin: pinText('the current SO PIN').min(1, { error: 'must not be empty' }).optional() }),
    /** The way out of an enrol-token interrupted after its PIN change: M of its shares rebuild the PINs it set. */
    z.strictObject({ previousShares: z.array(presentShareInput, { error: 'must be a list of shares' }).min(1, { error: 'must list at least one share' }).max(255) }),
  ],
  { error: 'give currentUserPin (and currentSoPin if the SO PIN is to change), or previousShares' },
);
type CheckCurrentPinsInput = z.infer<typeof checkCurrentPinsInput>;

/** Log in with `pin` as `who` on a fresh session and out again; a wrong PIN becomes an error naming the field. */
async function proveLogin(ctx: ActionContext, who: 'user' | 'so', pin: string, field: string, whileIn?: (session: string) => Promise<void>): Promise<void> {
  const { layer } = ctx.deps;
  const slot = ctx.token.slot as SlotRef;
  const info = ctx.token.info as TokenInfo;
  const { session } = await layer.openSession(slot, { readWrite: true });
  try {
    try {
      await layer.login(session, who, pin);
    } catch (error) {
      if (isTokenError(error) && (error.code === 'CKR_PIN_INCORRECT' || error.code === 'CKR_PIN_LEN_RANGE')) {
        throw new AppError(
          'enrol-pin-wrong',
          `${field}: ${tokenName(slot, info)} did not accept this ${who === 'so' ? 'SO' : 'user'} PIN; nothing on the token was changed`,
          `Type the ${who === 'so' ? 'SO' : 'user'} PIN the vendor's tool set (mind Caps Lock). Tokens lock after a few wrong tries: stop and check before trying again.`,
        );
      }
      if (isTokenError(error) && error.code === 'CKR_PIN_LOCKED') {
        throw new AppError('enrol-pin-locked', `${field}: ${tokenName(slot, info)} has locked its ${who === 'so' ? 'SO' : 'user'} PIN`, "Unlock or reset it with the vendor's tool; nothing was changed.");
      }
      throw error;
    }
    try {
      await whileIn?.(session);
    } finally {
      await layer.logout(session).catch(() => undefined);
    }
  } finally {
    await layer.closeSession(session).catch(() => undefined);
  }
}

/**
 * Would the token keep the audit key and the chain head? Asked with throw-away objects, destroyed again. An
 * audit key already there refuses the token, unless `staleOf` (the stopped enrol-token whose shares opened
 * it) got as far as creating its own: that one is left for change-pins to destroy.
 */
async function probeTemplates(ctx: ActionContext, session: string, staleOf?: string): Promise<JsonObject> {
  const { layer } = ctx.deps;
  const slot = ctx.token.slot as SlotRef;
  const info = ctx.token.info as TokenInfo;
  const existing = await layer.findAll(session, { label: AUDIT_KEY_LABEL });
  let stale: JsonObject = {};
  if (existing.length > 0 && staleOf !== undefined) {
    ctx.state.staleObjectsOf = staleOf;
    stale = { staleAuditKey: { of: staleOf, objects: existing.length, note: 'left by that stopped attempt; destroyed at change-pins, after the new shares are proven' } };
  } else if (existing.length > 0) {
    throw new AppError(
      'token-already-enrolled',
      `${tokenName(slot, info)} already holds an audit key ('${AUDIT_KEY_LABEL}'): it was enrolled before, and its custodians open it`,
      "Run the ceremony you came for (kms-import) with its custodians; to enrol new custodians, reset the token with its vendor's tool first. Nothing was changed.",
    );
  }
  const waivers = auditKeyWaivers(ctx.token);
  const auditKey = await probeAuditKeyTemplate(layer, session, waivers);
  if (!auditKey.usable) {
    throw new AppError('enrol-audit-key-refused', `${tokenName(slot, info)} does not take the audit key (probed with a throw-away key pair): ${auditKey.message}`, 'Use a token that can generate and keep an ECDSA P-384 key pair; nothing was changed.');
  }
  const probe = Buffer.from('keyceremony chain head probe');
  try {
    for (const stale of await layer.findAll(session, { label: CHAIN_HEAD_PROBE_LABEL })) await layer.destroyObject(session, stale);
    await layer.createDataObject(session, { label: CHAIN_HEAD_PROBE_LABEL, application: CHAIN_HEAD_APPLICATION, token: true, private: true }, probe);
    const back = await layer.readDataObject(session, CHAIN_HEAD_PROBE_LABEL);
    if (!probe.equals(Buffer.from(back))) throw new Error('it read back different bytes');
  } catch (error) {
    throw new AppError('enrol-chain-head-refused', `${tokenName(slot, info)} cannot keep the transcript's chain head (probed with a throw-away object): ${(error as Error).message}`, 'Use a token that keeps private token objects; nothing was changed.');
  } finally {
    for (const h of await layer.findAll(session, { label: CHAIN_HEAD_PROBE_LABEL }).catch(() => [])) await layer.destroyObject(session, h).catch(() => undefined);
  }
  return { auditKey: 'accepted', chainHead: 'accepted', ...(waivers.CKA_LOCAL ? { waivers: { CKA_LOCAL: waivers.CKA_LOCAL } } : {}), ...stale };
}

/** Does `pin` open the token as its security officer? (A wrong one counts against the SO PIN's tries.) */
async function soPinOpens(ctx: ActionContext, pin: string): Promise<boolean> {
  try {
    await proveLogin(ctx, 'so', pin, 'input.previousShares');
    return true;
  } catch (error) {
    if (error instanceof AppError && error.code === 'enrol-pin-wrong') return false;
    throw error;
  }
}

/** The interrupted (or aborted) enrol-token on this laptop that changed the PINs, and whose shares these are. */
async function pinsOfInterruptedAttempt(ctx: ActionContext, input: { previousShares: z.infer<typeof presentShareInput>[] }): Promise<{ user: string; so?: string; how: JsonObject; attempt: PriorAttempt }> {
  const prior = (await ctx.deps.priorAttempts?.()) ?? [];
  const candidates = prior.filter((a): a is PriorAttempt & Required<Pick<PriorAttempt, 'enrolment'>> => a.kind === 'enrol-token' && (a.status === 'interrupted' || a.status === 'aborted') && a.pinsChanged !== undefined && a.enrolment !== undefined);
  let lastError: unknown;
  for (const attempt of candidates.reverse()) {
    let shares: Uint8Array[];
    try {
      shares = await openPresentedShares(input.previousShares, attempt.enrolment.enrolment.ceremonyId);
    } catch (error) {
      lastError = error;
      continue;
    }
    const { secret, custodians } = await rebuildSecret(attempt.enrolment, shares, `the PINs set by the interrupted enrol-token ${attempt.ceremonyId}`);
    try {
      const info = ctx.token.info as TokenInfo;
      const pins = derivePins(secret, pinsCeremonyIdOf(attempt.enrolment), { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength });
      // Stopped around the SO's C_SetPIN: one SO login with the rebuilt PIN says whether that change acted.
      const soChanged = attempt.pinsChanged?.includes('so') || (attempt.soPinMayHaveChanged === true && (await soPinOpens(ctx, pins.soPin)));
      return {
        user: pins.userPin,
        ...(soChanged ? { so: pins.soPin } : {}),
        how: {
          interruptedCeremonyId: attempt.ceremonyId,
          pinsRebuiltBy: custodians,
          soPin: soChanged ? 'rebuilt' : attempt.soPinMayHaveChanged ? "the vendor's: that attempt's SO change had not acted (checked with one SO login)" : 'unchanged by that attempt',
        },
        attempt,
      };
    } finally {
      wipe(secret);
    }
  }
  if (candidates.length === 0) {
    throw new AppError('enrol-no-interrupted-attempt', "input.previousShares: this laptop's data directory holds no interrupted or aborted enrol-token that changed a token's PINs", "Give the token's current user PIN instead (the one its vendor's tool set).");
  }
  const e = lastError as { message?: string } | undefined;
  throw new AppError('enrol-previous-shares', `input.previousShares: these shares belong to no interrupted enrol-token that changed the PINs (${e?.message ?? 'they did not open'})`, 'Present the share files (with their passphrases) handed out by the interrupted enrol-token on this token.');
}

export const checkCurrentPins: ActionImpl<CheckCurrentPinsInput> = {
  name: 'check-current-pins',
  input: checkCurrentPinsInput,
  describe: (input): JsonObject =>
    'previousShares' in input
      ? { currentPins: `rebuilt from ${input.previousShares.length} share(s) of an interrupted enrol-token` }
      : { currentUserPin: 'given', currentSoPin: input.currentSoPin === undefined ? 'not given' : 'given' },
  async perform(ctx, input) {
    const slot = need(ctx.token.slot, ctx.step.id, 'no token was selected', 'Run select-token first.');
    const info = need(ctx.token.info, ctx.step.id, 'no token was selected', 'Run select-token first.');
    let user: string;
    let so: string | undefined;
    let previous: PriorAttempt | undefined;
    const data: JsonObject = {};
    if ('previousShares' in input) {
      const rebuilt = await pinsOfInterruptedAttempt(ctx, input);
      user = rebuilt.user;
      so = rebuilt.so;
      previous = rebuilt.attempt;
      data.previousAttempt = rebuilt.how;
    } else {
      user = input.currentUserPin;
      so = input.currentSoPin;
    }
    if (user === '' && info.loginRequired) {
      throw new AppError('enrol-pin-empty', `input.currentUserPin: is empty, but ${tokenName(slot, info)} requires a login`, 'Type the user PIN the vendor\'s tool set. Only a token that needs no login (an NSS database without a password) takes an empty one.');
    }
    if (so !== undefined && isNssSoftoken(slot.moduleId, info)) {
      throw new AppError('enrol-no-so-pin', 'input.currentSoPin: the NSS softoken has no SO PIN to change (its only PIN is the database password, the user PIN)', 'Leave the current SO PIN empty.');
    }
    let probes: JsonObject = {};
    try {
      await proveLogin(ctx, 'user', user, previous ? 'input.previousShares' : 'input.currentUserPin', async (session) => {
        probes = await probeTemplates(ctx, session, previous?.auditKeyMayExist ? previous.ceremonyId : undefined);
      });
    } catch (error) {
      // The shares are that attempt's (checked against its enrolment), so its PIN change never took effect.
      if (previous && error instanceof AppError && error.code === 'enrol-pin-wrong') {
        throw new AppError(
          'enrol-pins-not-changed',
          `input.previousShares: the user PIN these shares rebuild (set by enrol-token ${previous.ceremonyId}) does not open ${tokenName(slot, info)}: that attempt stopped before its PIN change took effect, so the PINs the room brought still open the token (unless a later ceremony replaced them); nothing was changed`,
          "Run enrol-token again with the token's current PINs (the ones its vendor's tool set) instead of the shares (keyceremony enrol-token --current-user-pin-file FILE ...).",
        );
      }
      throw error;
    }
    if (so !== undefined) await proveLogin(ctx, 'so', so, 'previousShares' in input ? 'input.previousShares' : 'input.currentSoPin');
    ctx.secrets.currentPins = { user: Buffer.from(user, 'utf8'), ...(so === undefined ? {} : { so: Buffer.from(so, 'utf8') }) };
    return { done: true, data: { ...data, userPin: 'accepted', soPin: so === undefined ? 'not given: it stays as it is' : 'accepted', probes } };
  },
};

/**
 * C_SetPIN as `who` on a fresh session: log in with the old PIN, set the new one. Returns 'already' when the
 * old PIN is refused but the new one logs in: an earlier C_SetPIN of this step acted and its answer was lost
 * (a device reset or unplugged after acting), so a Retry goes on instead of failing on the PIN it replaced.
 */
export async function setPinAs(ctx: ActionContext, who: 'user' | 'so', oldPin: string, newPin: string): Promise<'set' | 'already'> {
  const { layer } = ctx.deps;
  const { session } = await layer.openSession(ctx.token.slot as SlotRef, { readWrite: true });
  try {
    try {
      await layer.login(session, who, oldPin);
    } catch (error) {
      if (!isTokenError(error) || error.code !== 'CKR_PIN_INCORRECT') throw error;
      const already = await layer.login(session, who, newPin).then(() => true, () => false);
      if (!already) throw error;
      await layer.logout(session).catch(() => undefined);
      return 'already';
    }
    await layer.setPin(session, oldPin, newPin);
    // Some drivers end the session with the change (the YubiHSM): logging out is best effort.
    await layer.logout(session).catch(() => undefined);
    return 'set';
  } finally {
    await layer.closeSession(session).catch(() => undefined);
  }
}

/**
 * The audit key and chain head a stopped enrol-token left (check-current-pins found them and named it):
 * destroyed with the PINs that attempt set, before they change, so that a kill in between leaves a token the
 * same shares open and a later way out finds clean. Recorded with what was destroyed.
 */
async function destroyStaleObjects(ctx: ActionContext, userPin: string, of: string): Promise<void> {
  const { layer } = ctx.deps;
  const { session } = await layer.openSession(ctx.token.slot as SlotRef, { readWrite: true });
  let destroyed = 0;
  try {
    await layer.login(session, 'user', userPin);
    try {
      for (const label of [AUDIT_KEY_LABEL, CHAIN_HEAD_LABEL]) {
        for (const h of await layer.findAll(session, { label })) {
          await layer.destroyObject(session, h);
          destroyed += 1;
        }
      }
    } finally {
      await layer.logout(session).catch(() => undefined);
    }
  } finally {
    await layer.closeSession(session).catch(() => undefined);
  }
  await ctx.record('stale-objects-destroyed', { of, destroyed, labels: [AUDIT_KEY_LABEL, CHAIN_HEAD_LABEL], note: 'the audit key (and chain head) that stopped attempt created; its chain is not continued' });
}

export const changePins: ActionImpl<Record<string, never>> = {
  name: 'change-pins',
  input: noInput,
  intent: (ctx): JsonObject => (ctx.state.staleObjectsOf ? { destroys: { staleObjectsOf: ctx.state.staleObjectsOf, labels: [AUDIT_KEY_LABEL, CHAIN_HEAD_LABEL] } } : {}),
  async perform(ctx) {
    const { layer } = ctx.deps;
    const slot = need(ctx.token.slot, ctx.step.id, 'no token was selected', 'Run select-token first.');
    const info = need(ctx.token.info, ctx.step.id, 'no token was selected', 'Run select-token first.');
    const current = need(ctx.secrets.currentPins, ctx.step.id, 'the current PINs are gone', 'Abort and start the ceremony again; nothing was changed.');
    const secret = need(ctx.secrets.secret, ctx.step.id, 'the ceremony secret is gone', 'Abort and start the ceremony again; nothing was changed.');
    requireRecoverableSecret(ctx);
    const pins = derivePins(secret, ctx.ceremonyId, { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength });
    const changed: string[] = [];
    // A Retry of this step goes on where the failed attempt stopped: a PIN already replaced is not set again.
    const replace = async (who: 'user' | 'so', newPin: string): Promise<void> => {
      const held = ctx.secrets.currentPins as { user: Uint8Array; so?: Uint8Array };
      const old = held[who] as Uint8Array;
      changed.push(who);
      if (Buffer.from(old).toString('utf8') === newPin) return;
      const how = await setPinAs(ctx, who, Buffer.from(old).toString('utf8'), newPin);
      held[who] = Buffer.from(newPin, 'utf8');
      wipe(old);
      await ctx.record(PIN_CHANGED_KIND, {
        pin: who,
        ...(how === 'already' ? { found: 'the token already had it: the earlier C_SetPIN acted, its answer was lost' } : {}),
        note: who === 'user' ? 'the user PIN is now derived from the ceremony secret: the shares just handed out open the token' : 'the SO PIN is now derived from the ceremony secret',
      });
    };
    if (ctx.state.staleObjectsOf) {
      await destroyStaleObjects(ctx, Buffer.from(current.user).toString('utf8'), ctx.state.staleObjectsOf);
      ctx.state.staleObjectsOf = undefined;
    }
    await replace('user', pins.userPin);
    if (current.so) {
      try {
        await replace('so', pins.soPin);
      } catch (error) {
        const e = error as { message?: string };
        throw new AppError(
          'enrol-so-pin-unchanged',
          `${tokenName(slot, info)}: the user PIN was changed, but the SO PIN change did not complete (${e.message ?? String(error)})`,
          'Retry this step: it checks which SO PIN the token has and goes on. If the ceremony stops here, the shares handed out open the token as its user (run enrol-token again presenting them); the SO PIN is the vendor\'s, or, if the change acted before the failure, the one M of these shares rebuild.',
        );
      }
    }
    // Open the token with the new user PIN for the steps that follow (audit key, genesis, seal).
    const { session } = await layer.openSession(slot, { readWrite: true });
    try {
      await layer.login(session, 'user', pins.userPin);
    } catch (error) {
      await layer.closeSession(session).catch(() => undefined);
      throw error;
    }
    ctx.token.session = session;
    ctx.token.loggedIn = 'user';
    const now = ctx.secrets.currentPins as { user: Uint8Array; so?: Uint8Array };
    wipe(ctx.secrets.secret, now.user, now.so);
    ctx.secrets.secret = undefined;
    ctx.secrets.currentPins = undefined;
    return { done: true, data: { changed, userPin: 'set from the secret', soPin: changed.includes('so') ? 'set from the secret' : "unchanged (the vendor's)", loggedIn: 'user', pinLength: pins.userPin.length } };
  },
};
