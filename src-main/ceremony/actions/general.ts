// Actions any ceremony may use: record-participants, check-airgap, select-token, witness-sign-off,
// write-chain-head, export-bundle, announce, logout, quorum-login.
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { exportFromStore, type ExportRange } from '../../transcript/export.js';
import type { TranscriptStore } from '../../transcript/store.js';
import { writeChainHead } from '../../transcript/chain-head.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { ActionContext, ActionImpl, ActionOutcome } from '../engine/types.js';
import { enrolmentOfChain, loginWithShares } from './quorum-login.js';
import { checkChainContinuity, continuesChain, openAuditKey } from './existing-chain.js';
import { explainStoppedRotation, loginKeepingPins, rotatesCustodians } from './rotate-login.js';

export const personName = z
  .string({ error: 'must be a name' })
  .min(1, { error: 'must be a name' })
  .max(128, { error: 'must be at most 128 characters' })
  .regex(/^[^\u0000-\u001f\u007f]+$/u, { error: 'must not contain control characters' });

export const absoluteDir = z
  .string({ error: 'must be the absolute path of a folder' })
  .min(1, { error: 'must be the absolute path of a folder' })
  .max(4096, { error: 'must be the absolute path of a folder' })
  .refine(isAbsolute, { error: 'must be the absolute path of a folder' });

export const noInput = z.strictObject({});

function requireChain(ctx: ActionContext) {
  const store = ctx.chain();
  if (!store) throw new AppError('ceremony-no-chain', `step '${ctx.step.id}': the transcript chain does not exist yet`, 'This step must come after write-genesis in the script.');
  return store;
}

function requireSession(ctx: ActionContext): string {
  if (!ctx.token.session || !ctx.token.slot) throw new AppError('ceremony-no-session', `step '${ctx.step.id}': no token session is open`, 'The script must select the token and log in before this step.');
  return ctx.token.session;
}

export const recordParticipantsInput = z.strictObject({
  administrator: personName,
  witnesses: z.array(personName, { error: 'must be a list of names' }).max(64, { error: 'must list at most 64 witnesses' }),
});

export const recordParticipants: ActionImpl<z.infer<typeof recordParticipantsInput>> = {
  name: 'record-participants',
  input: recordParticipantsInput,
  async perform(ctx, input) {
    const min = ctx.loaded.script.roles.witnesses.min;
    if (input.witnesses.length < min) throw new AppError('ceremony-witnesses', `input.witnesses: ${input.witnesses.length} named; this ceremony needs at least ${min}`, 'Name every witness in the room.');
    if (new Set(input.witnesses).size !== input.witnesses.length) throw new AppError('ceremony-witnesses', 'input.witnesses: a witness is named twice', 'Name each witness once.');
    ctx.state.participants = { administrator: input.administrator, witnesses: [...input.witnesses] };
    const custodians = Array.isArray(ctx.parameters.custodians) ? ctx.parameters.custodians : [];
    return { done: true, data: { administrator: input.administrator, custodians, witnesses: input.witnesses } };
  },
};

export const checkAirgap: ActionImpl<Record<string, never>> = {
  name: 'check-airgap',
  input: noInput,
  async perform(ctx): Promise<ActionOutcome> {
    const status = ctx.deps.airGap();
    const interfaces = status.interfaces.map((i) => ({ name: i.name, addresses: i.addresses }));
    if (status.offline) return { done: true, data: { offline: true, interfaces, checkedAt: status.checkedAt } };
    const seen = interfaces.map((i) => `${i.name} (${i.addresses.join(', ')})`).join('; ') || status.error || 'unknown';
    if (ctx.rehearsal) {
      return { done: true, data: { offline: false, interfaces, checkedAt: status.checkedAt, rehearsal: true, note: `REHEARSAL: the laptop is online (${seen}); the air gap was not enforced` } };
    }
    throw new AppError('airgap-online', `the laptop is not offline: ${seen}`, 'Unplug every network cable and switch off Wi-Fi and Bluetooth, then run this step again.');
  },
};

const witnessStatement = z.strictObject({ name: personName, statement: z.string({ error: 'must be text' }).max(2000, { error: 'must be at most 2000 characters' }).optional() });
export const witnessSignOffInput = z.strictObject({ witnesses: z.array(witnessStatement, { error: 'must be a list of witnesses' }).min(1, { error: 'must name at least one witness' }) });

export const witnessSignOff: ActionImpl<z.infer<typeof witnessSignOffInput>> = {
  name: 'witness-sign-off',
  input: witnessSignOffInput,
  async perform(ctx, input) {
    const present = ctx.state.participants?.witnesses ?? [];
    const names = input.witnesses.map((w) => w.name);
    const stranger = names.find((n) => !present.includes(n));
    if (stranger !== undefined) throw new AppError('ceremony-witnesses', `input.witnesses: '${stranger}' was not recorded as a witness present (present: ${present.join(', ') || 'none'})`, 'Only witnesses named at the start can sign off.');
    if (new Set(names).size !== names.length) throw new AppError('ceremony-witnesses', 'input.witnesses: a witness is named twice', 'Each witness signs off once.');
    const min = ctx.loaded.script.roles.witnesses.min;
    if (names.length < min) throw new AppError('ceremony-witnesses', `input.witnesses: ${names.length} signed off; this ceremony needs at least ${min}`, 'Every witness states what they saw.');
    for (const w of input.witnesses) {
      await ctx.record('witness-sign-off', { witness: w.name, statement: w.statement ?? 'I saw every step of this ceremony as recorded.' }, w.name);
    }
    return { done: true, data: { witnesses: names } };
  },
};

