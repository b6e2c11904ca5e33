// `keyceremony tokens` end to end in this process (the built binary is exercised in test/e2e/cli.spec.ts):
// a fresh SoftHSM token and an NSS softoken database, the capability columns checked against FACTS.md.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src-main/cli/main.js';
import { createSoftHsmEnv, initSoftHsmToken, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';
import { createNssDb, NSS_DB_TOKEN_LABEL, type NssDb } from '../helpers/nss.js';

let softhsm: SoftHsmEnv;
let nss: NssDb;

beforeAll(() => {
  softhsm = createSoftHsmEnv();
  initSoftHsmToken('cli-token', '87654321', '12345678');
  nss = createNssDb();
});
afterAll(() => {
  softhsm?.cleanup();
  nss?.cleanup();
});

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

const supported = (slot: { capabilities: { algorithm: string; supported: boolean; probed: boolean }[] }) =>
  Object.fromEntries(slot.capabilities.map((c) => [c.algorithm, c.supported && c.probed]));

describe('keyceremony tokens', () => {
  it('lists the SoftHSM token with SHA-1 wrapping only, as JSON', async () => {
    const { code, stdout, stderr } = await cli(['tokens', '--module', SOFTHSM_MODULE, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const inventory = JSON.parse(stdout);
    expect(inventory.modules).toEqual([expect.objectContaining({ path: SOFTHSM_MODULE, loaded: true })]);
    const slot = inventory.slots.find((s: { token?: { label: string } }) => s.token?.label === 'cli-token');
    expect(slot.token).toMatchObject({ manufacturer: 'SoftHSM project', model: 'SoftHSM v2', initialized: true });
    expect(slot.uri).toContain('token=cli-token');
    expect(supported(slot)).toEqual({ RSAES_OAEP_SHA_1: true, RSAES_OAEP_SHA_256: false, RSA_AES_KEY_WRAP_SHA_1: true, RSA_AES_KEY_WRAP_SHA_256: false });
  });

  it('loads NSS softoken with its init parameters, which wraps all four ways', async () => {
    const { code, stdout } = await cli(['tokens', '--module', nss.module.path, '--init-parameters', nss.module.initParameters!, '--json']);
    expect(code).toBe(0);
    const slot = JSON.parse(stdout).slots.find((s: { token?: { label: string } }) => s.token?.label === NSS_DB_TOKEN_LABEL);
    expect(supported(slot)).toEqual({ RSAES_OAEP_SHA_1: true, RSAES_OAEP_SHA_256: true, RSA_AES_KEY_WRAP_SHA_1: true, RSA_AES_KEY_WRAP_SHA_256: true });
  });

  it('prints a table with yes/no columns', async () => {
    const { code, stdout } = await cli(['tokens', '--module', SOFTHSM_MODULE]);
    expect(code).toBe(0);
    const row = stdout.split('\n').find((l) => l.includes('cli-token'));
    expect(row).toMatch(/cli-token\s+SoftHSM project\s+SoftHSM v2\s+\S+\s+initialized\s+yes\s+no\s+yes\s+no$/);
  });

  it('reports a missing and a non-PKCS#11 module by path, lists the good one, and exits 1', async () => {
    const { code, stdout, stderr } = await cli(['tokens', '--module', '/nonexistent/lib.so', '--module', '/usr/lib/x86_64-linux-gnu/libz.so.1', '--module', SOFTHSM_MODULE]);
    expect(code).toBe(1);
    expect(stdout).toContain('cli-token');
    expect(stderr).toContain('module /nonexistent/lib.so:');
    expect(stderr).toContain('module /usr/lib/x86_64-linux-gnu/libz.so.1:');
  });

  it.each([
    [['tokens', '--modul', 'x'], "Unknown option '--modul'"],
    [['tokens', '--init-parameters', 'x'], '--init-parameters must follow the --module it belongs to.'],
    [['tokens', 'extra'], "Unexpected argument 'extra'"],
    [['frobnicate'], "unknown command 'frobnicate'"],
  ])('rejects %j with a usage error', async (args, message) => {
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });

  it('prints help for the program and the command', async () => {
    expect((await cli(['--help'])).stdout).toContain('Usage: keyceremony <command>');
    const help = await cli(['tokens', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--init-parameters STR');
  });
});
