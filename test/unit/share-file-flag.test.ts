// One parser for FILE[:PASSPHRASE_FILE] behind --share, --previous-share and --join-domain-share: the last colon
// splits, and an empty value or an empty side is refused naming the flag (before, some commands took `alice.share:`
// and went on to read the current folder as the passphrase file).
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src-main/cli/args.js';
import { previousSharesFlag, shareFileFlag } from '../../src-main/cli/ceremony-flags.js';

describe('shareFileFlag', () => {
  it('splits at the last colon and resolves both paths', () => {
    expect(shareFileFlag('--share', 'usb/alice.share')).toEqual({ file: resolve('usb/alice.share') });
    expect(shareFileFlag('--share', 'a:b/alice.share:alice.pass')).toEqual({ file: resolve('a:b/alice.share'), passphraseFile: resolve('alice.pass') });
  });

  it.each(['', ':alice.pass', 'alice.share:'])('refuses %j naming the flag', (spec) => {
    for (const flag of ['--share', '--previous-share', '--join-domain-share']) {
      expect(() => shareFileFlag(flag, spec)).toThrow(UsageError);
      expect(() => shareFileFlag(flag, spec)).toThrow(`${flag} ${spec}: expected FILE or FILE:PASSPHRASE_FILE.`);
    }
    expect(() => previousSharesFlag([spec])).toThrow(`--previous-share ${spec}:`);
  });
});
