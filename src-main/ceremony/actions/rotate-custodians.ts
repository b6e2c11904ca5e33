// The rotate-custodians actions (ceremonies/rotate-custodians.yaml): replace the custodians of an enrolled
// token without touching its keys. The current custodians open the token (quorum-login, which here keeps the
// PINs their shares rebuild: loginKeepingPins); a new secret is generated, split among the new custodians,
// every share written, read back and every M-subset proven, and the new enrolment recorded in the chain
// (generate-secret, distribute-shares, prove-subsets), all before rotate-pins replaces the user PIN and then
// the SO PIN (C_SetPIN) with PINs derived from the new secret. At every moment one of the two sets of shares
// opens the token as its user. A `pin-changed` entry after the user PIN change puts the new enrolment in
// force (enrolment-in-force.ts); then the token is asked to refuse the old user PIN, and that is recorded.
// list-domain-tokens tells the room which other tokens on this laptop share the old domain and so still open
// with the old shares.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isTokenError } from '../../../hsm/errors.js';
import type { SlotRef, TokenInfo } from '../../../hsm/types.js';
import { AppError } from '../../errors.js';
import type { Entry } from '../../transcript/entry.js';
import { scanJournal } from '../../transcript/journal.js';
import type { JsonObject } from '../../transcript/json-value.js';
import { JOURNAL_FILE } from '../../transcript/store.js';
import { genesisTokenOf } from '../../tokens/identity.js';
import { derivePins, wipe } from '../quorum/index.js';
import { domainId } from '../quorum/domain.js';
import type { ActionContext, ActionImpl, ActionOutcome } from '../engine/types.js';
import { PIN_CHANGED_KIND, setPinAs } from './enrol-token.js';
import { enrolmentInForce } from './enrolment-in-force.js';
import { openAuditKey } from './existing-chain.js';
import { noInput } from './general.js';
import { requireRecoverableSecret } from './never-brick.js';
import { isNssSoftoken } from './nss-softoken.js';
import { finishingRotation, oldDomain } from './rotate-login.js';
import { need, tokenName } from './step-state.js';

/** Does `pin` open the token as `who` on a fresh session? Only a wrong PIN answers false. */
async function opens(ctx: ActionContext, who: 'user' | 'so', pin: string): Promise<boolean> {
  const { layer } = ctx.deps;
  const { session } = await layer.openSession(ctx.token.slot as SlotRef, { readWrite: true });
  try {
    await layer.login(session, who, pin);
    await layer.logout(session).catch(() => undefined);
    return true;
  } catch (error) {
    if (isTokenError(error) && error.code === 'CKR_PIN_INCORRECT') return false;
    throw error;
  } finally {
    await layer.closeSession(session).catch(() => undefined);
  }
}

