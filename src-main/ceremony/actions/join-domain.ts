// A token joins an existing security domain (quorum/domain.ts): instead of generating a secret and handing
// out new shares, M custodians of the domain present the shares they already hold. The secret is rebuilt
// against the domain's enrolment (found in a chain on this laptop: the token that started the domain, or any
// token that joined it), compared with its recorded check, and kept for the steps that set the new token's
// PINs. The shares already exist and were proved when the domain began, and the rebuilt secret is that
// domain's (its check matches), so never-brick.ts's guard holds before the token changes: any M of the
// domain's share files rebuild the new token's PINs. Those PINs are derived with this ceremony's id, so two
// tokens of one domain never share a PIN; shares, approval keys and the secret check stay bound to the origin.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { readBounded } from '../../files/read-bounded.js';
import type { JsonObject } from '../../transcript/json-value.js';
import { TranscriptStore } from '../../transcript/store.js';
import { domainId } from '../quorum/domain.js';
import { parseShareFile } from '../quorum/share-file.js';
import { wipe } from '../quorum/index.js';
import type { ActionImpl } from '../engine/types.js';
import { enrolmentRecord } from './init-token.js';
import { ENROLMENT_KIND, enrolmentOfChain, openPresentedShares, rebuildSecret, type RecordedEnrolment } from './quorum-login.js';
import { describePresented, presentShareInput, SHARE_FILE_KIND, type PresentShareInput } from './presented-share.js';

export const joinDomainInput = z.strictObject({
  shares: z.array(presentShareInput, { error: 'must be a list of shares' }).min(1, { error: 'must list the share of each custodian present' }).max(255),
});
type JoinDomainInput = z.infer<typeof joinDomainInput>;

/** A domain's enrolment as a chain on this laptop records it. */
export interface DomainEnrolment {
  recorded: RecordedEnrolment;
  /** The chain (chains/<name>) it was read from. */
  chain: string;
}

/** Every chain under dataDir/chains whose enrolment binds shares to `originCeremonyId` (the token that began the domain, and any that joined it). */
export async function findDomainEnrolments(dataDir: string, originCeremonyId?: string): Promise<DomainEnrolment[]> {
  const root = join(dataDir, 'chains');
  let names: string[];
  try {
    names = (await readdir(root)).sort();
  } catch {
    return [];
  }
  const out: DomainEnrolment[] = [];
  for (const name of names) {
    let store: TranscriptStore | undefined;
    try {
      store = (await TranscriptStore.open(join(root, name), { readOnly: true })).store;
      const recorded = store.head() ? enrolmentOfChain(store) : undefined;
      if (recorded && (originCeremonyId === undefined || recorded.enrolment.ceremonyId === originCeremonyId)) out.push({ recorded, chain: name });
    } catch {
      // Not a readable chain: it cannot name a domain.
    } finally {
      await store?.close().catch(() => undefined);
    }
  }
  return out;
}

/** The origin ceremony the presented shares are bound to: a share file names it; a share code is tried against every domain here. */
async function originOf(presented: readonly PresentShareInput[], dataDir: string): Promise<DomainEnrolment[]> {
  for (const p of presented) {
    if (!('shareFile' in p)) continue;
    let id: string;
    try {
      id = parseShareFile(await readBounded(p.shareFile, SHARE_FILE_KIND)).ceremonyId;
    } catch {
      continue; // openPresentedShares names the problem with this file.
    }
    const found = await findDomainEnrolments(dataDir, id);
    if (found.length === 0) {
      throw new AppError(
        'domain-unknown',
        `input.shares: ${p.shareFile} is a share of ceremony ${id}, and no transcript chain on this laptop (${join(dataDir, 'chains')}) records that domain's enrolment`,
        "Import the transcript bundle of a token of this security domain (its init-token or enrol-token bundle: keyceremony import, or Home's Import) into this laptop's data directory, then start again. The token is untouched.",
      );
    }
    return found;
  }
  return findDomainEnrolments(dataDir);
}

export const joinDomain: ActionImpl<JoinDomainInput> = {
  name: 'join-domain',
  input: joinDomainInput,
  describe: (input) => ({ shares: input.shares.map((s) => describePresented(s) as JsonObject) }),
  async perform(ctx, input) {
    if (ctx.state.domain?.joined) throw new AppError('ceremony-state', `step '${ctx.step.id}': the token already joined domain ${ctx.state.domain.domainId}`, 'Go on with the next step.');
    const candidates = await originOf(input.shares, ctx.deps.dataDir);
    let lastError: unknown = new AppError('domain-unknown', `input.shares: no transcript chain on this laptop (${join(ctx.deps.dataDir, 'chains')}) records an enrolment these shares belong to`, 'Import the transcript bundle of a token of this security domain into this laptop, then start again. The token is untouched.');
    for (const candidate of candidates) {
      let shares: Uint8Array[];
      try {
        shares = await openPresentedShares(input.shares, candidate.recorded.enrolment.ceremonyId);
      } catch (error) {
        lastError = error;
        continue;
      }
      const { secret, custodians } = await rebuildSecret(candidate.recorded, shares, `joining the security domain of ${candidate.recorded.enrolment.ceremonyId}`);
      const id = domainId(secret);
      if (candidate.recorded.domainId !== undefined && candidate.recorded.domainId !== id) {
        wipe(secret);
        throw new AppError('domain-mismatch', `the shares rebuilt domain ${id}, but chain ${candidate.chain} records domain ${candidate.recorded.domainId}`, 'The local chain does not match its shares: compare it with its exported bundle. The token is untouched.');
      }
      wipe(ctx.secrets.secret);
      ctx.secrets.secret = secret;
      ctx.state.secretCheck = candidate.recorded.secretCheck;
      ctx.state.enrolment = candidate.recorded.enrolment;
      ctx.state.domain = { domainId: id, joined: { originCeremonyId: candidate.recorded.enrolment.ceremonyId, pinsCeremonyId: ctx.ceremonyId, presentedBy: custodians, originChain: candidate.chain } };
      // Recorded before the token is touched: from here on M of the domain's shares rebuild this token's PINs.
      await ctx.record(ENROLMENT_KIND, enrolmentRecord(ctx, candidate.recorded.enrolment, candidate.recorded.secretCheck));
      ctx.state.sharesProved = true;
      const e = candidate.recorded.enrolment;
      return {
        done: true,
        data: {
          domainId: id,
          originCeremonyId: e.ceremonyId,
          originChain: candidate.chain,
          custodians: e.custodians.map((c) => c.name),
          threshold: e.threshold,
          presentedBy: custodians,
          pinsDerivedWith: ctx.ceremonyId,
          note: "no share is handed out: the domain's custodians keep their share files, which open this token too",
        },
      };
    }
    throw lastError;
  },
};
