// A custodian presents a share file of an enrolment that no longer opens the token: the custodians a
// rotate-custodians ceremony replaced, or those of a rotation that never came into force. The share file
// only knows its own ceremony; the token's chain knows what became of it, so the refusal says that in words
// instead of "another ceremony".
import { AppError } from '../../errors.js';
import type { Entry } from '../../transcript/entry.js';
import type { Enrolment } from '../quorum/quorum.js';
import { ShareOtherCeremonyError } from '../quorum/share-file.js';

type Seen = Pick<Entry, 'kind' | 'data' | 'ceremonyId' | 'seq'>;

/** The error as it is, or, for a share of an earlier or never-in-force enrolment of this chain, one that says so. */
export function explainReplacedShare(error: unknown, entries: readonly Seen[], inForce: Enrolment): unknown {
  if (!(error instanceof ShareOtherCeremonyError)) return error;
  const enrolmentOf = (e: Seen) => (e.data as { enrolment?: { ceremonyId?: unknown } } | null)?.enrolment?.ceremonyId;
  const theirs = entries.find((e) => e.kind === 'enrolment' && enrolmentOf(e) === error.shareCeremonyId);
  const current = [...entries].reverse().find((e) => e.kind === 'enrolment' && enrolmentOf(e) === inForce.ceremonyId);
  if (!theirs || !current || theirs.seq === current.seq) return error;
  const now = `${inForce.threshold} of ${inForce.custodians.map((c) => c.name).join(', ')}`;
  const what =
    theirs.seq < current.seq
      ? `whose custodians were replaced by ceremony ${inForce.ceremonyId}: the token refuses their shares and opens now only with ${now}`
      : `a rotation that never came into force (it stopped before the token's PINs changed): the token opens with the shares of ceremony ${inForce.ceremonyId}, ${now}`;
  return new AppError(
    'share-other-ceremony',
    `${error.custodian}'s share file is from ceremony ${error.shareCeremonyId}, ${what}`,
    `Present the share files of ceremony ${inForce.ceremonyId} (each file names its ceremony id). Nothing was recorded as approved.`,
  );
}
