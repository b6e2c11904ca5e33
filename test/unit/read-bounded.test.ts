// The bounded reader every input file goes through: anything but a regular file within the cap of its kind
// is refused in words that name the file, the cap and the remedy, without reading more than cap + 1 bytes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src-main/errors.js';
import { describeCap, readBounded, readBoundedSync, readSecretText, type FileKind } from '../../src-main/files/read-bounded.js';
import { SettingsStore } from '../../src-main/settings/settings-store.js';
import { FileLabelMemory, YUBIHSM_LABELS_FILE } from '../../src-main/tokens/yubihsm-labels.js';
import { loadScriptFile } from '../../src-main/ceremony/script/load.js';

const KIND: FileKind = { what: 'share file', cap: 16 * 1024, remedy: "Choose the .share file on the custodian's USB stick.", code: 'share-file-unreadable' };
const ONE_OF = 'a share file is a regular file of at most 16 KiB (16384 bytes).';

const dir = mkdtempSync(join(tmpdir(), 'kc-read-bounded-'));
beforeAll(() => {
  writeFileSync(join(dir, 'ok.share'), '{"format":"keyceremony-share"}\n');
  writeFileSync(join(dir, 'exact'), Buffer.alloc(16 * 1024, 0x41));
  writeFileSync(join(dir, 'one-over'), Buffer.alloc(16 * 1024 + 1, 0x41));
  // 300 MB, sparse: costs no disk, and must cost no memory either.
  writeFileSync(join(dir, 'huge'), '');
  truncateSync(join(dir, 'huge'), 300 * 1024 * 1024);
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  mkdirSync(join(dir, 'folder'));
  symlinkSync('/dev/zero', join(dir, 'zero-link'));
  symlinkSync(join(dir, 'ok.share'), join(dir, 'ok-link'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(path: string, kind: FileKind = KIND, noFollow = false): Promise<{ code: string; message: string; remedy: string | undefined }> {
  let sync: unknown;
  try {
    readBoundedSync(path, kind, { noFollow });
  } catch (e) {
    sync = e;
  }
  try {
    await readBounded(path, kind, { noFollow });
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    // The synchronous reader refuses in the same words.
    expect((sync as AppError | undefined)?.message).toBe((e as AppError).message);
    const a = e as AppError;
    return { code: a.code, message: a.message, remedy: a.remedy };
  }
  throw new Error(`${path} was read`);
}

describe('readBounded', () => {
  it('reads a regular file within the cap, through a link to one, and exactly at the cap', async () => {
    expect((await readBounded(join(dir, 'ok.share'), KIND)).toString()).toBe('{"format":"keyceremony-share"}\n');
    expect((await readBounded(join(dir, 'ok-link'), KIND)).toString()).toBe('{"format":"keyceremony-share"}\n');
    expect(readBoundedSync(join(dir, 'exact'), KIND).length).toBe(16 * 1024);
  });

  const cases: [string, () => string, string][] = [
    ['/dev/zero', () => '/dev/zero', `/dev/zero is a character device, not a regular file; ${ONE_OF}`],
    ['a link to /dev/zero', () => join(dir, 'zero-link'), `${join(dir, 'zero-link')} is a character device, not a regular file; ${ONE_OF}`],
    ['a FIFO (nothing ever writes to it)', () => join(dir, 'fifo'), `${join(dir, 'fifo')} is a named pipe (FIFO), not a regular file; ${ONE_OF}`],
    ['a folder', () => join(dir, 'folder'), `${join(dir, 'folder')} is a folder, not a regular file; ${ONE_OF}`],
    ['a sparse 300 MB file', () => join(dir, 'huge'), `${join(dir, 'huge')} is 314572800 bytes; a share file is at most 16 KiB (16384 bytes).`],
    ['one byte over the cap', () => join(dir, 'one-over'), `${join(dir, 'one-over')} is 16385 bytes; a share file is at most 16 KiB (16384 bytes).`],
    ['a missing file', () => join(dir, 'absent'), `${join(dir, 'absent')} cannot be read (ENOENT).`],
  ];
  it.each(cases)('refuses %s', async (_name, path, message) => {
    expect(await refusal(path())).toEqual({ code: 'share-file-unreadable', message, remedy: KIND.remedy });
  });

  it('refuses a link itself when told not to follow links', async () => {
    expect((await refusal(join(dir, 'ok-link'), KIND, true)).message).toBe(`${join(dir, 'ok-link')} is a symbolic link, not a regular file; ${ONE_OF}`);
  });

  it('stops at cap + 1 bytes when the size on disk says less than there is (a /proc file says 0)', async () => {
    const kind = { ...KIND, cap: 16 };
    expect((await refusal('/proc/self/status', kind)).message).toBe('/proc/self/status grew past 16 bytes while being read; a share file is at most that.');
  });

  it('opens its message with the field the path came from', async () => {
    expect((await refusal('/dev/zero', { ...KIND, field: 'shareFile' })).message).toBe(`shareFile: /dev/zero is a character device, not a regular file; ${ONE_OF}`);
  });

  it('reads a secret without its final line break', async () => {
    writeFileSync(join(dir, 'pass'), 'correct horse battery\r\n');
    expect(await readSecretText(join(dir, 'pass'), KIND)).toBe('correct horse battery');
  });

  it('describes caps in the units people read', () => {
    expect([describeCap(16384), describeCap(1024 * 1024), describeCap(1000)]).toEqual(['16 KiB (16384 bytes)', '1 MiB (1048576 bytes)', '1000 bytes']);
  });
});

describe('its callers', () => {
  it('settings.json as a FIFO: the settings store refuses it in words instead of waiting for a writer', () => {
    const data = join(dir, 'data-fifo');
    mkdirSync(data);
    execFileSync('mkfifo', [join(data, 'settings.json')]);
    let refused: AppError | undefined;
    try {
      new SettingsStore(data, () => []).read();
    } catch (e) {
      refused = e as AppError;
    }
    expect([refused?.code, refused?.message, refused?.remedy]).toEqual([
      'SETTINGS_INVALID',
      `${join(data, 'settings.json')} is a named pipe (FIFO), not a regular file; a settings file is a regular file of at most 256 KiB (262144 bytes).`,
      'Fix or delete the file; the app then starts with the default modules.',
    ]);
  });

  it('remembered YubiHSM labels linked to /dev/zero: treated as none remembered', () => {
    const data = join(dir, 'data-zero');
    mkdirSync(data);
    symlinkSync('/dev/zero', join(data, YUBIHSM_LABELS_FILE));
    expect(new FileLabelMemory(data).recall('12345678')).toBeUndefined();
  });

  it('a ceremony script that is /dev/zero', async () => {
    await expect(loadScriptFile('/dev/zero')).rejects.toThrow('/dev/zero is a character device, not a regular file; a ceremony script is a regular file of at most 256 KiB (262144 bytes).');
  });
});
