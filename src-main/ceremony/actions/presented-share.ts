// A custodian presents their share at a quorum step: a share file (with its passphrase, unless it is a plain
// rehearsal file) or the typed share code. Either way it is decoded against the enrolment's ceremony binding
// (a share of another ceremony is refused here), and the caller then identifies it by its approval key
// before it is ever combined.
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { FILE_CAPS, readBounded, type FileKind } from '../../files/read-bounded.js';
import { decodeShareCode, openShareFile } from '../quorum/index.js';

const text = (what: string, max: number) => z.string({ error: `must be ${what}` }).min(1, { error: `must be ${what}` }).max(max, { error: `must be ${what}` });

export const presentShareInput = z.union(
  [
    z.strictObject({
      shareFile: text('the absolute path of the custodian\'s .share file', 4096).refine(isAbsolute, { error: "must be the absolute path of the custodian's .share file" }),
      passphrase: z.string({ error: 'must be a string' }).max(1024, { error: 'must be at most 1024 characters' }).optional(),
    }),
    z.strictObject({ shareCode: text('the share code from the share sheet', 400) }),
  ],
  { error: 'give either shareFile (and passphrase) or shareCode' },
);
export type PresentShareInput = z.infer<typeof presentShareInput>;

/** A share file is about 600 bytes of JSON: anything else on the stick is refused before it is read. */
export const SHARE_FILE_KIND: FileKind = { what: 'share file', cap: FILE_CAPS.shareFile, remedy: "Choose the .share file on the custodian's USB stick.", code: 'share-file-unreadable', field: 'shareFile' };

/** Decode a presented share. The caller owns (and wipes) `share`. */
export async function openPresentedShare(input: PresentShareInput, enrolmentCeremonyId: string): Promise<{ share: Uint8Array; custodian?: string; via: 'file' | 'code' }> {
  if ('shareCode' in input) {
    const decoded = decodeShareCode(input.shareCode, { ceremonyId: enrolmentCeremonyId });
    return { share: decoded.share, via: 'code' };
  }
  const bytes = await readBounded(input.shareFile, SHARE_FILE_KIND);
  const opened = await openShareFile(bytes, input.passphrase, { ceremonyId: enrolmentCeremonyId });
  return { share: opened.share, custodian: opened.custodian, via: 'file' };
}

export function describePresented(input: PresentShareInput): { via: string; file?: string } {
  return 'shareCode' in input ? { via: 'share code' } : { via: 'share file', file: input.shareFile };
}
