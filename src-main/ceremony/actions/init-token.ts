// The init-token actions: choose the token, generate and split S, hand out the shares, prove every subset
// and record the enrolment, and only then initialize the token, set its PINs, create the audit key, write
// genesis and enrol the custodians in the chain (never-brick.ts: the token is never changed before M
// custodians can rebuild its new PINs).
import { join } from 'node:path';
import { z } from 'zod';
import { ErrorCodes, TokenError } from '../../../hsm/errors.js';
import type { SlotInfo, SlotRef, TokenInfo } from '../../../hsm/types.js';
import { AppError } from '../../errors.js';
import { sha256Hex } from '../../transcript/canonical.js';
import { fsyncDirectory, writeNewFileVerified } from '../../transcript/fs-durable.js';
import type { JsonObject } from '../../transcript/json-value.js';
import { TranscriptStore } from '../../transcript/store.js';
import { TokenAuditSigner } from '../../transcript/token-signer.js';
import {
  createShareFile,
  derivePins,
  encodeShareCode,
  enrolCustodians,
  generateCeremonySecret,
  passphraseProblem,
  proveSubsets,
  secretCheck,
  serializeShareFile,
  splitSecret,
  wipe,
} from '../quorum/index.js';
import type { ActionContext, ActionImpl } from '../engine/types.js';
import type { Enrolment } from '../quorum/index.js';
import { absoluteDir, noInput } from './general.js';
import { ENROLMENT_KIND, openPresentedShares, pinsCeremonyIdOf, rebuildSecret } from './quorum-login.js';
import { presentShareInput, SHARE_FILE_KIND, type PresentShareInput } from './presented-share.js';
import { pending, readBackShare, requireRecoverableSecret } from './never-brick.js';
import { checkShareFolder, shareFileName } from './share-folder.js';
import { tokenLabelProblem } from './token-label.js';
import { need, preChainLogEntry, tokenRecord } from './step-state.js';
import { resolveToken } from './existing-chain.js';
import { auditKeyWaivers } from './nss-softoken.js';
import type { PriorAttempt } from '../engine/types.js';
import { parseShareFile } from '../quorum/share-file.js';
import { domainId } from '../quorum/domain.js';
import { readBounded } from '../../files/read-bounded.js';

export { pending } from './never-brick.js';

export const chainDirOf = (dataDir: string, enrolmentId: string) => join(dataDir, 'chains', enrolmentId);

function custodiansOf(ctx: ActionContext): string[] {
  return ctx.parameters.custodians as string[];
}
function thresholdOf(ctx: ActionContext): number {
  return ctx.parameters.threshold as number;
}
function labelOf(ctx: ActionContext): string {
  return ctx.parameters.tokenLabel as string;
}

export const selectTokenInput = z.union(
  [
    z.strictObject({ uri: z.string({ error: 'must be a PKCS#11 URI' }).startsWith('pkcs11:', { error: "must be a PKCS#11 URI starting with 'pkcs11:'" }).max(4096) }),
    z.strictObject({
      moduleId: z.string({ error: 'must be a module id (its path)' }).min(1, { error: 'must be a module id (its path)' }),
      slotId: z.string({ error: 'must be a slot id (decimal string)' }).regex(/^\d{1,20}$/, { error: 'must be a slot id (decimal string)' }),
    }),
  ],
  { error: 'give either uri, or moduleId and slotId' },
);

/** Earlier init-token attempts that were stopped (interrupted or aborted) and may have initialized this token, newest first. */
function stoppedAttemptsOn(prior: readonly PriorAttempt[], t: { serial: string; label: string }): PriorAttempt[] {
  return prior
    .filter((a) => a.kind === 'init-token' && (a.status === 'interrupted' || a.status === 'aborted'))
    .filter((a) => (a.token?.serial === t.serial && a.token.label === t.label) || a.initAttempted === t.label)
    .reverse();
}

/** Can M shares of this attempt rebuild its SO PIN? (It recorded an enrolment and handed out at least M shares.) */
const rebuildable = (a: PriorAttempt) => a.enrolment !== undefined && (a.sharesIssued.length >= a.enrolment.enrolment.threshold || a.enrolment.pinsCeremonyId !== undefined);