export const rotatePins: ActionImpl<Record<string, never>> = {
  name: 'rotate-pins',
  input: noInput,
  async perform(ctx) {
    const { layer } = ctx.deps;
    const slot = need(ctx.token.slot, ctx.step.id, 'no token was selected', 'Run select-token first.');
    const info = need(ctx.token.info, ctx.step.id, 'no token was selected', 'Run select-token first.');
    const session = need(ctx.token.session, ctx.step.id, 'no token session is open', 'Run select-token and quorum-login first.');
    const current = need(ctx.secrets.currentPins, ctx.step.id, "the current custodians' PINs are gone", 'Abort and start rotate-custodians again; nothing was changed.');
    const secret = need(ctx.secrets.secret, ctx.step.id, 'the new secret is gone', 'Abort and start rotate-custodians again; nothing was changed.');
    // A resumed rotation that stopped inside this step: the new custodians opened the token with their shares
    // (so its user PIN change acted); what is left is to record it, and the SO PIN if it changed too.
    if (finishingRotation.has(ctx.state)) return finishStoppedRotation(ctx, slot, info, session, secret);
    // Never before every new custodian holds a proven share and the new enrolment is in the chain.
    requireRecoverableSecret(ctx);
    const pins = derivePins(secret, ctx.ceremonyId, { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength });
    const newDomain = domainId(secret);
    const oldUser = Buffer.from(current.user).toString('utf8');
    const oldSo = current.so ? Buffer.from(current.so).toString('utf8') : undefined;
    // C_SetPIN needs its own login, and a PKCS#11 login is the application's, not the session's: logged out
    // whatever this run believes (a Retry after a failure may find the new PIN logged in).
    await layer.logout(session).catch(() => undefined);
    ctx.token.loggedIn = undefined;
    // The SO PIN is the one the old secret derives only where a ceremony set it (init-token always; enrol-token
    // when the room gave the SO PIN), or already the new one (a Retry after it changed): asked before anything
    // changes, so a vendor's SO PIN is left alone.
    const hasSo = oldSo !== undefined && !isNssSoftoken(slot.moduleId, info);
    const so: 'old' | 'new' | 'other' | 'none' = !hasSo ? 'none' : (await opens(ctx, 'so', oldSo)) ? 'old' : (await opens(ctx, 'so', pins.soPin)) ? 'new' : 'other';
    const changed: string[] = [];
    const how = await setPinAs(ctx, 'user', oldUser, pins.userPin);
    changed.push('user');
    // From this entry on the new enrolment is in force: the new shares open the token as its user.
    await ctx.record(PIN_CHANGED_KIND, { pin: 'user', ...(how === 'already' ? { found: 'the token already had it: an earlier C_SetPIN acted, its answer was lost' } : {}), note: 'the user PIN is now derived from the new secret: the new custodians\' shares open the token; the old ones do not' });
    if (so === 'old' && oldSo !== undefined) {
      try {
        const soHow = await setPinAs(ctx, 'so', oldSo, pins.soPin);
        changed.push('so');
        await ctx.record(PIN_CHANGED_KIND, { pin: 'so', ...(soHow === 'already' ? { found: 'the token already had it' } : {}), note: 'the SO PIN is now derived from the new secret' });
      } catch (error) {
        throw new AppError(
          'rotate-so-pin-unchanged',
          `${tokenName(slot, info)}: the user PIN was replaced (the new custodians open the token), but the SO PIN change did not complete (${(error as Error).message})`,
          'Retry this step: it finds the user PIN already replaced and goes on with the SO PIN, which is the old secret\'s until then (M of the old shares rebuild it).',
        );
      }
    } else if (so === 'new') {
      changed.push('so');
      await ctx.record(PIN_CHANGED_KIND, { pin: 'so', found: 'the token already had it: an earlier attempt of this step set it and its answer was lost', note: 'the SO PIN is derived from the new secret' });
    }
    // The token itself must now refuse what the old shares rebuild.
    const oldRefused = !(await opens(ctx, 'user', oldUser));
    await layer.login(session, 'user', pins.userPin);
    ctx.token.loggedIn = 'user';
    // A logout ends the handles of private objects (SoftHSM drops them): the audit key is opened again, and
    // checked again against the genesis entry, for the seal and the bundle.
    await openAuditKey(ctx, session);
    wipe(ctx.secrets.secret, current.user, current.so);
    ctx.secrets.secret = undefined;
    ctx.secrets.currentPins = undefined;
    if (!oldRefused) {
      throw new AppError('rotate-old-pin-accepted', `${tokenName(slot, info)} still accepts the user PIN the old shares rebuild after C_SetPIN reported success`, 'Do not hand the old shares back as void: run audit-token, and report this token model. The new shares open the token.');
    }
    return {
      done: true,
      data: {
        changed,
        soPin: so === 'old' ? 'set from the new secret' : so === 'new' ? 'already the new secret\'s (an earlier attempt of this step set it)' : so === 'none' ? 'the token has none to change' : "unchanged: it is not one the old secret derives (the vendor's)",
        oldUserPinRefused: true,
        enrolmentInForce: ctx.ceremonyId,
        domainId: { old: oldDomain.get(ctx.state) ?? null, new: newDomain },
      },
    };
  },
};

/**
 * The end of a rotation resumed after it stopped inside its PIN step, once its new shares opened the token:
 * the user PIN change is recorded as found, the SO PIN is asked whether it is the new one (else it stays the
 * old secret's, or the vendor's, which M old shares or the vendor's record open), the audit key opened again.
 */
