// Can this process mount a tmpfs (a "USB stick" a test can fill, make read-only or pull out)? Probed once
// with a real mount; when it cannot (not root, no CAP_SYS_ADMIN), the reason, for the skip message.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function probeTmpfsMount(): { ok: boolean; reason?: string } {
  const probe = mkdtempSync(join(tmpdir(), 'kc-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return { ok: true };
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return { ok: false, reason: (err.stderr?.toString().trim() || err.message).replace(/\s+/g, ' ') };
  } finally {
    rmdirSync(probe);
  }
}