export const selectToken: ActionImpl<z.infer<typeof selectTokenInput>> = {
  name: 'select-token',
  input: selectTokenInput,
  describe: (input) => ({ ...input }),
  async perform(ctx, input) {
    const { ref, info } = await resolveToken(ctx, input);
    let reinitialize: JsonObject | undefined;
    if (info.initialized) {
      const t = tokenRecord(info);
      if (ctx.parameters.allowReinitialize === true) {
        reinitialize = { reason: 'allowReinitialize', note: 'the room agreed to erase this initialized token' };
      } else {
        const attempts = stoppedAttemptsOn((await ctx.deps.priorAttempts?.()) ?? [], t);
        const attempt = attempts[0];
        if (!attempt) {
          throw new AppError(
            'token-not-blank',
            `token '${t.label}' (serial ${t.serial}) in slot ${ref.slotId} is already initialized; init-token needs a blank token`,
            'Choose a blank token. To keep this token as it is and enrol custodians on it with the PINs it has now, run the ceremony "Enrol custodians on an initialized token" (keyceremony enrol-token). To erase it, start again with "Allow erasing an initialized token" (--allow-reinitialize) if the room agreed.',
          );
        }
        // Checked now, before any share of this ceremony is handed out: can anyone rebuild the SO PIN at all?
        const usable = attempts.filter(rebuildable);
        if (usable.length === 0) {
          throw new AppError(
            'token-reset-needed',
            `token '${t.label}' was initialized by the stopped attempt ${attempt.ceremonyId}, which ${attempt.enrolment ? `handed out only ${attempt.sharesIssued.length} of the ${attempt.enrolment.enrolment.threshold} shares needed` : 'recorded no enrolment (an earlier version of this app)'}, so nothing can rebuild its SO PIN`,
            "Reset the token with its vendor's tool (SoftHSM: softhsm2-util --delete-token --token LABEL), then start init-token again on the blank token.",
          );
        }
        reinitialize = { reason: 'interrupted-attempt', interruptedCeremonyId: attempt.ceremonyId, voidShares: attempt.sharesIssued };
        if (usable.length > 1 || usable[0] !== attempt) reinitialize.candidates = usable.map((a) => a.ceremonyId);
        ctx.state.reinitialize = { reason: 'interrupted-attempt', attempts: usable };
      }
      if (ctx.parameters.allowReinitialize === true) ctx.state.reinitialize = { reason: 'allowReinitialize' };
    }
    ctx.token.slot = ref;
    ctx.token.info = info;
    const data: JsonObject = { moduleId: ref.moduleId, slotId: ref.slotId, token: { ...tokenRecord(info), initialized: info.initialized } };
    if (reinitialize) data.reinitialize = reinitialize;
    return { done: true, data };
  },
};

export const generateSecret: ActionImpl<Record<string, never>> = {
  name: 'generate-secret',
  input: noInput,
  async perform(ctx) {
    wipe(ctx.secrets.secret, ...(ctx.secrets.shares ?? []).map((s) => s.share));
    const secret = generateCeremonySecret();
    try {
      ctx.secrets.shares = await splitSecret(secret, custodiansOf(ctx), thresholdOf(ctx));
    } catch (error) {
      wipe(secret);
      throw error;
    }
    ctx.secrets.secret = secret;
    ctx.state.secretCheck = secretCheck(secret, ctx.ceremonyId);
    // A new secret is a new security domain; its id is public and the same on every token that joins it.
    ctx.state.domain = { domainId: domainId(secret) };
    return { done: true, data: { custodians: custodiansOf(ctx), threshold: thresholdOf(ctx), shares: custodiansOf(ctx).length, domainId: ctx.state.domain.domainId } };
  },
};

