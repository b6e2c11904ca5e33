// Ceremonies on a token that init-token already enrolled (custodians source: enrolment, e.g. kms-import):
// select-token finds the token's local chain (chains/<enrolment id>/, whose genesis entry names the audit
// key the token holds: tokens/identity.ts), reads the enrolment from it and continues that chain; after the
// quorum login the token's chain head is compared with the local store, and the ceremony is refused unless
// they agree.
import { join } from 'node:path';
import { z } from 'zod';
import { ErrorCodes, TokenError } from '../../../hsm/errors.js';
import type { SlotRef, TokenInfo } from '../../../hsm/types.js';
import { AppError } from '../../errors.js';
import { compareChainHead, readChainHead, type ChainHeadComparison } from '../../transcript/chain-head.js';
import type { Entry } from '../../transcript/entry.js';
import type { JsonObject } from '../../transcript/json-value.js';
import { TranscriptStore } from '../../transcript/store.js';
import { TokenAuditSigner } from '../../transcript/token-signer.js';
import { probeKmsCapabilities } from '../../../hsm/capabilities.js';
import { describeToken, readTokenIdentity } from '../../tokens/identity.js';
import { findChainsForToken, newestChain } from '../../tokens/token-chains.js';
import type { ActionContext, ActionOutcome } from '../engine/types.js';
import type { selectTokenInput } from './init-token.js';
import { enrolmentOfChain } from './quorum-login.js';
import { preChainLogEntry, tokenRecord } from './step-state.js';
import { auditKeyWaivers } from './nss-softoken.js';

/** The entry that carries what this ceremony recorded before it joined the chain (like init-token's pre-genesis). */
export const PRE_CHAIN_KIND = 'pre-chain';
/** The pre-genesis log record naming the chain this ceremony continues (recovery reads `data.chain`). */
export const CHAIN_ATTACH_KIND = 'chain-attach';

/** Kinds that end a ceremony (as in engine/run.ts; not imported from there to keep the module graph acyclic). */
const TERMINAL_KINDS: readonly string[] = ['completed', 'abort', 'interrupted'];

export const continuesChain = (ctx: Pick<ActionContext, 'loaded'>) => ctx.loaded.script.roles.custodians.source === 'enrolment';

export async function resolveToken(ctx: ActionContext, input: z.infer<typeof selectTokenInput>): Promise<{ ref: SlotRef; info: TokenInfo }> {
  const { layer } = ctx.deps;
  if ('uri' in input) {
    const opened = await layer.openSession({ uri: input.uri }, { readWrite: false });
    await layer.closeSession(opened.session);
    return { ref: { moduleId: opened.moduleId, slotId: opened.slotId }, info: opened.token };
  }
  const slots = await layer.listSlots(input.moduleId);
  const slot = slots.find((s) => s.slotId === input.slotId);
  if (!slot) throw new TokenError(ErrorCodes.SLOT_NOT_FOUND, `module ${input.moduleId} has no slot ${input.slotId} (slots: ${slots.map((s) => s.slotId).join(', ') || 'none'})`, 'Choose the token again from the list.');
  if (!slot.tokenPresent || !slot.token) throw new TokenError(ErrorCodes.TOKEN_NOT_FOUND, `slot ${input.slotId} of module ${input.moduleId} holds no token`, 'Insert the token, then choose it again.');
  return { ref: { moduleId: input.moduleId, slotId: input.slotId }, info: slot.token };
}

/**
 * A token that can perform none of the KMS wrapping algorithms inside itself is refused when it is chosen,
 * before any login, whatever else is wrong with it (a token that cannot wrap was never enrolled either).
 */
async function refuseTokenThatCannotWrap(ctx: ActionContext, ref: SlotRef, info: TokenInfo): Promise<void> {
  const caps = await probeKmsCapabilities(ctx.deps.layer, ref);
  // The parameters step asks the same question of the same token: it reuses this answer.
  (ctx.state.kms ??= {}).tokenCapabilities = { slot: ref, capabilities: caps };
  if (caps.some((c) => c.supported)) return;
  const why = [...new Set(caps.map((c) => c.reason).filter((r): r is string => typeof r === 'string'))].join('; ');
  throw new AppError(
    'token-cannot-wrap',
    `this token cannot wrap: token '${info.label.trim()}' (${info.manufacturer.trim()} ${info.model.trim()}, slot ${ref.slotId}) performs none of the AWS KMS wrapping algorithms inside itself${why ? ` (${why})` : ''}`,
    `Use a token that can wrap inside itself (see docs/tokens.md); ${ctx.loaded.script.kind} never wraps outside the token. Nothing was recorded on the token.`,
  );
}

