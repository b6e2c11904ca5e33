// The built `keyceremony` binary handed files that are not what they claim: /dev/zero, a FIFO nobody writes
// to, a 300 MB sparse file, a folder. Each is refused in words, with exit 2, before any ceremony starts,
// and the process's peak memory stays that of a refusal of a missing file: nothing was read whole.
import { test, expect } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLI = resolve(JSON.parse(readFileSync('package.json', 'utf8')).bin.keyceremony as string);
let dir: string;

test.beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-hostile-'));
  mkdirSync(join(dir, 'out'));
  writeFileSync(join(dir, 'pass'), 'a passphrase of some length\n');
  writeFileSync(join(dir, 'params.json'), '{}');
  writeFileSync(join(dir, 'small.share'), '{}');
  writeFileSync(join(dir, 'huge.share'), '');
  truncateSync(join(dir, 'huge.share'), 300 * 1024 * 1024);
  spawnSync('mkfifo', [join(dir, 'fifo.share')]);
  // Preloaded into the CLI's own process: its peak resident set size, written as it exits.
  writeFileSync(join(dir, 'max-rss.mjs'), "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(process.env.KC_MAX_RSS_FILE, String(process.resourceUsage().maxRSS)));\n");
});
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** kms-import with one --share; returns the exit status, stderr and the peak RSS in KiB. */
function kmsImport(share: string): { status: number | null; stderr: string; maxRssKiB: number } {
  const rssFile = join(dir, `rss-${Math.random().toString(36).slice(2)}`);
  const run = spawnSync(
    process.execPath,
    [
      '--import', join(dir, 'max-rss.mjs'), CLI, 'kms-import', '--module', '/usr/lib/softhsm/libsofthsm2.so', '--slot', '0', '--params', join(dir, 'params.json'),
      '--wrapping-algorithm', 'RSAES_OAEP_SHA_1', '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', 'k', '--share', share,
      '--out', join(dir, 'out'), '--bundle-out', join(dir, 'out'), '--witness', 'wendy', '--data-dir', join(dir, 'data'),
    ],
    // A FIFO read by a careless reader would block forever: the timeout turns that into a failure.
    { encoding: 'utf8', env: { ...process.env, KC_MAX_RSS_FILE: rssFile }, timeout: 30_000 },
  );
  return { status: run.status, stderr: run.stderr, maxRssKiB: Number(readFileSync(rssFile, 'utf8')) };
}

test('hostile share files are refused in words, in bounded memory', () => {
  const baseline = kmsImport(`${join(dir, 'absent.share')}:${join(dir, 'pass')}`);
  expect(baseline.status).toBe(2);
  expect(baseline.stderr).toContain(`${join(dir, 'absent.share')} cannot be read (ENOENT).`);
  const SHARE = 'a share file is a regular file of at most 16 KiB (16384 bytes).';
  const cases: [string, string][] = [
    ['/dev/zero', `/dev/zero is a character device, not a regular file; ${SHARE}`],
    [join(dir, 'fifo.share'), `${join(dir, 'fifo.share')} is a named pipe (FIFO), not a regular file; ${SHARE}`],
    [join(dir, 'huge.share'), `${join(dir, 'huge.share')} is 314572800 bytes; a share file is at most 16 KiB (16384 bytes).`],
    [join(dir, 'out'), `${join(dir, 'out')} is a folder, not a regular file; ${SHARE}`],
  ];
  for (const [file, message] of cases) {
    const run = kmsImport(`${file}:${join(dir, 'pass')}`);
    expect(run.status, file).toBe(2);
    expect(run.stderr).toContain(`keyceremony kms-import: --share ${file}:${join(dir, 'pass')}: ${message}\n  Choose the .share file on the custodian's USB stick.`);
    // Reading /dev/zero or the sparse file whole would take hundreds of MB (gigabytes before this check).
    expect(run.maxRssKiB, `${file}: peak ${run.maxRssKiB} KiB against ${baseline.maxRssKiB} KiB for a missing file`).toBeLessThan(baseline.maxRssKiB + 32 * 1024);
  }
  // The passphrase file gets the same treatment.
  const zeroPass = kmsImport(`${join(dir, 'small.share')}:/dev/zero`);
  expect(zeroPass.status).toBe(2);
  expect(zeroPass.stderr).toContain(`/dev/zero is a character device, not a regular file; a passphrase file is a regular file of at most 8 KiB (8192 bytes).`);
  expect(zeroPass.maxRssKiB).toBeLessThan(baseline.maxRssKiB + 32 * 1024);
});