/** After C_InitToken the token may sit in another slot (SoftHSM moves it): find it again by its new label. */
function findInitialized(before: SlotInfo[], after: SlotInfo[], old: SlotRef, label: string): SlotInfo {
  const key = (s: SlotInfo) => `${s.slotId}/${s.token?.serial.trim() ?? ''}`;
  const known = new Set(before.filter((s) => s.token?.initialized).map(key));
  const labelled = after.filter((s) => s.token?.initialized && s.token.label.trim() === label);
  let candidates = labelled.filter((s) => !known.has(key(s)));
  if (candidates.length === 0) candidates = labelled.filter((s) => s.slotId === old.slotId);
  if (candidates.length !== 1) {
    throw new TokenError(
      candidates.length === 0 ? ErrorCodes.TOKEN_NOT_FOUND : ErrorCodes.TOKEN_AMBIGUOUS,
      `after initialization, ${candidates.length === 0 ? 'no' : candidates.length} token${candidates.length === 1 ? '' : 's'} labelled '${label}' ${candidates.length === 0 ? 'was' : 'were'} found in module ${old.moduleId}`,
      'Remove other tokens with the same label and check the token list; do not run this step again before the token is found.',
    );
  }
  return candidates[0] as SlotInfo;
}

export const initTokenInput = z.strictObject({
  /** Re-initializing the token of an interrupted attempt: M of that attempt's (void) shares rebuild its SO PIN. */
  previousShares: z.array(presentShareInput, { error: 'must be a list of shares' }).min(1, { error: 'must list at least one share' }).max(255).optional(),
  /** Re-initializing a token initialized elsewhere (allowReinitialize): its current SO PIN. */
  currentSoPin: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }).max(255, { error: 'must be at most 255 characters' }).optional(),
});
type InitTokenInput = z.infer<typeof initTokenInput>;

/** The SO PIN the token has now, which C_InitToken demands before it erases an initialized token. */
async function currentSoPin(ctx: ActionContext, input: InitTokenInput): Promise<{ pin: string; how: JsonObject } | undefined> {
  const re = ctx.state.reinitialize;
  if (!re) {
    if (input.previousShares || input.currentSoPin) throw new AppError('ceremony-input', `step '${ctx.step.id}': the token is blank; previousShares and currentSoPin are not needed`, 'Run the step without them.');
    return undefined;
  }
  if (re.reason === 'allowReinitialize') {
    if (input.currentSoPin === undefined) throw new AppError('token-so-pin-needed', `step '${ctx.step.id}': the token is initialized; erasing it needs its current SO PIN (input.currentSoPin)`, 'The security officer of this token enters its SO PIN.');
    return { pin: input.currentSoPin, how: { reinitialize: 'allowReinitialize', soPin: 'entered by the security officer' } };
  }
  const attempt = re.attempts[0] as PriorAttempt & { enrolment: NonNullable<PriorAttempt['enrolment']> };
  if (!input.previousShares) {
    throw new AppError(
      'token-so-pin-needed',
      `step '${ctx.step.id}': the token was initialized by the stopped attempt ${attempt.ceremonyId}; erasing it needs ${attempt.enrolment.enrolment.threshold} of that attempt's shares (input.previousShares), which rebuild its SO PIN`,
      `${wayOut(attempt)} The token is untouched.`,
    );
  }
  const chosen = await attemptOfShares(re.attempts, input.previousShares);
  const shares = await openPresentedShares(input.previousShares, chosen.enrolment.enrolment.ceremonyId);
  const { secret, custodians } = await rebuildSecret(chosen.enrolment, shares, `re-initialization of the token of ${chosen.ceremonyId}`);
  try {
    const info = ctx.token.info;
    const pins = derivePins(secret, pinsCeremonyIdOf(chosen.enrolment), info ? { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength } : {});
    return { pin: pins.soPin, how: { reinitialize: 'interrupted-attempt', interruptedCeremonyId: chosen.ceremonyId, soPinRebuiltBy: custodians } };
  } finally {
    wipe(secret);
  }
}

/** What gets the room out: the share files of the stopped attempt, in the app and on the command line. */
function wayOut(a: PriorAttempt): string {
  const m = a.enrolment?.enrolment.threshold ?? 0;
  return `Any ${m} of ${a.sharesIssued.join(', ')} present their share file of attempt ${a.ceremonyId} (void for anything else): in the app, add them under "previous share files" at this step; on the command line, add --previous-share FILE:PASSPHRASE_FILE for each.`;
}