/** Ceremonies that joined this chain (a pre-chain entry) and never ended: they wait to be resumed or abandoned. */
export function interruptedOnChain(entries: readonly Entry[]): string[] {
  const ended = new Set(entries.filter((e) => TERMINAL_KINDS.includes(e.kind)).map((e) => e.ceremonyId));
  return [...new Set(entries.filter((e) => e.kind === PRE_CHAIN_KIND && !ended.has(e.ceremonyId)).map((e) => e.ceremonyId))];
}

export async function selectEnrolledToken(ctx: ActionContext, input: z.infer<typeof selectTokenInput>): Promise<ActionOutcome> {
  const { layer } = ctx.deps;
  if (ctx.chain()) throw new AppError('ceremony-state', `step '${ctx.step.id}': the token was already selected`, 'Go on with the next step.');
  const { ref, info } = await resolveToken(ctx, input);
  const t = tokenRecord(info);
  await refuseTokenThatCannotWrap(ctx, ref, info);
  if (!info.initialized) {
    throw new AppError('token-not-initialized', `token in slot ${ref.slotId} is not initialized; ${ctx.loaded.script.kind} needs a token enrolled by init-token`, 'Choose the token the custodians were enrolled on, or run init-token first.');
  }
  const identity = await readTokenIdentity(layer, ref);
  const candidates = await findChainsForToken(ctx.deps.dataDir, t, identity);
  if (candidates.length === 0) {
    throw new AppError(
      'chain-missing',
      `${describeToken(info, identity)} has no transcript chain on this laptop (looked in ${join(ctx.deps.dataDir, 'chains')}${identity.kind === 'none' ? `; ${identity.why}` : ''}): its history was written elsewhere, or in another data directory`,
      "Import this token's transcript bundles (the init-token bundle and every later one) into this laptop's data directory, then start the ceremony again.",
    );
  }
  // Several chains can name one token only when it is known by serial (no audit key readable before a login:
  // a re-initialized YubiHSM keeps its serial): the newest genesis is this token lifetime's; the audit key and
  // the chain head on the token confirm it after the login.
  const newest = newestChain(candidates) as (typeof candidates)[number];
  const { store } = await TranscriptStore.open(newest.dir, ctx.deps.clock ? { clock: ctx.deps.clock } : {});
  let attached = false;
  try {
    const head = store.head();
    const recorded = head ? enrolmentOfChain(store) : undefined;
    if (!head || !recorded) {
      throw new AppError('ceremony-no-enrolment', `the local chain ${newest.name} of token '${t.label}' holds no enrolment`, 'Import the init-token bundle of this token first, then start again.');
    }
    const waiting = interruptedOnChain(store.entries(0, head.seq)).filter((id) => id !== ctx.ceremonyId);
    if (waiting.length > 0) {
      throw new AppError(
        'chain-ceremony-interrupted',
        `ceremony ${waiting.join(', ')} on token '${t.label}' was interrupted and is neither resumed nor abandoned; one ceremony at a time continues a token's transcript`,
        'Resume it (Home, Past ceremonies: Resume; or keyceremony KIND --resume ID, as keyceremony ceremonies lists it) and finish it, or abandon it (Home: Abandon…; or keyceremony abandon ID --reason TEXT; recorded), then start this ceremony again.',
      );
    }
    const { session } = await layer.openSession(ref, { readWrite: true });
    ctx.token.session = session;
    ctx.token.slot = ref;
    ctx.token.info = info;
    ctx.state.enrolment = recorded.enrolment;
    ctx.state.secretCheck = recorded.secretCheck;
    const chainInfo: JsonObject = {
      enrolmentId: recorded.enrolment.ceremonyId,
      name: newest.name,
      genesisHash: newest.genesis.hash,
      localHead: { seq: head.seq, hash: head.hash },
      foundBy: identity.kind === 'audit-key' ? { auditKeySha256: identity.sha256 } : { serialAndLabel: true, why: identity.why },
    };
    if (candidates.length > 1) chainInfo.otherChains = candidates.filter((c) => c !== newest).map((c) => c.name);
    await ctx.record(CHAIN_ATTACH_KIND, { chain: newest.name, ...chainInfo });
    await store.append(await preChainLogEntry(ctx, PRE_CHAIN_KIND));
    ctx.startChain(store);
    attached = true;
    return {
      done: true,
      data: {
        moduleId: ref.moduleId,
        slotId: ref.slotId,
        token: { ...t, initialized: true },
        chain: chainInfo,
        enrolment: { ceremonyId: recorded.enrolment.ceremonyId, threshold: recorded.enrolment.threshold, custodians: recorded.enrolment.custodians.map((c) => c.name) },
      },
    };
  } finally {
    if (!attached) {
      await store.close();
      if (ctx.token.session) {
        await layer.closeSession(ctx.token.session).catch(() => undefined);
        ctx.token.session = undefined;
      }
    }
  }
}

/**
 * After the quorum login of a ceremony that continues a chain: the token's chain head must match the local
 * store. The store may run past the token's head only with entries of the ceremony that wrote that head
 * (what it recorded after writing it), of ceremonies that ended (completed, aborted or interrupted), and
 * of this ceremony. Anything else is refused with the comparison in words; the caller logs out.
 */