async function finishStoppedRotation(ctx: ActionContext, slot: SlotRef, info: TokenInfo, session: string, secret: Uint8Array): Promise<ActionOutcome> {
  const { layer } = ctx.deps;
  const pins = derivePins(secret, ctx.ceremonyId, { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength });
  await ctx.record(PIN_CHANGED_KIND, { pin: 'user', found: 'the token already had it: this rotation stopped after its C_SetPIN acted and before it was recorded; the new shares opened the token on resume', note: "the user PIN is derived from the new secret: the new custodians' shares open the token" });
  await layer.logout(session).catch(() => undefined);
  ctx.token.loggedIn = undefined;
  const soNew = !isNssSoftoken(slot.moduleId, info) && (await opens(ctx, 'so', pins.soPin));
  if (soNew) await ctx.record(PIN_CHANGED_KIND, { pin: 'so', found: 'the token already had it', note: 'the SO PIN is derived from the new secret' });
  await layer.login(session, 'user', pins.userPin);
  ctx.token.loggedIn = 'user';
  await openAuditKey(ctx, session);
  wipe(ctx.secrets.secret, ctx.secrets.currentPins?.user);
  ctx.secrets.secret = undefined;
  ctx.secrets.currentPins = undefined;
  return {
    done: true,
    data: {
      changed: soNew ? ['user', 'so'] : ['user'],
      soPin: soNew ? 'set from the new secret (found after the resume)' : isNssSoftoken(slot.moduleId, info) ? 'the token has none to change' : "not the new secret's: it stays the old secret's (M of the old shares rebuild it) or the vendor's",
      oldUserPinRefused: false,
      oldSharesNote: 'not asked in this resumed run (the old shares were not presented); the token refuses the old user PIN since the new one replaced it',
      finishedAfterStop: true,
      enrolmentInForce: ctx.ceremonyId,
      domainId: { old: null, new: domainId(secret) },
    },
  };
}

/** A chain's domain: the domainId its enrolment in force records, or its rotation recorded; otherwise the enrolment alone. */
function domainOfChain(entries: readonly Entry[]): { domain: string; recorded: boolean } | undefined {
  const e = enrolmentInForce(entries);
  if (!e) return undefined;
  if (typeof e.data.domainId === 'string') return { domain: e.data.domainId, recorded: true };
  const rotated = entries.find((x) => x.ceremonyId === e.ceremonyId && x.kind === 'result' && (x.data as { action?: unknown }).action === 'rotate-pins');
  const d = (rotated?.data as { domainId?: { new?: unknown } } | undefined)?.domainId?.new;
  if (typeof d === 'string') return { domain: d, recorded: true };
  return { domain: `enrolment:${e.enrolment.ceremonyId}`, recorded: false };
}

export const listDomainTokens: ActionImpl<Record<string, never>> = {
  name: 'list-domain-tokens',
  input: noInput,
  async perform(ctx) {
    const store = need(ctx.chain(), ctx.step.id, 'no token was selected', 'Run select-token first.');
    // After a resume the login was the new custodians': the old domain is the one rotate-pins recorded.
    const head = store.head();
    const pinsResult = head ? [...store.entries(0, head.seq)].reverse().find((e) => e.ceremonyId === ctx.ceremonyId && e.kind === 'result' && (e.data as { action?: unknown }).action === 'rotate-pins') : undefined;
    const recordedOld = (pinsResult?.data as { domainId?: { old?: unknown } } | undefined)?.domainId?.old;
    const old = typeof recordedOld === 'string' ? recordedOld : oldDomain.get(ctx.state);
    if (old === undefined) {
      // A rotation finished after a stop: the old custodians' secret was not rebuilt in this run.
      return { done: true, data: { oldDomainId: null, thisToken: 'rotated: only the new shares open it', otherTokens: [], note: 'the old domain is not known in this resumed run (the old shares were not presented): look for other tokens the old custodians open yourself' } };
    }
    const mine = store.dir;
    const root = join(ctx.deps.dataDir, 'chains');
    const others: JsonObject[] = [];
    for (const name of (await readdir(root).catch(() => [] as string[])).sort()) {
      const dir = join(root, name);
      if (dir === mine) continue;
      let entries: Entry[];
      try {
        entries = scanJournal(await readFile(join(dir, JOURNAL_FILE)), join(dir, JOURNAL_FILE)).entries;
      } catch {
        continue;
      }
      const domain = domainOfChain(entries);
      if (!domain || domain.domain !== old) continue;
      const t = genesisTokenOf(entries[0]?.data);
      others.push({ chain: name, token: { label: t?.label ?? '?', serial: t?.serial ?? '?' }, needsRotation: true });
    }
    return {
      done: true,
      data: {
        oldDomainId: old,
        thisToken: 'rotated: only the new shares open it',
        otherTokens: others,
        note:
          others.length === 0
            ? 'no other token of the old domain is known on this laptop (chains whose enrolment records no domain id count as a domain of their own)'
            : `${others.length} other token(s) of the old domain still open with the old shares: run rotate-custodians on each, with M of the old shares, before the old shares are destroyed`,
      },
    };
  },
};