/** The stopped attempt the presented shares belong to (a share file names its ceremony; a share code is tried against each). */
async function attemptOfShares(attempts: readonly PriorAttempt[], presented: readonly PresentShareInput[]): Promise<PriorAttempt & { enrolment: NonNullable<PriorAttempt['enrolment']> }> {
  const withEnrolment = attempts.filter((a): a is PriorAttempt & { enrolment: NonNullable<PriorAttempt['enrolment']> } => a.enrolment !== undefined);
  const first = presented[0];
  if (first && 'shareFile' in first) {
    let id: string | undefined;
    try {
      id = parseShareFile(await readBounded(first.shareFile, SHARE_FILE_KIND)).ceremonyId;
    } catch {
      id = undefined; // openPresentedShares names the problem with this file.
    }
    const match = withEnrolment.find((a) => a.enrolment.enrolment.ceremonyId === id);
    if (match) return match;
    if (id !== undefined) {
      throw new AppError(
        'share-other-ceremony',
        `input.previousShares[0]: ${first.shareFile} is a share of ceremony ${id}, which did not initialize this token (it was: ${withEnrolment.map((a) => a.ceremonyId).join(' or ')})`,
        `${withEnrolment.map(wayOut).join(' Or: ')} The token is untouched.`,
      );
    }
  }
  return withEnrolment[0] as PriorAttempt & { enrolment: NonNullable<PriorAttempt['enrolment']> };
}

export const initTokenAction: ActionImpl<InitTokenInput> = {
  name: 'init-token',
  input: initTokenInput,
  // The label this action writes, exactly as the token will store it: refused before the ceremony starts.
  checkParameters: (parameters) => tokenLabelProblem(parameters.tokenLabel),
  describe: (input) => ({ previousShares: input.previousShares?.length ?? 0, currentSoPin: input.currentSoPin === undefined ? 'not given' : 'given' }),
  async perform(ctx, input) {
    const { layer } = ctx.deps;
    const slot = need(ctx.token.slot, ctx.step.id, 'no token was selected', 'Run select-token first.');
    const info = need(ctx.token.info, ctx.step.id, 'no token was selected', 'Run select-token first.');
    const secret = need(ctx.secrets.secret, ctx.step.id, 'the ceremony secret is gone', 'Abort and start the ceremony again.');
    requireRecoverableSecret(ctx);
    if (ctx.token.session) {
      await layer.closeSession(ctx.token.session).catch(() => undefined);
      ctx.token.session = undefined;
    }
    ctx.secrets.pins = derivePins(secret, ctx.ceremonyId, { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength });
    const label = labelOf(ctx);
    const current = await currentSoPin(ctx, input);
    const before = await layer.listSlots(slot.moduleId);
    // Another token put in the chosen slot since step 'token' is not erased (an absent one fails below, in the driver's words).
    const still = before.find((s) => s.slotId === slot.slotId)?.token;
    if (still && (still.serial.trim() !== info.serial.trim() || still.initialized !== info.initialized)) {
      throw new TokenError(ErrorCodes.TOKEN_NOT_FOUND, `slot ${slot.slotId} of module ${slot.moduleId} now holds another token (serial ${still.serial.trim() || 'none'}) than the one chosen at step 'token' (serial ${info.serial.trim() || 'none'})`, 'Put the chosen token back; neither was changed. Then run this step again.');
    }
    // C_InitToken takes the CURRENT SO PIN (any PIN for a blank token); the new SO PIN is set with C_SetPIN.
    try {
      await layer.initToken(slot, current?.pin ?? ctx.secrets.pins.soPin, label);
    } catch (error) {
      const re = ctx.state.reinitialize;
      if (current && re?.reason === 'interrupted-attempt' && (error as { code?: string }).code === 'CKR_PIN_INCORRECT') {
        throw new AppError(
          'token-so-pin-incorrect',
          `step '${ctx.step.id}': the token refused the SO PIN rebuilt from the presented shares (${String(current.how.interruptedCeremonyId)}); it was not erased`,
          re.attempts.length > 1
            ? `The attempt that changed its SO PIN last was another one: ${re.attempts.filter((a) => a.ceremonyId !== current.how.interruptedCeremonyId).map(wayOut).join(' Or: ')}`
            : "Present the share files of the attempt that initialized this token; if none opens it, reset it with its vendor's tool (SoftHSM: softhsm2-util --delete-token --token LABEL).",
        );
      }
      throw error;
    }
    const found = findInitialized(before, await layer.listSlots(slot.moduleId), slot, label);
    ctx.token.slot = { moduleId: slot.moduleId, slotId: found.slotId };
    ctx.token.info = found.token as TokenInfo;
    const data: JsonObject = { moduleId: slot.moduleId, previousSlotId: slot.slotId, slotId: found.slotId, token: tokenRecord(found.token as TokenInfo) };
    if (current) {
      // The token kept the old SO PIN: set the new one now.
      const { session } = await layer.openSession(ctx.token.slot, { readWrite: true });
      try {
        await layer.login(session, 'so', current.pin);
        await layer.setPin(session, current.pin, ctx.secrets.pins.soPin);
        await layer.logout(session);
      } finally {
        await layer.closeSession(session);
      }
      data.reinitialized = current.how;
    }
    return { done: true, data };
  },
};

