// A crash during share distribution: a child process running init-token is killed with SIGKILL after the
// second share file exists. The next run records the attempt as interrupted and its two shares as void,
// restarts init-token on the same token (initialized by the interrupted attempt, so re-initialization is
// allowed for that case only), and no share of the interrupted attempt opens the restarted token.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { enrolmentFromEntries, quorumLogin } from '../../src-main/ceremony/actions/quorum-login.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { readPreGenesisLog } from '../../src-main/ceremony/engine/pre-genesis-log.js';
import { readChainHead } from '../../src-main/transcript/chain-head.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const outDir = resolve('node_modules/.cache/keyceremony-ceremony-crash-child');
const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
let child: string;
let env: SoftHsmEnv;
let work: string;
const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;

beforeAll(async () => {
  env = createSoftHsmEnv();
  await build({
    configFile: false,
    logLevel: 'silent',
    ssr: { noExternal: ['zod'] },
    build: {
      ssr: resolve('test/integration/ceremony-crash-child.ts'),
      outDir,
      emptyOutDir: true,
      target: 'node20',
      rollupOptions: { output: { entryFileNames: 'child.mjs', format: 'es' } },
    },
  });
  child = join(outDir, 'child.mjs');
  work = await mkdtemp(join(tmpdir(), 'kc-ceremony-crash-'));
  for (const d of ['usb1', 'usb2', 'out1', 'out2', 'secrets']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
}, 60_000);
afterAll(async () => {
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

const argv = (usb: string, out: string, token: string[]) => [
  '--module', SOFTHSM_MODULE, ...token, '--token-label', 'crash-token', '--custodians', 'alice,bob,carol', '--threshold', '2',
  '--shares-out', join(work, usb), '--out', join(work, out), '--witness', 'wendy', '--data-dir', join(work, 'data'),
  ...Object.keys(pass).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
];

function runUntilSecondShare(args: string[]): Promise<{ issued: string[]; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(process.execPath, [child, JSON.stringify(args), resolve('ceremonies'), '2'], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const issued: string[] = [];
    let buffer = '';
    let stderr = '';
    p.stdout.setEncoding('utf8');
    p.stderr.setEncoding('utf8');
    p.stderr.on('data', (c: string) => (stderr += c));
    p.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('issued ')) {
          issued.push(line.slice(7));
          if (issued.length === 2) p.kill('SIGKILL');
        }
      }
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolveRun({ issued, stderr }) : reject(new Error(`child exited ${code}: ${stderr}${buffer}`))));
  });
}

