// The command line on a YubiHSM 2: `npm run yubihsm-sim` started as its own process (the connector HTTP
// protocol on a loopback port), then `keyceremony tokens`, `keyceremony init-token` and
// `keyceremony kms-import` with `--module yubihsm:http://127.0.0.1:PORT`, each command building its own
// token layer as a separate run would. The wrapped key material unwraps independently (openssl, python) to
// the printed check value; the bundles verify; a non-loopback connector is a usage error naming the flag.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { tokensCommand } from '../../src-main/cli/tokens-command.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';

const SERIAL = '7070707';
const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
let sim: ChildProcess;
let module: string;
let work: string;
let kms: KmsLikeKey;

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

/** `npm run yubihsm-sim -- --port 0`: wait for the line naming its address. */
async function startSimulator(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn('npm', ['run', '--silent', 'yubihsm-sim', '--', '--port', '0', '--serial', SERIAL], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let seen = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the simulator did not start: ${seen}`)), 50_000);
    child.stdout?.on('data', (b: Buffer) => {
      seen += b.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.stderr?.on('data', (b: Buffer) => (seen += b.toString()));
    child.on('exit', (code) => reject(new Error(`the simulator exited (${code}): ${seen}`)));
  });
  return { child, url };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'kc-yubihsm-cli-'));
  for (const d of ['usb', 'out', 'secrets', 'data', 'stick', 'kms-out']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  kms = kmsLikeKey(2048);
  const started = await startSimulator();
  sim = started.child;
  module = `yubihsm:${started.url}`;
}, 60_000);

afterAll(async () => {
  // The simulator runs under npm in its own process group (detached): end that group, by its id.
  if (sim?.pid) {
    const exited = new Promise((resolve) => sim.once('exit', resolve));
    process.kill(-sim.pid, 'SIGTERM');
    await exited;
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe('keyceremony on a YubiHSM 2 through yubihsm-connector (the simulator)', () => {
  it('tokens lists the device and what it can do for KMS; a non-loopback connector is a usage error', async () => {
    const { o, out } = io();
    expect(await tokensCommand(['--module', module, '--json'], out)).toBe(0);
    const inventory = JSON.parse(o.stdout) as { slots: { slotId: string; tokenPresent: boolean; token?: { model: string; initialized: boolean }; capabilities: { algorithm: string; supported: boolean }[] }[] };
    expect(inventory.slots).toMatchObject([{ slotId: SERIAL, tokenPresent: true, token: { model: 'YubiHSM 2', initialized: false } }]);
    expect(inventory.slots[0]?.capabilities.filter((c) => c.supported).map((c) => c.algorithm)).toEqual(['RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256']);
    const bad = io();
    expect(await tokensCommand(['--module', 'yubihsm:http://10.0.0.7:12345'], bad.out)).toBe(2);
    expect(bad.o.stderr).toContain('--module yubihsm:http://10.0.0.7:12345: The YubiHSM connector address "http://10.0.0.7:12345" was refused: 10.0.0.7 is not this computer');
  });

  it('init-token, then kms-import in a separate run: exit 0, material unwraps to the printed check value, bundles verify', async () => {
    const init = io();
    const code = await initTokenCommand(
      [
        '--module', module, '--slot', SERIAL, '--token-label', 'cli-yubi', '--custodians', 'alice,bob,carol', '--threshold', '2',
        '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json',
        ...Object.keys(pass).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
      ],
      init.out,
      { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: offline },
    );
    expect(init.o.stderr).toBe('');
    expect(code).toBe(0);
    const initBundle = (JSON.parse(init.o.stdout) as { bundle: { path: string } }).bundle.path;

    const params = join(work, 'stick', 'params.json');
    await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('cli-token').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
    const share = (c: keyof typeof pass) => ['--share', `${join(work, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`];
    const run = io();
    const kmsCode = await kmsImportCommand(
      [
        '--module', module, '--slot', SERIAL, '--params', params, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_256', '--key-spec', 'SYMMETRIC_DEFAULT',
        '--key-label', 'cli-cmk', '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json',
        ...share('bob'), ...share('carol'),
      ],
      run.out,
      { airGap: offline },
    );
    expect(run.o.stderr).toBe('');
    expect(kmsCode).toBe(0);
    const result = JSON.parse(run.o.stdout) as { status: string; checkValue: { value: string; method: string }; importBundle: { path: string }; bundle: { path: string } };
    expect(result.status).toBe('completed');
    const encrypted = new Uint8Array(await readFile(join(result.importBundle.path, 'EncryptedKeyMaterial.bin')));
    checkRecovered('SYMMETRIC_DEFAULT', independentUnwrap(kms, 'RSA_AES_KEY_WRAP_SHA_256', encrypted), result.checkValue as never);
    const report = await verifyBundles([initBundle, result.bundle.path]);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
  });

  it('kms-import with RSAES_OAEP_SHA_1 exits 1 before any login, listing what the device can do', async () => {
    const params = join(work, 'stick', 'params-oaep.json');
    await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from('cli-token-2').toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
    const run = io();
    const code = await kmsImportCommand(
      [
        '--module', module, '--slot', SERIAL, '--params', params, '--wrapping-algorithm', 'RSAES_OAEP_SHA_1', '--key-spec', 'SYMMETRIC_DEFAULT',
        '--key-label', 'cli-oaep', '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'),
        '--share', `${join(work, 'usb', 'alice.share')}:${join(work, 'secrets', 'alice')}`, '--share', `${join(work, 'usb', 'bob.share')}:${join(work, 'secrets', 'bob')}`,
      ],
      run.out,
      { airGap: offline },
    );
    expect(code).toBe(1);
    expect(run.o.stderr).toMatch(/step parameters: .*cannot wrap with RSAES_OAEP_SHA_1.*It can do: RSA_AES_KEY_WRAP_SHA_1/s);
  });
});