export const setPins: ActionImpl<Record<string, never>> = {
  name: 'set-pins',
  input: noInput,
  async perform(ctx) {
    const { layer } = ctx.deps;
    const slot = need(ctx.token.slot, ctx.step.id, 'no token was initialized', 'Run init-token first.');
    const pins = need(ctx.secrets.pins, ctx.step.id, 'the PINs are gone', 'Abort and start the ceremony again.');
    if (ctx.token.session) await layer.closeSession(ctx.token.session).catch(() => undefined);
    ctx.token.session = undefined;
    ctx.token.loggedIn = undefined;
    const { session } = await layer.openSession(slot, { readWrite: true });
    ctx.token.session = session;
    await layer.login(session, 'so', pins.soPin);
    ctx.token.loggedIn = 'so';
    await layer.initUserPin(session, pins.userPin);
    await layer.logout(session);
    ctx.token.loggedIn = undefined;
    await layer.login(session, 'user', pins.userPin);
    ctx.token.loggedIn = 'user';
    // Nothing needs S or the PINs any more: the shares rebuild S when the token must be opened again.
    wipe(ctx.secrets.secret);
    ctx.secrets.secret = undefined;
    ctx.secrets.pins = undefined;
    return { done: true, data: { soPin: 'set at initialization', userPin: 'set', loggedIn: 'user', pinLength: pins.userPin.length } };
  },
};

export const generateAuditKey: ActionImpl<Record<string, never>> = {
  name: 'generate-audit-key',
  input: noInput,
  async perform(ctx) {
    // init-token logs in at set-pins, enrol-token at change-pins.
    const loginStep = ctx.loaded.script.steps.some((s) => s.action === 'change-pins') ? 'change-pins' : 'set-pins';
    const session = need(ctx.token.session, ctx.step.id, 'no logged-in session', `Run ${loginStep} first.`);
    // NSS softoken (enrol-token only: init-token cannot run there) waives CKA_LOCAL, and the waiver is recorded.
    const waivers = auditKeyWaivers(ctx.token);
    const signer = await TokenAuditSigner.generate(ctx.deps.layer, session, waivers);
    ctx.token.signer = signer;
    const spki = signer.spkiDer();
    const data: JsonObject = { algorithm: 'ECDSA-P384-SHA384', spki: Buffer.from(spki).toString('base64'), spkiSha256: sha256Hex(spki) };
    if (waivers.CKA_LOCAL) data.waivers = { CKA_LOCAL: waivers.CKA_LOCAL };
    return { done: true, data };
  },
};

export const PRE_GENESIS_KIND = 'pre-genesis';

