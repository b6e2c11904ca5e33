// Every file the app reads as input goes through the bounded reader (src-main/files/read-bounded.ts). A
// plain readFile is allowed only where the file is the app's own data, written by it and of no fixed size
// (journals, logs, the transcript store), a kernel file, or a transcript bundle, which the verifier streams
// with its own caps. A new readFile anywhere else fails here and must say why it is not an input.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Paths (a trailing / means everything under it) and why a plain read is right there. */
const ALLOWED: Record<string, string> = {
  'src-main/transcript/': "the transcript store and journal this app writes, read-backs of its own files, and bundles, which the verifier streams with its own caps",
  'src-main/ceremony/engine/pre-genesis-log.ts': "a ceremony's log before its chain exists, written by this app",
  'src-main/ceremony/actions/existing-chain.ts': "the journals of this laptop's own transcript chains",
  'src-main/ceremony/summary.ts': "this app's own journal, to summarise a ceremony",
  'src-main/ceremony/actions/rotate-custodians.ts': "the journals of this laptop's own transcript chains, to list the tokens of a domain",
  'src-main/files/removable-drives.ts': 'kernel files (/proc, /sys) describing the mounted drives',
  'src-main/files/read-bounded.ts': 'the bounded reader itself',
  'src-main/app/app-protocol.ts': "the app's own built renderer files (out/renderer), served to the window",
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : name.endsWith('.ts') ? [path] : [];
  });
}

describe('input files', () => {
  it('are read only through the bounded reader', () => {
    const offenders = [...files('src-main'), ...files('hsm')]
      .map((f) => f.split('\\').join('/'))
      .filter((f) => !Object.keys(ALLOWED).some((a) => (a.endsWith('/') ? f.startsWith(a) : f === a)))
      .filter((f) => /\breadFile(Sync)?\b|\bcreateReadStream\b/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