const journal = async (dir: string) => (await readFile(join(dir, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);

describe('init-token killed during share distribution', () => {
  let firstId: string;
  let secondId: string;

  it('leaves two share files and an unfinished ceremony', async () => {
    // A fresh SoftHSM directory has one free slot: 0.
    const { issued } = await runUntilSecondShare(argv('usb1', 'out1', ['--slot', '0']));
    expect(issued).toEqual(['alice', 'bob']);
    const dirs = (await import('node:fs')).readdirSync(join(work, 'data', 'ceremonies'));
    expect(dirs).toHaveLength(1);
    firstId = dirs[0] as string;
    const entries = await journal(join(work, 'data', 'chains', firstId));
    expect(entries.filter((e) => e.kind === 'share-issued').map((e) => e.data.custodian)).toEqual(['alice', 'bob']);
    expect(entries.some((e) => ['completed', 'abort', 'interrupted'].includes(e.kind))).toBe(false);
  });

  it('records the attempt as interrupted, voids its shares, and restarts init-token on the same token', async () => {
    let stdout = '';
    let stderr = '';
    const restart = argv('usb2', 'out2', ['--token', 'pkcs11:token=crash-token']);
    // Erasing the token needs its current SO PIN: one void share is not enough to rebuild it...
    let err = '';
    let said = '';
    const refused = await initTokenCommand([...restart, '--previous-share', `${join(work, 'usb1', 'alice.share')}:${join(work, 'secrets', 'alice')}`], { stdout: { write: (t: string) => (said += t) }, stderr: { write: (t: string) => (err += t) } }, { scrypt: SCRYPT, airGap: offline, scriptsDir: resolve('ceremonies') });
    expect(refused).toBe(1);
    expect(said).toContain(`Recorded ceremony ${firstId} (init-token) as interrupted; its shares for alice, bob are void.`);
    expect(err).toContain('keyceremony init-token: step init: re-initialization of the token of');
    expect(err).toContain('1 distinct custodian (alice) presented a share; the threshold is 2');
    // ...two are: they rebuild the interrupted attempt's SO PIN (and stay void for everything else).
    const previous = (['alice', 'bob'] as const).flatMap((c) => ['--previous-share', `${join(work, 'usb1', `${c}.share`)}:${join(work, 'secrets', c)}`]);
    const code = await initTokenCommand([...restart, ...previous], { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } }, { scrypt: SCRYPT, airGap: offline, scriptsDir: resolve('ceremonies') });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).not.toContain('as interrupted');
    const old = await journal(join(work, 'data', 'chains', firstId));
    const tail = old.slice(-2);
    expect(tail.map((e) => e.kind)).toEqual(['interrupted', 'shares-void']);
    expect(tail[1]?.data.custodians).toEqual(['alice', 'bob']);
    const ids = (await import('node:fs')).readdirSync(join(work, 'data', 'ceremonies')).filter((d) => d !== firstId).sort();
    expect(ids).toHaveLength(2);
    // The refused attempt was aborted before genesis: only the restarted one has a chain.
    const { existsSync } = await import('node:fs');
    secondId = ids.find((id) => existsSync(join(work, 'data', 'chains', id))) as string;
    expect(ids.filter((id) => existsSync(join(work, 'data', 'chains', id)))).toEqual([secondId]);
    const { records } = await readPreGenesisLog(join(work, 'data', 'ceremonies', secondId, 'pre-genesis.jsonl'));
    const select = records.find((r) => r.step === 'token' && r.kind === 'result');
    expect(select?.data.reinitialize).toEqual({ reason: 'interrupted-attempt', interruptedCeremonyId: firstId, voidShares: ['alice', 'bob'] });
  });

  it('no share of the interrupted attempt opens the restarted token; the new shares do', async () => {
    const layer = new Pkcs11TokenLayer();
    await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
    try {
      const recorded = enrolmentFromEntries(await journal(join(work, 'data', 'chains', secondId)))!;
      const oldFiles = (['alice', 'bob'] as const).map((c) => ({ shareFile: join(work, 'usb1', `${c}.share`), passphrase: pass[c] }));
      const opened = await layer.openSession({ uri: 'pkcs11:token=crash-token' }, { readWrite: false });
      try {
        await expect(quorumLogin(layer, opened.session, recorded, oldFiles)).rejects.toThrow('share file for another ceremony');
        // Even rebuilt outside the app, the old pair gives the old S, whose PIN is not this token's.
        const shares = await Promise.all(oldFiles.map(async (f) => (await openShareFile(await readFile(f.shareFile), f.passphrase)).share));
        const oldS = await combineShares(shares, 2);
        const oldPin = derivePins(oldS, firstId).userPin;
        wipe(oldS, ...shares);
        await expect(layer.login(opened.session, 'user', oldPin)).rejects.toMatchObject({ code: 'CKR_PIN_INCORRECT' });
        await quorumLogin(layer, opened.session, recorded, (['bob', 'carol'] as const).map((c) => ({ shareFile: join(work, 'usb2', `${c}.share`), passphrase: pass[c] })));
        expect((await readChainHead(layer, opened.session))?.seq).toBeGreaterThan(0);
      } finally {
        await layer.closeSession(opened.session);
      }
    } finally {
      await layer.close();
    }
  });
});