export const writeChainHeadAction: ActionImpl<Record<string, never>> = {
  name: 'write-chain-head',
  input: noInput,
  async perform(ctx) {
    const store = requireChain(ctx);
    const session = requireSession(ctx);
    const head = store.head();
    if (!head) throw new AppError('ceremony-no-chain', 'the transcript is empty', 'Write genesis first.');
    await writeChainHead(ctx.deps.layer, session, { seq: head.seq, hash: head.hash });
    return { done: true, data: { written: { seq: head.seq, hash: head.hash } } };
  },
};

/**
 * What export-bundle exports: the ceremony's entries; for a ceremony continuing a chain, from the first
 * entry no earlier bundle of this laptop holds (the previous ceremony's entries written after its export),
 * so the bundles of one token follow each other without gaps.
 */
function exportRange(ctx: ActionContext, store: TranscriptStore): { range: ExportRange; name?: string } {
  if (!continuesChain(ctx)) return { range: { ceremonyId: ctx.ceremonyId } };
  const mine = store.ceremonies().find((c) => c.ceremonyId === ctx.ceremonyId);
  const head = store.head();
  if (!mine || !head) return { range: { ceremonyId: ctx.ceremonyId } };
  const exported = store.exports().reduce((m, e) => Math.max(m, e.lastSeq), -1);
  const first = exported >= 0 && exported + 1 < mine.firstSeq ? exported + 1 : mine.firstSeq;
  const safe = ctx.ceremonyId.replace(/[^A-Za-z0-9._-]/g, '_');
  const pad = (n: number) => String(n).padStart(6, '0');
  return { range: { first, last: head.seq }, name: `keyceremony-transcript-${safe}-${pad(first)}-${pad(head.seq)}` };
}

export const exportBundleInput = z.strictObject({ destinationDir: absoluteDir });

export const exportBundle: ActionImpl<z.infer<typeof exportBundleInput>> = {
  name: 'export-bundle',
  input: exportBundleInput,
  describe: (input) => ({ destinationDir: input.destinationDir }),
  async perform(ctx, input) {
    const store = requireChain(ctx);
    const signer = ctx.token.signer;
    if (!signer) throw new AppError('ceremony-no-audit-key', 'the audit key is not open', 'The script must generate or open the audit key before exporting.');
    const result = await exportFromStore(store, signer, { parentDir: input.destinationDir, appVersion: ctx.deps.appVersion, ...exportRange(ctx, store) });
    ctx.state.outputs.push({ kind: 'bundle', path: result.path, sha256: result.manifestSha256 });
    return {
      done: true,
      data: { path: result.path, manifestSha256: result.manifestSha256, first: result.manifest.entries.first, last: result.manifest.entries.last, head: result.manifest.head },
    };
  },
};

export const announce: ActionImpl<Record<string, never>> = {
  name: 'announce',
  input: noInput,
  async perform() {
    return { done: true, data: { read: true } };
  },
};

export const logoutAction: ActionImpl<Record<string, never>> = {
  name: 'logout',
  input: noInput,
  async perform(ctx) {
    const session = requireSession(ctx);
    if (ctx.token.loggedIn) await ctx.deps.layer.logout(session);
    ctx.token.loggedIn = undefined;
    await ctx.deps.layer.closeSession(session);
    ctx.token.session = undefined;
    return { done: true, data: { loggedOut: true } };
  },
};

/** The quorum step's action: the engine collected M approvals and their shares; rebuild S and log in. */
export const quorumLoginAction: ActionImpl<Record<string, never>> = {
  name: 'quorum-login',
  input: noInput,
  needsShares: true,
  async perform(ctx) {
    const store = requireChain(ctx);
    const session = requireSession(ctx);
    const recorded = enrolmentOfChain(store);
    if (!recorded) throw new AppError('ceremony-no-enrolment', 'the transcript holds no enrolment', 'This token was not initialized by init-token.');
    const shares = ctx.state.quorum?.shares ?? [];
    const info = ctx.token.info;
    const limits: { minPinLength?: number; maxPinLength?: number } = info ? { minPinLength: info.minPinLength, maxPinLength: info.maxPinLength } : {};
    // rotate-custodians keeps the current PINs its later C_SetPIN needs (rotate-custodians.ts).
    const { custodians } = await (rotatesCustodians(ctx.loaded.script) ? loginKeepingPins(ctx, session, recorded, [...shares]) : loginWithShares(ctx.deps.layer, session, recorded, [...shares], limits)).catch((error: unknown) => {
      throw explainStoppedRotation(error, store);
    });
    if (ctx.state.quorum) ctx.state.quorum.shares = [];
    ctx.token.loggedIn = 'user';
    if (!continuesChain(ctx)) return { done: true, data: { loggedIn: 'user', custodians } as JsonObject };
    // A ceremony on an enrolled token: the token's chain head must agree with this transcript before anything else.
    try {
      const chainHead = await checkChainContinuity(ctx, session);
      const auditKey = await openAuditKey(ctx, session);
      return { done: true, data: { loggedIn: 'user', custodians, chainHead, auditKey } as JsonObject };
    } catch (error) {
      await ctx.deps.layer.logout(session).catch(() => undefined);
      ctx.token.loggedIn = undefined;
      throw error;
    }
  },
};
