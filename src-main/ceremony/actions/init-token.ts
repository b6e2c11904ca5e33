// The init-token actions: choose the token, generate and split S, initialize the token, set its PINs,
// create the audit key, write genesis, enrol the custodians, hand out the shares, prove every subset.
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
  SHARE_FILE_EXTENSION,
} from '../quorum/index.js';
import type { ActionContext, ActionImpl } from '../engine/types.js';
import { absoluteDir, noInput } from './general.js';
import { ENROLMENT_KIND, openPresentedShares, rebuildSecret } from './quorum-login.js';
import { presentShareInput } from './presented-share.js';

export const chainDirOf = (dataDir: string, enrolmentId: string) => join(dataDir, 'chains', enrolmentId);

const tokenRecord = (t: TokenInfo) => ({ manufacturer: t.manufacturer.trim(), model: t.model.trim(), serial: t.serial.trim(), label: t.label.trim() });

function custodiansOf(ctx: ActionContext): string[] {
  return ctx.parameters.custodians as string[];
}
function thresholdOf(ctx: ActionContext): number {
  return ctx.parameters.threshold as number;
}
function labelOf(ctx: ActionContext): string {
  return ctx.parameters.tokenLabel as string;
}

function need<T>(value: T | undefined, step: string, what: string, remedy: string): T {
  if (value === undefined) throw new AppError('ceremony-state', `step '${step}': ${what}`, remedy);
  return value;
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

export const selectToken: ActionImpl<z.infer<typeof selectTokenInput>> = {
  name: 'select-token',
  input: selectTokenInput,
  describe: (input) => ({ ...input }),
  async perform(ctx, input) {
    const { layer } = ctx.deps;
    let ref: SlotRef;
    let info: TokenInfo;
    if ('uri' in input) {
      const opened = await layer.openSession({ uri: input.uri }, { readWrite: false });
      await layer.closeSession(opened.session);
      ref = { moduleId: opened.moduleId, slotId: opened.slotId };
      info = opened.token;
    } else {
      const slots = await layer.listSlots(input.moduleId);
      const slot = slots.find((s) => s.slotId === input.slotId);
      if (!slot) throw new TokenError(ErrorCodes.SLOT_NOT_FOUND, `module ${input.moduleId} has no slot ${input.slotId} (slots: ${slots.map((s) => s.slotId).join(', ') || 'none'})`, 'Choose the token again from the list.');
      if (!slot.tokenPresent || !slot.token) throw new TokenError(ErrorCodes.TOKEN_NOT_FOUND, `slot ${input.slotId} of module ${input.moduleId} holds no token`, 'Insert the token, then choose it again.');
      ref = { moduleId: input.moduleId, slotId: input.slotId };
      info = slot.token;
    }
    let reinitialize: JsonObject | undefined;
    if (info.initialized) {
      const t = tokenRecord(info);
      if (ctx.parameters.allowReinitialize === true) {
        reinitialize = { reason: 'allowReinitialize', note: 'the room agreed to erase this initialized token' };
      } else {
        const prior = (await ctx.deps.priorAttempts?.()) ?? [];
        const attempt = prior.find((a) => a.kind === 'init-token' && a.status === 'interrupted' && a.token?.serial === t.serial && a.token.label === t.label);
        if (!attempt) {
          throw new AppError(
            'token-not-blank',
            `token '${t.label}' (serial ${t.serial}) in slot ${ref.slotId} is already initialized; init-token needs a blank token`,
            'Choose a blank token, or start again with allowReinitialize set to true if the room agreed to erase this one.',
          );
        }
        reinitialize = { reason: 'interrupted-attempt', interruptedCeremonyId: attempt.ceremonyId, voidShares: attempt.sharesIssued };
        ctx.state.reinitialize = { reason: 'interrupted-attempt', attempt };
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
    return { done: true, data: { custodians: custodiansOf(ctx), threshold: thresholdOf(ctx), shares: custodiansOf(ctx).length } };
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
  const { attempt } = re;
  if (!attempt.enrolment) {
    throw new AppError(
      'token-reset-needed',
      `step '${ctx.step.id}': the interrupted attempt ${attempt.ceremonyId} initialized this token but enrolled nobody, so nothing can rebuild its SO PIN`,
      "Reset the token with its vendor's tool (SoftHSM: softhsm2-util --delete-token), then start init-token again on the blank token.",
    );
  }
  if (!input.previousShares) {
    throw new AppError(
      'token-so-pin-needed',
      `step '${ctx.step.id}': the token was initialized by the interrupted attempt ${attempt.ceremonyId}; erasing it needs ${attempt.enrolment.enrolment.threshold} of that attempt's shares (input.previousShares), which rebuild its SO PIN`,
      attempt.sharesIssued.length >= attempt.enrolment.enrolment.threshold
        ? `Custodians ${attempt.sharesIssued.join(', ')} present the share files of the interrupted attempt (they stay void).`
        : `Only ${attempt.sharesIssued.length} share${attempt.sharesIssued.length === 1 ? ' was' : 's were'} handed out: reset the token with its vendor's tool (SoftHSM: softhsm2-util --delete-token), then start again.`,
    );
  }
  const shares = await openPresentedShares(input.previousShares, attempt.enrolment.enrolment.ceremonyId);
  const { secret, custodians } = await rebuildSecret(attempt.enrolment, shares, `re-initialization of the token of ${attempt.ceremonyId}`);
  try {
    const info = ctx.token.info;
    const pins = derivePins(secret, attempt.enrolment.enrolment.ceremonyId, info ? { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength } : {});
    return { pin: pins.soPin, how: { reinitialize: 'interrupted-attempt', interruptedCeremonyId: attempt.ceremonyId, soPinRebuiltBy: custodians } };
  } finally {
    wipe(secret);
  }
}

export const initTokenAction: ActionImpl<InitTokenInput> = {
  name: 'init-token',
  input: initTokenInput,
  describe: (input) => ({ previousShares: input.previousShares?.length ?? 0, currentSoPin: input.currentSoPin === undefined ? 'not given' : 'given' }),
  async perform(ctx, input) {
    const { layer } = ctx.deps;
    const slot = need(ctx.token.slot, ctx.step.id, 'no token was selected', 'Run select-token first.');
    const info = need(ctx.token.info, ctx.step.id, 'no token was selected', 'Run select-token first.');
    const secret = need(ctx.secrets.secret, ctx.step.id, 'the ceremony secret is gone', 'Abort and start the ceremony again.');
    if (ctx.token.session) {
      await layer.closeSession(ctx.token.session).catch(() => undefined);
      ctx.token.session = undefined;
    }
    ctx.secrets.pins = derivePins(secret, ctx.ceremonyId, { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength });
    const label = labelOf(ctx);
    const current = await currentSoPin(ctx, input);
    const before = await layer.listSlots(slot.moduleId);
    // C_InitToken takes the CURRENT SO PIN (any PIN for a blank token); the new SO PIN is set with C_SetPIN.
    await layer.initToken(slot, current?.pin ?? ctx.secrets.pins.soPin, label);
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
    const session = need(ctx.token.session, ctx.step.id, 'no logged-in session', 'Run set-pins first.');
    const signer = await TokenAuditSigner.generate(ctx.deps.layer, session);
    ctx.token.signer = signer;
    const spki = signer.spkiDer();
    return { done: true, data: { algorithm: 'ECDSA-P384-SHA384', spki: Buffer.from(spki).toString('base64'), spkiSha256: sha256Hex(spki) } };
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
      const log = await ctx.preGenesisRecords();
      const genesis = await store.appendGenesis(ctx.ceremonyId, ctx.administrator, tokenRecord(info), signer.spkiDer(), ctx.step.id);
      const { script } = ctx.loaded;
      await store.append({
        ceremonyId: ctx.ceremonyId,
        step: ctx.step.id,
        kind: PRE_GENESIS_KIND,
        actor: ctx.administrator,
        data: {
          script: { name: ctx.scriptName, kind: script.kind, version: script.version, sha256: ctx.loaded.sha256 },
          log: { file: log.file, sha256: log.sha256, records: log.records.length },
          records: log.records,
        },
      });
      ctx.startChain(store);
      return { done: true, data: { genesis: { seq: genesis.seq, hash: genesis.hash } } };
    } catch (error) {
      if (!ctx.chain()) await store.close();
      throw error;
    }
  },
};

export const enrollCustodians: ActionImpl<Record<string, never>> = {
  name: 'enroll-custodians',
  input: noInput,
  async perform(ctx) {
    const shares = need(ctx.secrets.shares, ctx.step.id, 'the shares are gone', 'Abort and start the ceremony again.');
    const check = need(ctx.state.secretCheck, ctx.step.id, 'no secret was generated', 'Run generate-secret first.');
    const enrolment = enrolCustodians(ctx.ceremonyId, thresholdOf(ctx), shares);
    ctx.state.enrolment = enrolment;
    await ctx.record(ENROLMENT_KIND, { enrolment: enrolment as unknown as JsonObject, secretCheck: check });
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
    const options = 'passphrase' in input ? (ctx.deps.scrypt ? { passphrase: input.passphrase, scrypt: ctx.deps.scrypt } : { passphrase: input.passphrase }) : { insecurePlain: true as const };
    const file = await createShareFile({ ceremonyId: ctx.ceremonyId, custodian: mine.custodian, index: mine.index, threshold: thresholdOf(ctx), share: mine.share }, options);
    const bytes = serializeShareFile(file);
    const path = join(input.destinationDir, `${mine.custodian}${SHARE_FILE_EXTENSION}`);
    const fileSha256 = await writeShareFileExclusive(path, bytes, input.destinationDir);
    ctx.state.issued.set(mine.custodian, { index: mine.index, fileSha256, path });
    ctx.state.outputs.push({ kind: 'share-file', path, sha256: fileSha256 });
    await ctx.record('share-issued', { custodian: mine.custodian, index: mine.index, fileSha256, encrypted: !('insecurePlain' in input) }, mine.custodian);
    const shareCode = encodeShareCode({ ceremonyId: ctx.ceremonyId, index: mine.index, threshold: thresholdOf(ctx), share: mine.share });
    await ctx.deps.onShareIssued?.(mine.custodian);
    const left = pending(ctx);
    return { done: left.length === 0, reveal: { custodian: mine.custodian, shareCode }, ...(left.length === 0 ? { data: { issued: custodiansOf(ctx) } } : {}) };
  },
};

export function pending(ctx: Pick<ActionContext, 'parameters' | 'state'>): string[] {
  return (ctx.parameters.custodians as string[]).filter((c) => !ctx.state.issued.has(c));
}

export const proveSubsetsAction: ActionImpl<Record<string, never>> = {
  name: 'prove-subsets',
  input: noInput,
  async perform(ctx) {
    const shares = need(ctx.secrets.shares, ctx.step.id, 'the shares are gone', 'Abort and start the ceremony again.');
    const check = need(ctx.state.secretCheck, ctx.step.id, 'no secret was generated', 'Run generate-secret first.');
    const proof = await proveSubsets(shares, thresholdOf(ctx), ctx.ceremonyId, check);
    if (!proof.allOk) {
      const bad = proof.subsets.filter((s) => !s.ok).map((s) => s.custodians.join('+'));
      throw new AppError('prove-failed', `these subsets did not rebuild the secret: ${bad.join(', ')}`, 'Abort the ceremony; the shares must not be used.');
    }
    wipe(...shares.map((s) => s.share));
    ctx.secrets.shares = undefined;
    return { done: true, data: { subsets: proof.subsets.map((s) => ({ custodians: s.custodians, ok: s.ok })), allOk: true } };
  },
};
