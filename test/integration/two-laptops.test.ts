// The post-export decision (issue 12, item 5), on one real SoftHSM token and two data directories (two
// laptops), through the command line: laptop A runs init-token and kms-import and exports; laptop B
// imports those bundles, runs kms-rewrap on the same token and exports; A imports ONLY B's new bundle (its
// enrolment comes from the chain A holds) and continues with another kms-rewrap. Every bundle holds every
// chained entry of its ceremony (`completed` included; the export and logout are in a local note), so the
// two laptops never diverge: A's and B's journals are equal where they overlap, and all the bundles
// verify as one chain with the command-line verifier.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src-main/cli/main.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import type { Entry } from '../../src-main/transcript/entry.js';
import { ARN, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const TOKEN = 'two-laptops';
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
let env: SoftHsmEnv;
let work: string;
let kms: KmsLikeKey;
let chain: string;
const laptop = (name: 'A' | 'B') => join(work, `laptop-${name}`);

async function cli(argv: string[]) {
  const o = { stdout: '', stderr: '' };
  const code = await runCli(argv, { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } });
  return { code, ...o };
}

async function params(name: string): Promise<string> {
  const path = join(work, 'stick', `${name}.json`);
  await writeFile(path, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from(`token-${name}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  return path;
}

async function kmsCeremony(command: 'kms-import' | 'kms-rewrap', on: 'A' | 'B', name: string, shares: (keyof typeof PASS)[]) {
  const r = await cli([
    command, '--module', SOFTHSM_MODULE, '--token', `pkcs11:token=${TOKEN}`, '--params', await params(name), '--wrapping-algorithm', 'RSAES_OAEP_SHA_1',
    '--key-spec', 'SYMMETRIC_DEFAULT', '--key-label', 'shared-key', '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'bundles'), '--witness', 'wendy',
    '--data-dir', laptop(on), '--rehearsal', '--json', ...shares.flatMap((c) => ['--share', `${join(work, 'usb', `${c}.share`)}:${join(work, 'secrets', c)}`]),
  ]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { ceremonyId: string; importBundle: { path: string }; bundle: { path: string } };
}

const journal = async (on: 'A' | 'B'): Promise<Entry[]> => (await readFile(join(laptop(on), 'chains', chain, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
const bundleEntries = async (path: string): Promise<Entry[]> => (await readFile(join(path, 'transcript.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);

beforeAll(async () => {
  env = createSoftHsmEnv();
  work = await mkdtemp(join(tmpdir(), 'kc-two-laptops-'));
  for (const d of ['usb', 'bundles', 'secrets', 'laptop-A', 'laptop-B', 'stick', 'kms-out']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(PASS)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  kms = kmsLikeKey(2048);
});

afterAll(async () => {
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('two laptops, one token, one chain', () => {
  it('A: init-token, kms-import; B: imports them, kms-rewrap; A: imports only B\'s bundle and goes on; every bundle verifies as one chain', async () => {
    const o = { stdout: '', stderr: '' };
    const code = await initTokenCommand(
      [
        '--module', SOFTHSM_MODULE, '--slot', '0', '--token-label', TOKEN, '--custodians', 'alice,bob,carol', '--threshold', '2',
        '--shares-out', join(work, 'usb'), '--out', join(work, 'bundles'), '--witness', 'wendy', '--data-dir', laptop('A'), '--json',
        ...Object.keys(PASS).flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
      ],
      { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } },
      { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: offline },
    );
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const init = JSON.parse(o.stdout) as { ceremonyId: string; bundle: { path: string } };
    chain = init.ceremonyId;
    const imported = await kmsCeremony('kms-import', 'A', 'a-import', ['alice', 'bob']);

    // Each bundle ends with its ceremony's `completed`, and A's journal holds nothing after it.
    for (const [b, id] of [[init.bundle.path, init.ceremonyId], [imported.bundle.path, imported.ceremonyId]] as const) {
      const entries = await bundleEntries(b);
      expect(entries.at(-1)).toMatchObject({ ceremonyId: id, kind: 'completed' });
    }
    expect((await journal('A')).at(-1)).toMatchObject({ ceremonyId: imported.ceremonyId, kind: 'completed' });

    // Laptop B.
    const toB = await cli(['import', init.bundle.path, imported.bundle.path, '--data-dir', laptop('B'), '--json']);
    expect(toB.stderr).toBe('');
    expect(toB.code).toBe(0);
    expect(JSON.parse((await cli(['ceremonies', '--data-dir', laptop('B'), '--json'])).stdout)).toEqual([]);
    const rewrapB = await kmsCeremony('kms-rewrap', 'B', 'b-rewrap', ['bob', 'carol']);
    const bEntries = await bundleEntries(rewrapB.bundle.path);
    expect(bEntries[0]?.seq).toBe(((await journal('A')).at(-1) as Entry).seq + 1);
    expect(bEntries.every((e) => e.ceremonyId === rewrapB.ceremonyId)).toBe(true);
    expect(bEntries.at(-1)?.kind).toBe('completed');

    // Laptop A takes only B's new bundle: the enrolment comes from the chain it holds.
    const toA = await cli(['import', rewrapB.bundle.path, '--data-dir', laptop('A'), '--json']);
    expect(toA.stderr).toBe('');
    expect(toA.code).toBe(0);
    expect(JSON.parse(toA.stdout)).toMatchObject({ ok: true, chain, imported: bEntries.length, alreadyHeld: 0 });
    expect(await journal('A')).toEqual(await journal('B'));
    const rewrapA = await kmsCeremony('kms-rewrap', 'A', 'a-rewrap', ['alice', 'carol']);
    const aEntries = await bundleEntries(rewrapA.bundle.path);
    expect(aEntries[0]?.seq).toBe((bEntries.at(-1) as Entry).seq + 1);

    // All four bundles: one chain, verified by the command-line verifier.
    const all = [init.bundle.path, imported.bundle.path, rewrapB.bundle.path, rewrapA.bundle.path];
    // The ceremonies ran as rehearsals (the test laptop is not air-gapped): the verdict allows that, integrity is whole.
    const verified = await cli(['verify', ...all, '--allow-rehearsal', '--json']);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    // And the material B and A re-exported is the material A generated.
    const material = (p: string) => independentUnwrap(kms, 'RSAES_OAEP_SHA_1', new Uint8Array(readFileSync(join(p, 'EncryptedKeyMaterial.bin'))));
    expect(material(rewrapB.importBundle.path).equals(material(imported.importBundle.path))).toBe(true);
    expect(material(rewrapA.importBundle.path).equals(material(imported.importBundle.path))).toBe(true);
    // The export of each ceremony is recorded in its local note on the laptop that ran it, not in the chain.
    const note = (await readFile(join(laptop('B'), 'ceremonies', rewrapB.ceremonyId, 'after-completed.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: string; kind: string; data: { path?: string } });
    expect(note.find((r) => r.step === 'export' && r.kind === 'result')?.data.path).toBe(rewrapB.bundle.path);
  });
});