export async function checkChainContinuity(ctx: ActionContext, session: string): Promise<JsonObject> {
  const store = ctx.chain();
  if (!store) throw new AppError('ceremony-no-chain', `step '${ctx.step.id}': no transcript chain is open`, 'Select the token first.');
  const token = await readChainHead(ctx.deps.layer, session);
  const cmp: ChainHeadComparison = compareChainHead(token, store);
  const refuse = (why: string, remedy: string): never => {
    throw new AppError('chain-head-mismatch', `the token's chain head and the local transcript do not agree (${cmp.status}): ${why}`, remedy);
  };
  const importRemedy = (what: string) =>
    `Import ${what} (the app's Import screen, or importBundles) into this laptop's transcript, then start the ceremony again. Nothing was generated; the token was logged out.`;
  if (cmp.status === 'store-behind' || cmp.status === 'store-empty') {
    refuse(cmp.message, importRemedy(`the transcript bundles holding entries ${cmp.missing?.first}-${cmp.missing?.last}`));
  }
  if (cmp.status === 'token-empty' || cmp.status === 'both-empty') {
    refuse(cmp.message, 'A token enrolled by init-token always holds a chain head: check that this is the right token and the right data directory; do not continue until it is explained.');
  }
  if (cmp.status === 'diverged') {
    refuse(cmp.message, "This laptop's transcript is not this token's history: use the data directory (or import the bundles) of this token; do not continue until it is explained.");
  }
  const head = token as { seq: number; hash: string };
  const after: JsonObject[] = [];
  if (cmp.status === 'store-ahead') {
    const local = store.head() as { seq: number };
    const writer = store.entryAt(head.seq)?.ceremonyId;
    const later = store.entries(head.seq + 1, local.seq);
    const ended = new Set(store.entries(0, local.seq).filter((e) => TERMINAL_KINDS.includes(e.kind)).map((e) => e.ceremonyId));
    const ids = [...new Set(later.map((e) => e.ceremonyId))];
    const unexplained = ids.filter((id) => id !== writer && id !== ctx.ceremonyId && !ended.has(id));
    // An interrupted ceremony of this laptop (it joined the chain: its pre-chain entry is there) waits for the room.
    const waiting = unexplained.filter((id) => later.some((e) => e.ceremonyId === id && e.kind === PRE_CHAIN_KIND));
    if (waiting.length > 0) {
      refuse(
        `${cmp.message} Ceremony ${waiting.join(', ')} on this token was interrupted and is neither resumed nor abandoned.`,
        'Resume it (Home, Past ceremonies: Resume; or keyceremony KIND --resume ID, as keyceremony ceremonies lists it) and finish it, or abandon it (Home: Abandon…; or keyceremony abandon ID --reason TEXT; recorded), then start this ceremony again. Nothing was generated; the token was logged out.',
      );
    }
    if (unexplained.length > 0) {
      refuse(
        `${cmp.message} But the local entries after the token's head include ceremon${unexplained.length === 1 ? 'y' : 'ies'} ${unexplained.join(', ')}, which never ended and never wrote the token's head: the local transcript was altered, or it holds another laptop's unfinished work.`,
        "Compare this laptop's transcript with the exported bundles of this token; use a data directory that holds exactly this token's history. Nothing was generated; the token was logged out.",
      );
    }
    for (const id of ids) after.push({ ceremonyId: id, why: id === ctx.ceremonyId ? 'this ceremony' : id === writer ? 'wrote the token head, then ended' : 'ended without writing the head' });
  }
  return { status: cmp.status, message: cmp.message, token: { seq: head.seq, hash: head.hash }, ...(after.length > 0 ? { entriesAfterTokenHead: after } : {}) };
}

/** Open the token's audit key and check it is the one the chain's genesis names. */
export async function openAuditKey(ctx: ActionContext, session: string): Promise<JsonObject> {
  const store = ctx.chain();
  const genesis = store?.entryAt(0);
  const expected = (genesis?.data as { auditKey?: { spki?: unknown } } | undefined)?.auditKey?.spki;
  const waivers = auditKeyWaivers(ctx.token);
  const signer = await TokenAuditSigner.open(ctx.deps.layer, session, waivers);
  const spki = Buffer.from(signer.spkiDer()).toString('base64');
  if (typeof expected !== 'string' || spki !== expected) {
    throw new AppError('audit-key-mismatch', "the token's audit key is not the one named by the chain's genesis entry", 'This token does not belong to this transcript: check the token and the data directory.');
  }
  ctx.token.signer = signer;
  return { spkiMatchesGenesis: true, ...(waivers.CKA_LOCAL ? { waivers: { CKA_LOCAL: waivers.CKA_LOCAL } } : {}) };
}
