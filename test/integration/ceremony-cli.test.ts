// `keyceremony init-token` on a fresh SoftHSM token: usage errors name the flag; a full run writes the share
// files and a bundle that verifies (verifier, approvals check, openssl), and every pair of the written share
// files unlocks the token.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { runCli } from '../../src-main/cli/main.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { enrolmentFromEntries, quorumLogin } from '../../src-main/ceremony/actions/quorum-login.js';
import { verifyApprovals } from '../../src-main/ceremony/verify-approvals.js';
import { readChainHead } from '../../src-main/transcript/chain-head.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
let env: SoftHsmEnv;
let work: string;

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-ceremony-cli-'));
  for (const d of ['usb', 'out', 'secrets', 'data']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  await writeFile(join(work, 'secrets', 'short'), 'too short\n');
});
afterAll(async () => {
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

const base = () => [
  '--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', 'cli-ceremony', '--custodians', 'alice,bob,carol', '--threshold', '2',
  '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'),
  ...Object.keys(pass).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
];

describe('keyceremony init-token', () => {
  it('prints its help', async () => {
    const { o, out } = io();
    expect(await runCli(['init-token', '--help'], out)).toBe(0);
    expect(o.stdout).toContain('Usage: keyceremony init-token --module PATH');
    const main = io();
    await runCli(['--help'], main.out);
    expect(main.o.stdout).toContain('init-token');
  });

  const without = (flag: string) => {
    const a = base();
    const i = a.indexOf(flag);
    a.splice(i, 2);
    return a;
  };
  it.each([
    ['no --module', () => without('--module'), '--module PATH is required (the PKCS#11 library of the token).'],
    ['no token', () => without('--slot'), '--slot N or --token URI is required (which token to initialize).'],
    ['threshold above N', () => [...base(), '--threshold', '4'], '--threshold 4: must be between 2 and the number of custodians (3).'],
    ['missing passphrase file', () => base().slice(0, -2), '--passphrase-file is missing for carol (or pass --insecure-plain-shares for a rehearsal).'],
    ['a stranger', () => [...base(), '--passphrase-file', `mallory=${join(work, 'secrets', 'alice')}`], '--passphrase-file mallory=...: mallory is not one of --custodians (alice, bob, carol).'],
    ['plain and passphrases', () => [...base(), '--insecure-plain-shares'], 'give either --passphrase-file for each custodian or --insecure-plain-shares, not both.'],
    ['no witness', () => without('--witness'), '--witness NAME is required: the init-token ceremony needs at least one witness.'],
    ['shares-out missing', () => [...base(), '--shares-out', join(work, 'nope')], '/nope: not an existing folder.'],
    ['passphrase on argv', () => [...base(), '--passphrase', 'x'], "Unknown option '--passphrase'"],
  ])('refuses %s with exit 2', async (_name, args, message) => {
    const { o, out } = io();
    expect(await runCli(['init-token', ...args()], out)).toBe(2);
    expect(o.stderr).toContain(message);
  });

  it('refuses a short passphrase from its file, naming the flag', async () => {
    const { o, out } = io();
    const a = base().map((v) => (v.startsWith('bob=') ? `bob=${join(work, 'secrets', 'short')}` : v));
    expect(await runCli(['init-token', ...a], out)).toBe(2);
    expect(o.stderr).toContain(`--passphrase-file bob=${join(work, 'secrets', 'short')}: `);
  });

  let result: { ceremonyId: string; bundle: { path: string }; shares: { path: string }[] };
  it('runs the ceremony and writes one share file per custodian and the bundle', async () => {
    const { o, out } = io();
    const code = await initTokenCommand([...base(), '--json'], out, { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() }) });
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    result = JSON.parse(o.stdout);
    expect(result).toMatchObject({ status: 'completed' });
    expect((await readdir(join(work, 'usb'))).sort()).toEqual(['alice.share', 'bob.share', 'carol.share']);
    expect(o.stdout).not.toContain(pass.alice);
  });

  it('refuses to run again on the now initialized token', async () => {
    const { o, out } = io();
    await mkdir(join(work, 'usb-again'));
    const a = base().map((v) => (v === join(work, 'usb') ? join(work, 'usb-again') : v));
    const slots = await (async () => {
      const layer = new Pkcs11TokenLayer();
      await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
      try {
        return await layer.listSlots(SOFTHSM_MODULE);
      } finally {
        await layer.close();
      }
    })();
    const slot = slots.find((s) => s.token?.label === 'cli-ceremony')!.slotId;
    a[a.indexOf('--slot') + 1] = slot;
    const code = await initTokenCommand(a, out, { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() }) });
    expect(code).toBe(1);
    expect(o.stderr).toContain(`keyceremony init-token: step token: token 'cli-ceremony' (serial `);
    expect(o.stderr).toContain('is already initialized; init-token needs a blank token');
    expect(o.stderr).toContain('was aborted and the abort recorded.');
  });

  it('exports a bundle that verifies, with openssl too, and whose approvals hold', async () => {
    const report = await verifyBundles([result.bundle.path]);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
    const r = spawnSync('openssl', ['dgst', '-sha384', '-verify', join(result.bundle.path, 'audit-public-key.pem'), '-signature', join(result.bundle.path, 'transcript.jsonl.sig'), join(result.bundle.path, 'transcript.jsonl')], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('Verified OK');
    const entries = (await readFile(join(result.bundle.path, 'transcript.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
    expect(verifyApprovals(entries)).toMatchObject({ status: 'pass' });
  });

  it('every pair of the written share files unlocks the token; a single one does not', async () => {
    const entries = (await readFile(join(result.bundle.path, 'transcript.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
    const recorded = enrolmentFromEntries(entries)!;
    const layer = new Pkcs11TokenLayer();
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    try {
      for (const pair of [['alice', 'bob'], ['alice', 'carol'], ['bob', 'carol'], ['carol']] as (keyof typeof pass)[][]) {
        const opened = await layer.openSession({ uri: 'pkcs11:token=cli-ceremony' }, { readWrite: false });
        try {
          const login = quorumLogin(layer, opened.session, recorded, pair.map((c) => ({ shareFile: join(work, 'usb', `${c}.share`), passphrase: pass[c] })));
          if (pair.length === 1) {
            await expect(login).rejects.toThrow('quorum login: 1 distinct custodian (carol) presented a share; the threshold is 2');
            continue;
          }
          await login;
          expect((await readChainHead(layer, opened.session))?.seq).toBeGreaterThan(0);
          await layer.logout(opened.session);
        } finally {
          await layer.closeSession(opened.session);
        }
      }
    } finally {
      await layer.close();
    }
  });
});
