// What every ceremony command that opens a token does with its --share FILE[:PASSPHRASE_FILE] flags, and how it
// names the step an engine error came from: one place, so the commands refuse and word alike.
import { SHARE_FILE_KIND } from '../ceremony/actions/presented-share.js';
import { PASSPHRASE_FILE, readFlagFile, readFlagSecret } from './flag-files.js';

export interface ShareFlag {
  file: string;
  passphraseFile?: string;
}

/** The presented shares as the quorum step takes them; a file that cannot be a share file is refused here, before the ceremony starts. */
export async function readShares(args: { shares: readonly ShareFlag[] }): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const s of args.shares) {
    const flag = `--share ${s.file}${s.passphraseFile ? `:${s.passphraseFile}` : ''}`;
    await readFlagFile(flag, s.file, SHARE_FILE_KIND);
    out.push(s.passphraseFile ? { shareFile: s.file, passphrase: await readFlagSecret(flag, s.passphraseFile, PASSPHRASE_FILE) } : { shareFile: s.file });
  }
  return out;
}

/** An engine message that already names its step is not prefixed with it again. */
export function stepMessage(at: string, message: string): string {
  return message.startsWith(`step '${at}'`) ? message : `step ${at}: ${message}`;
}