export const writeGenesis: ActionImpl<Record<string, never>> = {
  name: 'write-genesis',
  input: noInput,
  async perform(ctx) {
    const signer = need(ctx.token.signer, ctx.step.id, 'there is no audit key', 'Run generate-audit-key first.');
    const info = need(ctx.token.info, ctx.step.id, 'no token was initialized', 'Run init-token first.');
    if (ctx.chain()) throw new AppError('ceremony-state', `step '${ctx.step.id}': genesis was already written`, 'Go on with the next step.');
    const { store } = await TranscriptStore.open(chainDirOf(ctx.deps.dataDir, ctx.ceremonyId), ctx.deps.clock ? { clock: ctx.deps.clock } : {});
    try {
      if (store.size > 0) throw new AppError('ceremony-chain-exists', `the chain ${store.dir} already holds ${store.size} entries`, 'A new token lifetime needs a new chain; start the ceremony again.');
      const preGenesis = await preChainLogEntry(ctx, PRE_GENESIS_KIND);
      const genesis = await store.appendGenesis(ctx.ceremonyId, ctx.administrator, tokenRecord(info), signer.spkiDer(), ctx.step.id);
      await store.append(preGenesis);
      ctx.startChain(store);
      return { done: true, data: { genesis: { seq: genesis.seq, hash: genesis.hash } } };
    } catch (error) {
      if (!ctx.chain()) await store.close();
      throw error;
    }
  },
};

/**
 * The enrolment entry: the custodians and the check of S, the security domain S belongs to, and for a token
 * that joined an existing domain, the origin its shares are bound to and the id its PINs are derived with.
 */
export function enrolmentRecord(ctx: Pick<ActionContext, 'state'>, enrolment: Enrolment, check: string): JsonObject {
  const record: JsonObject = { enrolment: enrolment as unknown as JsonObject, secretCheck: check };
  const domain = ctx.state.domain;
  if (domain) record.domainId = domain.domainId;
  if (domain?.joined) {
    record.pinsCeremonyId = domain.joined.pinsCeremonyId;
    record.joinedDomain = { originCeremonyId: domain.joined.originCeremonyId, originChain: domain.joined.originChain, presentedBy: domain.joined.presentedBy };
  }
  return record;
}

export const enrollCustodians: ActionImpl<Record<string, never>> = {
  name: 'enroll-custodians',
  input: noInput,
  async perform(ctx) {
    // prove-subsets made and recorded the enrolment before the token was touched (init-token and enrol-token
    // alike); the chain records it again, where later ceremonies and the verifier read it.
    const enrolment = need(ctx.state.enrolment, ctx.step.id, 'no enrolment was made', 'Run prove-subsets first.');
    const check = need(ctx.state.secretCheck, ctx.step.id, 'no secret was generated', 'Run generate-secret first.');
    await ctx.record(ENROLMENT_KIND, enrolmentRecord(ctx, enrolment, check));
    return { done: true };
  },
};

export const distributeSharesInput = z.union(
  [
    z.strictObject({ custodian: z.string({ error: 'must be a custodian name' }), passphrase: z.string({ error: 'must be a string' }), destinationDir: absoluteDir }),
    z.strictObject({ custodian: z.string({ error: 'must be a custodian name' }), insecurePlain: z.literal(true, { error: 'must be true' }), destinationDir: absoluteDir }),
  ],
  { error: 'give custodian, destinationDir and either passphrase or insecurePlain: true' },
);
type DistributeInput = z.infer<typeof distributeSharesInput>;

