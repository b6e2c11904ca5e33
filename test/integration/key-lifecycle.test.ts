// Issue 14's "done when", in one life of one key, from the command line on real SoftHSM tokens: kms-import
// generates it in token A; token B joins A's security domain; backup-key on A and restore-key on B; token A is
// then lost (deleted with softhsm2-util); kms-rewrap on B exports the same material (same check value, and the
// same bytes as the backup unwrapped here from two share files); audit-token on B finds exactly what its chain
// says; destroy-key on B; the audit still matches, a later kms-rewrap is refused; and `keyceremony verify`
// accepts every bundle of both tokens together as production ceremonies of shipped scripts (exit 0).
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditTokenCommand } from '../../src-main/cli/audit-token-command.js';
import { destroyKeyCommand } from '../../src-main/cli/destroy-key-command.js';
import { runCli } from '../../src-main/cli/main.js';
import { independentUnwrap, kmsLikeKey, pythonKwpUnwrap, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { io, offline, Room } from '../helpers/key-backup.js';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const A = ['--token', 'pkcs11:token=life-a'];
const B = ['--token', 'pkcs11:token=life-b'];
const KEY = 'crown-key';
let env: SoftHsmEnv;
let room: Room;
let kms: KmsLikeKey;
let idA: string;
let checkValue: { value: string; method: string };
let backup: string;

async function audit(token: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { o, out } = io();
  const code = await auditTokenCommand(['--module', SOFTHSM_MODULE, ...token, ...room.base(), ...room.shares(['carol', 'alice'])], out, { airGap: offline });
  const result = JSON.parse(o.stdout || '{}') as { bundle?: { path: string } };
  if (result.bundle) (room.bundles['life-b'] ??= []).push(result.bundle.path);
  return { code, ...o };
}

beforeAll(async () => {
  env = createSoftHsmEnv();
  room = new Room(await mkdtemp(join(tmpdir(), 'kc-lifecycle-')));
  await room.setUp();
  kms = kmsLikeKey(2048);
  idA = await room.initToken('life-a');
  const r = await room.kms('kms-import', A, kms, 'SYMMETRIC_DEFAULT', KEY);
  expect(r.o.stderr).toBe('');
  expect(r.code).toBe(0);
  checkValue = r.result?.checkValue as { value: string; method: string };
  await room.joinToken('life-b', ['bob', 'carol']);
}, 240_000);

afterAll(async () => {
  env?.cleanup();
  if (room) await rm(room.work, { recursive: true, force: true });
});

describe('one key, two tokens, one verified history', () => {
  it('is backed up on A and restored on B, which holds the same check value', async () => {
    const b = await room.backup(A, KEY);
    expect(b.o.stderr).toBe('');
    expect(b.code).toBe(0);
    backup = b.result?.backup.path as string;
    const manifest = JSON.parse(await readFile(join(backup, 'backup-manifest.json'), 'utf8')) as { key: { checkValue: { value: string } } };
    expect(manifest.key.checkValue.value).toBe(checkValue.value);
    const r = await room.restore(B, backup, ['carol', 'alice']);
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 180_000);

  it('survives the loss of token A: kms-rewrap on B exports the same material', async () => {
    execFileSync('softhsm2-util', ['--delete-token', '--token', 'life-a'], { stdio: 'pipe' });
    const r = await room.kms('kms-rewrap', B, kms, 'SYMMETRIC_DEFAULT', KEY, ['bob', 'carol']);
    expect(r.o.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.result?.checkValue).toMatchObject(checkValue);
    const exported = independentUnwrap(kms, 'RSAES_OAEP_SHA_1', await readFile(join(r.result?.importBundle.path as string, 'EncryptedKeyMaterial.bin')));
    const backedUp = pythonKwpUnwrap(await room.backupKeyFromShares(idA), await readFile(join(backup, 'wrapped-key.bin')));
    expect(exported).toHaveLength(32);
    expect(exported.equals(backedUp)).toBe(true);
  }, 180_000);

  it("audit-token on B matches B's transcript", async () => {
    const r = await audit(B);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 120_000);

  it('destroy-key on B: the key is gone, the audit still matches, and a later kms-rewrap is refused', async () => {
    const { o, out } = io();
    const code = await destroyKeyCommand(['--module', SOFTHSM_MODULE, ...B, '--key-label', KEY, ...room.base(), ...room.shares(['alice', 'bob'])], out, { airGap: offline });
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const res = JSON.parse(o.stdout) as { destroyed: { label: string; gone: boolean; checkValue: string }; bundle: { path: string } };
    expect(res.destroyed).toMatchObject({ label: KEY, gone: true });
    (room.bundles['life-b'] ??= []).push(res.bundle.path);
    const after = await audit(B);
    expect(after.stderr).toBe('');
    expect(after.code).toBe(0);
    const again = await room.kms('kms-rewrap', B, kms, 'SYMMETRIC_DEFAULT', KEY, ['alice', 'bob']);
    expect(again.code).toBe(1);
    expect(again.o.stderr).toContain(`the key labelled '${KEY}' was destroyed on`);
  }, 180_000);

  it('keyceremony verify accepts every bundle of both tokens, together, as production ceremonies', async () => {
    const all = [...(room.bundles['life-a'] ?? []), ...(room.bundles['life-b'] ?? [])];
    // A: init-token, kms-import, backup-key. B: init-token (join), restore-key, kms-rewrap, audit, destroy-key, audit.
    expect(room.bundles['life-a']).toHaveLength(3);
    expect(room.bundles['life-b']).toHaveLength(6);
    const { o, out } = io();
    expect(await runCli(['verify', ...all], out), o.stdout + o.stderr).toBe(0);
    expect(o.stdout).toContain('2 chains: every chain verifies: integrity and policy hold (exit 0).');
    const json = io();
    expect(await runCli(['verify', '--json', ...all], json.out)).toBe(0);
    const chains = (JSON.parse(json.o.stdout) as { chains: { exitStatus: number; bundles: unknown[]; ceremonies: { ceremonyId: string }[] }[] }).chains;
    expect(chains.map((c) => [c.exitStatus, c.bundles.length]).sort()).toEqual([[0, 3], [0, 6]]);
    expect(chains.flatMap((c) => c.ceremonies.map((x) => x.ceremonyId.replace(/-\d{8}T.*$/, ''))).sort()).toEqual(
      ['audit-token', 'audit-token', 'backup-key', 'destroy-key', 'init-token', 'init-token', 'kms-import', 'kms-rewrap', 'restore-key'],
    );
  }, 120_000);

  it('one changed byte in one chain breaks the whole answer (exit 1), the other chain still verifies', async () => {
    const copy = join(room.work, 'tampered');
    await cp(room.bundles['life-b']?.[1] as string, copy, { recursive: true });
    const file = join(copy, 'transcript.jsonl');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('"restore-key"', '"restore-kez"'));
    const all = [...(room.bundles['life-a'] ?? []), ...(room.bundles['life-b'] ?? []).map((b, i) => (i === 1 ? copy : b))];
    const { o, out } = io();
    expect(await runCli(['verify', '--json', ...all], out)).toBe(1);
    const chains = (JSON.parse(o.stdout) as { chains: { exitStatus: number; bundles: unknown[] }[] }).chains;
    expect(chains.map((c) => [c.exitStatus, c.bundles.length]).sort()).toEqual([[0, 3], [1, 6]]);
  }, 120_000);
});
