// Quorum login: what every ceremony after init-token does to unlock the token. M shares, each decoded
// against the enrolment's binding and identified by its enrolled approval key BEFORE anything is combined
// (the Shamir library silently returns a wrong secret for too few shares); then S is rebuilt, compared with
// the recorded secret check, the user PIN derived with the enrolment id, C_Login, and everything wiped.
import type { TokenLayer } from '../../../hsm/token.js';
import type { SessionHandle } from '../../../hsm/types.js';
import { AppError } from '../../errors.js';
import type { Entry } from '../../transcript/entry.js';
import type { TranscriptStore } from '../../transcript/store.js';
import { combineShares, derivePins, identifyShare, secretMatchesCheck, wipe, type Enrolment } from '../quorum/index.js';
import { checkEnrolment } from '../quorum/quorum.js';
import { openPresentedShare, type PresentShareInput } from './presented-share.js';
import { enrolmentInForce } from './enrolment-in-force.js';

/** The enrolment recorded by init-token, with the public check of S. */
export interface RecordedEnrolment {
  enrolment: Enrolment;
  secretCheck: string;
  /** The security domain (quorum/domain.ts domainId): the same for every token whose PINs come from this secret. */
  domainId?: string;
  /**
   * A token that joined an existing domain derives its PINs with its own ceremony id (the one that set them),
   * while its shares, approval keys and secret check stay bound to the domain's origin (enrolment.ceremonyId).
   * Absent: the PINs were derived with enrolment.ceremonyId.
   */
  pinsCeremonyId?: string;
}

/** The ceremony id the token's PINs were derived with (see RecordedEnrolment.pinsCeremonyId). */
export const pinsCeremonyIdOf = (r: Pick<RecordedEnrolment, 'enrolment' | 'pinsCeremonyId'>): string => r.pinsCeremonyId ?? r.enrolment.ceremonyId;

export const ENROLMENT_KIND = 'enrolment';

/** The enrolment entry of a chain (the last one, if a chain somehow holds several). */
export function enrolmentFromEntries(entries: readonly Pick<Entry, 'kind' | 'data'>[]): RecordedEnrolment | undefined {
  for (let i = entries.length - 1; i >= 0; i -= 1) {
    const e = entries[i] as Pick<Entry, 'kind' | 'data'>;
    if (e.kind !== ENROLMENT_KIND) continue;
    const d = e.data as unknown as RecordedEnrolment;
    if (!d || typeof d !== 'object' || typeof d.secretCheck !== 'string' || !d.enrolment) continue;
    return {
      enrolment: d.enrolment,
      secretCheck: d.secretCheck,
      ...(typeof d.domainId === 'string' ? { domainId: d.domainId } : {}),
      ...(typeof d.pinsCeremonyId === 'string' ? { pinsCeremonyId: d.pinsCeremonyId } : {}),
    };
  }
  return undefined;
}

/**
 * The enrolment in force on a token's chain: the first ceremony's (init-token, enrol-token), or that of the
 * last rotate-custodians whose PIN change is recorded (enrolment-in-force.ts).
 */
export function enrolmentOfChain(store: Pick<TranscriptStore, 'ceremonies' | 'entries'>): RecordedEnrolment | undefined {
  const last = store.ceremonies().reduce((m, c) => Math.max(m, c.lastSeq), -1);
  if (last < 0) return undefined;
  const found = enrolmentInForce(store.entries(0, last));
  // The whole record (its domain, and the id a joined token's PINs are derived with), not only the custodians.
  return found ? enrolmentFromEntries([{ kind: ENROLMENT_KIND, data: found.data as Entry['data'] }]) : undefined;
}

/**
 * Rebuild S from already decoded shares and log in as the user. Refuses, before combining, fewer than M
 * distinct enrolled custodians. Wipes the shares it was given and everything it derives.
 */
/**
 * Rebuild S from decoded shares: each identified by its enrolled approval key, at least M distinct
 * custodians BEFORE combining, the result compared with the recorded check. Wipes the shares it was given;
 * the caller wipes the returned S.
 */
export async function rebuildSecret(recorded: RecordedEnrolment, shares: Uint8Array[], what = 'quorum login'): Promise<{ secret: Uint8Array; custodians: string[] }> {
  const { enrolment, secretCheck } = recorded;
  try {
    checkEnrolment(enrolment);
    const byCustodian = new Map<string, Uint8Array>();
    for (const share of shares) {
      const who = identifyShare(enrolment, share);
      if (!byCustodian.has(who.name)) byCustodian.set(who.name, share);
    }
    const custodians = [...byCustodian.keys()];
    if (custodians.length < enrolment.threshold) {
      const r = enrolment.threshold - custodians.length;
      throw new AppError(
        'quorum-not-reached',
        `${what}: ${custodians.length} distinct custodian${custodians.length === 1 ? '' : 's'} (${custodians.join(', ') || 'none'}) presented a share; the threshold is ${enrolment.threshold}`,
        `${r} more custodian${r === 1 ? '' : 's'} must present their share; nothing was combined.`,
      );
    }
    const secret = await combineShares([...byCustodian.values()].slice(0, enrolment.threshold), enrolment.threshold);
    if (!secretMatchesCheck(secret, enrolment.ceremonyId, secretCheck)) {
      wipe(secret);
      throw new AppError('quorum-secret-mismatch', `${what}: the shares rebuilt a secret that does not match the recorded check`, 'One of the shares is damaged; use the printed share sheet of each custodian instead.');
    }
    return { secret, custodians: custodians.slice(0, enrolment.threshold) };
  } finally {
    wipe(...shares);
  }
}

export async function loginWithShares(
  layer: TokenLayer,
  session: SessionHandle,
  recorded: RecordedEnrolment,
  shares: Uint8Array[],
  limits: { minPinLength?: number; maxPinLength?: number } = {},
): Promise<{ custodians: string[] }> {
  const { secret, custodians } = await rebuildSecret(recorded, shares);
  try {
    const pins = derivePins(secret, pinsCeremonyIdOf(recorded), limits);
    await layer.login(session, 'user', pins.userPin);
    return { custodians };
  } finally {
    wipe(secret);
  }
}

/** Decode presented shares against an enrolment's binding; on any failure the ones decoded are wiped. */
export async function openPresentedShares(presented: readonly PresentShareInput[], enrolmentCeremonyId: string): Promise<Uint8Array[]> {
  const shares: Uint8Array[] = [];
  try {
    for (const p of presented) shares.push((await openPresentedShare(p, enrolmentCeremonyId)).share);
  } catch (error) {
    wipe(...shares);
    throw error;
  }
  return shares;
}

/** Quorum login from presented share files or codes (the CLI's --share FILE[:PASSPHRASE_FILE]). */
export async function quorumLogin(
  layer: TokenLayer,
  session: SessionHandle,
  recorded: RecordedEnrolment,
  presented: readonly PresentShareInput[],
  limits: { minPinLength?: number; maxPinLength?: number } = {},
): Promise<{ custodians: string[] }> {
  const shares = await openPresentedShares(presented, recorded.enrolment.ceremonyId);
  return loginWithShares(layer, session, recorded, shares, limits);
}