/** A share file is created exclusively, fsynced with its folder and read back (writeNewFileVerified). */
async function writeShareFileExclusive(path: string, bytes: Uint8Array, dir: string): Promise<string> {
  let sha256: string;
  try {
    sha256 = await writeNewFileVerified(path, bytes, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new AppError('share-file-exists', `${path} already exists; a share file is never overwritten`, 'Use an empty folder on the custodian\'s own USB stick, or remove the old file if it is from a voided attempt.');
    if (code) throw new AppError('share-file-write', `cannot write ${path} (${code})`, 'Check that the USB stick is mounted, writable and not full.');
    throw new AppError('share-file-write', `the share file ${path} did not read back as written (${(error as Error).message})`, 'Use another USB stick; this one does not keep what is written.');
  }
  await fsyncDirectory(dir);
  return sha256;
}

export const distributeShares: ActionImpl<DistributeInput> = {
  name: 'distribute-shares',
  input: distributeSharesInput,
  describe: (input) => ({ custodian: input.custodian, destinationDir: input.destinationDir, encrypted: !('insecurePlain' in input) }),
  async perform(ctx, input) {
    const shares = need(ctx.secrets.shares, ctx.step.id, 'the shares are gone', 'Abort and start the ceremony again.');
    const mine = shares.find((s) => s.custodian === input.custodian);
    if (!mine) throw new AppError('share-custodian', `input.custodian: '${input.custodian}' is not a custodian of this ceremony (custodians: ${custodiansOf(ctx).join(', ')})`, 'Choose one of the custodians.');
    if (ctx.state.issued.has(mine.custodian)) throw new AppError('share-already-issued', `input.custodian: ${mine.custodian} already has their share; a share is handed out once`, `Go on with ${pending(ctx).join(', ') || 'the next step'}.`);
    if ('passphrase' in input) {
      const problem = passphraseProblem(input.passphrase);
      if (problem) throw new AppError('share-passphrase', `input.${problem.startsWith('passphrase') ? problem : `passphrase: ${problem}`}`, `${mine.custodian} chooses a longer passphrase.`);
    }
    await checkShareFolder(input.destinationDir, [mine.custodian], 'input.destinationDir');
    const options = 'passphrase' in input ? (ctx.deps.scrypt ? { passphrase: input.passphrase, scrypt: ctx.deps.scrypt } : { passphrase: input.passphrase }) : { insecurePlain: true as const };
    const file = await createShareFile({ ceremonyId: ctx.ceremonyId, custodian: mine.custodian, index: mine.index, threshold: thresholdOf(ctx), share: mine.share }, options);
    const bytes = serializeShareFile(file);
    const path = join(input.destinationDir, shareFileName(mine.custodian));
    const fileSha256 = await writeShareFileExclusive(path, bytes, input.destinationDir);
    await readBackShare(path, 'passphrase' in input ? input.passphrase : undefined, { ceremonyId: ctx.ceremonyId, custodian: mine.custodian, share: mine.share });
    ctx.state.issued.set(mine.custodian, { index: mine.index, fileSha256, path });
    ctx.state.outputs.push({ kind: 'share-file', path, sha256: fileSha256 });
    await ctx.record('share-issued', { custodian: mine.custodian, index: mine.index, fileSha256, encrypted: !('insecurePlain' in input) }, mine.custodian);
    const shareCode = encodeShareCode({ ceremonyId: ctx.ceremonyId, index: mine.index, threshold: thresholdOf(ctx), share: mine.share });
    await ctx.deps.onShareIssued?.(mine.custodian);
    const left = pending(ctx);
    return { done: left.length === 0, reveal: { custodian: mine.custodian, shareCode }, ...(left.length === 0 ? { data: { issued: custodiansOf(ctx) } } : {}) };
  },
};

export const proveSubsetsAction: ActionImpl<Record<string, never>> = {
  name: 'prove-subsets',
  input: noInput,
  async perform(ctx) {
    const shares = need(ctx.secrets.shares, ctx.step.id, 'the shares are gone', 'Abort and start the ceremony again.');
    const check = need(ctx.state.secretCheck, ctx.step.id, 'no secret was generated', 'Run generate-secret first.');
    const proof = await proveSubsets(shares, thresholdOf(ctx), ctx.ceremonyId, check);
    if (!proof.allOk) {
      const bad = proof.subsets.filter((s) => !s.ok).map((s) => s.custodians.join('+'));
      throw new AppError('prove-failed', `these subsets did not rebuild the secret: ${bad.join(', ')}`, 'Abort the ceremony; the shares must not be used. The token is untouched.');
    }
    // Recorded now, before the token is touched: from here on M of these shares rebuild S, and a later
    // attempt finds this enrolment to re-initialize the token whatever happens to this one.
    const enrolment = enrolCustodians(ctx.ceremonyId, thresholdOf(ctx), shares);
    await ctx.record(ENROLMENT_KIND, enrolmentRecord(ctx, enrolment, check));
    ctx.state.enrolment = enrolment;
    ctx.state.sharesProved = true;
    wipe(...shares.map((s) => s.share));
    ctx.secrets.shares = undefined;
    return { done: true, data: { subsets: proof.subsets.map((s) => ({ custodians: s.custodians, ok: s.ok })), allOk: true } };
  },
};
