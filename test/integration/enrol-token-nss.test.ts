// enrol-token on a real NSS softoken whose database password (its user PIN) was set with certutil, then
// kms-import and kms-rewrap on that token through the command line, as on a token init-token enrolled:
// every key spec NSS can generate, all four AWS wrapping algorithms (RSAES_OAEP_SHA_256 and
// RSA_AES_KEY_WRAP_SHA_256 included) where AWS allows the pair; every export unwrapped independently
// (openssl for RSA-OAEP, python cryptography for RFC 5649) and checked strictly (python
// load_der_private_key for PKCS#8, exact lengths for symmetric and HMAC material) against the check value
// the transcript recorded; every transcript bundle verifies with `keyceremony verify`. A kms-import stopped
// after its key was generated resumes on that token with `--resume`. A database without a password (its
// empty PIN) is enrolled too, with plain rehearsal shares.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_PROBE_LABEL, probeAuditKeyTemplate } from '../../hsm/pkcs11/audit-key-probe.js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { auditKeyWaivers } from '../../src-main/ceremony/actions/nss-softoken.js';
import type { SlotRef } from '../../hsm/types.js';
import { runCli } from '../../src-main/cli/main.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { kmsRewrapCommand } from '../../src-main/cli/kms-rewrap-command.js';
import type { KmsKeySpec, KmsWrappingAlgorithm } from '../../src-main/kms/index.js';
import { ARN, checkRecovered, independentUnwrap, kmsLikeKey, type KmsLikeKey } from '../fixtures/kms/harness.js';
import { enrolArgs, enrolWork, io, offline, opensWith, PASS, pinsFromShares, runEnrol, SCRYPT, shareFlags, strictMaterialCheck, type EnrolWork } from '../helpers/enrol-token.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { combineShares, derivePins, openShareFile } from '../../src-main/ceremony/quorum/index.js';
import { NSS_DB_TOKEN_LABEL, NSS_SOFTOKEN_MODULE, createNssDb, type NssDb } from '../helpers/nss.js';

const VENDOR_PASSWORD = 'nss-db-password-from-certutil';
let nss: NssDb;
let w: EnrolWork;
let slot: SlotRef;
let enrolmentId: string;
let enrolBundle: string;
const bundles: string[] = [];
const kms2048: KmsLikeKey = kmsLikeKey(2048);
const kms3072: KmsLikeKey = kmsLikeKey(3072);

beforeAll(async () => {
  nss = createNssDb({ password: VENDOR_PASSWORD });
  w = await enrolWork('kc-enrol-nss-');
  const layer = new Pkcs11TokenLayer();
  await layer.configureModules([nss.module]);
  const db = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.token?.label === NSS_DB_TOKEN_LABEL);
  await layer.close();
  slot = { moduleId: NSS_SOFTOKEN_MODULE, slotId: db?.slotId as string };
  const r = await runEnrol(await enrolArgs(w, { module: NSS_SOFTOKEN_MODULE, initParameters: nss.module.initParameters as string, slot: slot.slotId, userPin: VENDOR_PASSWORD }));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  enrolmentId = r.json?.ceremonyId as string;
  enrolBundle = r.json?.bundle?.path as string;
}, 120_000);

afterAll(async () => {
  nss?.cleanup();
  if (w) await rm(w.dir, { recursive: true, force: true });
});

const nssArgs = () => ['--module', NSS_SOFTOKEN_MODULE, '--init-parameters', nss.module.initParameters as string, '--slot', slot.slotId];

async function paramsFile(kms: KmsLikeKey, name: string): Promise<string> {
  const path = join(w.dir, `${name}.json`);
  await writeFile(path, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from(`import-token-${name}`).toString('base64'), PublicKey: Buffer.from(kms.spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  return path;
}

async function runKms(command: 'kms-import' | 'kms-rewrap', kms: KmsLikeKey, keySpec: KmsKeySpec, algorithm: KmsWrappingAlgorithm, label: string) {
  const { o, out } = io();
  const run = command === 'kms-import' ? kmsImportCommand : kmsRewrapCommand;
  const name = `${command}-${label}-${algorithm}`;
  const args = [...nssArgs(), '--params', await paramsFile(kms, name), '--wrapping-algorithm', algorithm, '--key-spec', keySpec, '--key-label', label, '--out', w.out, '--bundle-out', w.out, '--witness', 'wendy', '--data-dir', w.data, ...shareFlags(w, 'bob', 'carol'), '--json'];
  const code = await run(args, out, { airGap: offline });
  expect(o.stderr, name).toBe('');
  expect(code, name).toBe(0);
  const result = JSON.parse(o.stdout) as { checkValue: { value: string; method: string }; importBundle: { path: string }; bundle: { path: string } };
  const encrypted = new Uint8Array(await readFile(join(result.importBundle.path, 'EncryptedKeyMaterial.bin')));
  const material = independentUnwrap(kms, algorithm, encrypted);
  // The SPKI python derives from the strictly parsed key; its SHA-256 must be the check value the token recorded.
  checkRecovered(keySpec, material, result.checkValue as never, strictMaterialCheck(keySpec, material));
  // Consecutive bundles verify together, from the enrol-token one (the genesis and the enrolment) on.
  bundles.push(result.bundle.path);
  const v = io();
  expect(await runCli(['verify', enrolBundle, ...bundles], v.out), `${name}: ${v.o.stdout}${v.o.stderr}`).toBe(0);
  return { material, checkValue: result.checkValue };
}

describe('enrol-token on NSS softoken', () => {
  it('replaced the database password: the old one no longer opens the token, the one two shares rebuild does', async () => {
    expect(await opensWith(nss.module, slot, 'user', VENDOR_PASSWORD)).toBe(false);
    const pins = await pinsFromShares(w, enrolmentId, ['alice', 'carol'], { maxPinLength: 500 });
    expect(await opensWith(nss.module, slot, 'user', pins.userPin)).toBe(true);
  });

  it('its transcript bundle verifies', async () => {
    const v = io();
    expect(await runCli(['verify', enrolBundle, '--json'], v.out)).toBe(0);
    const report = JSON.parse(v.o.stdout) as { checks: { id: string; status: string }[] };
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  });
});

// Every key spec NSS generates (not ECC_SECG_P256K1: CKR_DOMAIN_PARAMS_INVALID; not HMAC_384/512: its
// CKM_GENERIC_SECRET_KEY_GEN stops at 32 bytes, refused below before anything is generated), each with the wrapping
// algorithms AWS allows for it, so that every algorithm runs for every family of key.
const IMPORTS: [KmsKeySpec, KmsWrappingAlgorithm, 2048 | 3072][] = [
  ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_256', 2048],
  ['SYMMETRIC_DEFAULT', 'RSA_AES_KEY_WRAP_SHA_256', 2048],
  ['HMAC_224', 'RSAES_OAEP_SHA_1', 2048],
  ['HMAC_256', 'RSA_AES_KEY_WRAP_SHA_1', 2048],
  ['HMAC_224', 'RSA_AES_KEY_WRAP_SHA_256', 2048],
  ['HMAC_256', 'RSAES_OAEP_SHA_256', 2048],
  ['ECC_NIST_P256', 'RSAES_OAEP_SHA_256', 2048],
  ['ECC_NIST_P384', 'RSA_AES_KEY_WRAP_SHA_256', 2048],
  ['ECC_NIST_P521', 'RSAES_OAEP_SHA_256', 3072],
  ['RSA_2048', 'RSA_AES_KEY_WRAP_SHA_256', 2048],
  ['RSA_3072', 'RSA_AES_KEY_WRAP_SHA_1', 2048],
  ['RSA_4096', 'RSA_AES_KEY_WRAP_SHA_256', 2048],
];
const ALGORITHMS: KmsWrappingAlgorithm[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256'];
/** The first key kms-import made of each spec: its label and the material it exported. */
const imported = new Map<KmsKeySpec, { label: string; material: Buffer }>();

describe('kms-import on the token enrol-token enrolled', () => {
  it.each(['HMAC_384', 'HMAC_512'] as KmsKeySpec[])('%s is refused before anything is generated (NSS makes generic secrets of at most 32 bytes)', async (keySpec) => {
    const { o, out } = io();
    const label = `refused-${keySpec}`.toLowerCase();
    const args = [...nssArgs(), '--params', await paramsFile(kms2048, label), '--wrapping-algorithm', 'RSAES_OAEP_SHA_256', '--key-spec', keySpec, '--key-label', label, '--out', w.out, '--bundle-out', w.out, '--witness', 'wendy', '--data-dir', w.data, ...shareFlags(w, 'alice', 'bob')];
    expect(await kmsImportCommand(args, out, { airGap: offline })).toBe(1);
    expect(o.stderr).toContain(`step parameters: The token "NSS Certificate DB" (slot ${slot.slotId}) cannot generate ${keySpec}: its CKM_GENERIC_SECRET_KEY_GEN makes keys of 1-32 bytes`);
  });

  it.each(IMPORTS)('%s wrapped with %s: unwraps independently, strictly exact, check value as recorded; bundles verify', async (keySpec, algorithm, bits) => {
    const label = `enrolled-${keySpec}-${algorithm}`.toLowerCase();
    const r = await runKms('kms-import', bits === 2048 ? kms2048 : kms3072, keySpec, algorithm, label);
    if (!imported.has(keySpec)) imported.set(keySpec, { label, material: r.material });
  }, 120_000);
});

// kms-rewrap finds the key by label, recomputes its check value in the token, and wraps it again: with all
// four algorithms for a symmetric, an HMAC and an EC key, and both RSA_AES ones for an RSA key. The material
// must be the very bytes kms-import exported.
const REWRAPS: [KmsKeySpec, KmsWrappingAlgorithm, 2048 | 3072][] = [
  ...ALGORITHMS.map((a) => ['SYMMETRIC_DEFAULT', a, 2048] as [KmsKeySpec, KmsWrappingAlgorithm, 2048]),
  ...ALGORITHMS.map((a) => ['HMAC_256', a, 2048] as [KmsKeySpec, KmsWrappingAlgorithm, 2048]),
  ...ALGORITHMS.map((a) => ['ECC_NIST_P521', a, 3072] as [KmsKeySpec, KmsWrappingAlgorithm, 3072]),
  ['RSA_3072', 'RSA_AES_KEY_WRAP_SHA_256', 2048],
  ['RSA_2048', 'RSA_AES_KEY_WRAP_SHA_1', 2048],
];

describe('kms-rewrap on the token enrol-token enrolled', () => {
  it.each(REWRAPS)('%s re-wrapped with %s: the same material kms-import exported', async (keySpec, algorithm, bits) => {
    const first = imported.get(keySpec);
    if (!first) throw new Error(`${keySpec} was not imported above (run the whole file)`);
    const r = await runKms('kms-rewrap', bits === 2048 ? kmsLikeKey(2048) : kms3072, keySpec, algorithm, first.label);
    expect(r.material.equals(first.material)).toBe(true);
  }, 120_000);
});

describe('resume on the token enrol-token enrolled', () => {
  it('a kms-import stopped after its key was generated resumes (--resume) and finishes with that key', async () => {
    // Run it through the engine up to the generated key, then let go as a crash would: no terminal record.
    const label = 'enrolled-resumed';
    const params = await paramsFile(kms2048, label);
    const layer = new Pkcs11TokenLayer();
    await layer.configureModules([nss.module]);
    const service = new CeremonyService({ layer, dataDir: w.data, scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
    const { ceremonyId: id } = await service.start({ script: 'kms-import', parameters: { keySpec: 'ECC_NIST_P384', keyLabel: label, wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' } });
    await service.perform(id, 'participants', { administrator: 'admin', witnesses: ['wendy'] });
    await service.perform(id, 'airgap', {});
    await service.perform(id, 'token', { moduleId: NSS_SOFTOKEN_MODULE, slotId: slot.slotId });
    await service.perform(id, 'parameters', { path: params, wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256' });
    for (const c of ['alice', 'bob'] as const) await service.perform(id, 'login', { shareFile: join(w.shares, `${c}.share`), passphrase: PASS[c] });
    const generated = await service.perform(id, 'generate', { confirm: 'GENERATE' });
    expect(generated.view.currentStepId).toBe('wrap');
    await service.close();
    await layer.close();

    const { o, out } = io();
    const args = ['--resume', id, ...nssArgs(), '--params', params, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_256', '--key-spec', 'ECC_NIST_P384', '--key-label', label, '--out', w.out, '--bundle-out', w.out, '--witness', 'wendy', '--data-dir', w.data, ...shareFlags(w, 'bob', 'carol'), '--json'];
    const code = await kmsImportCommand(args, out, { airGap: offline });
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(o.stdout) as { ceremonyId: string; checkValue: { value: string; method: string }; importBundle: { path: string }; bundle: { path: string } };
    expect(result.ceremonyId).toBe(id);
    const material = independentUnwrap(kms2048, 'RSA_AES_KEY_WRAP_SHA_256', new Uint8Array(await readFile(join(result.importBundle.path, 'EncryptedKeyMaterial.bin'))));
    checkRecovered('ECC_NIST_P384', material, result.checkValue as never, strictMaterialCheck('ECC_NIST_P384', material));
    bundles.push(result.bundle.path);
    const v = io();
    expect(await runCli(['verify', enrolBundle, ...bundles], v.out), v.o.stdout).toBe(0);
  }, 120_000);
});

describe('an NSS database without a password, enrolled with plain shares in a rehearsal', () => {
  it('takes the empty PIN it has, warns about the plain shares and records them as not encrypted; the shares open it', async () => {
    const bare = createNssDb();
    const v = await enrolWork('kc-enrol-nss-bare-');
    try {
      const layer = new Pkcs11TokenLayer();
      await layer.configureModules([bare.module]);
      const db = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.token?.label === NSS_DB_TOKEN_LABEL);
      await layer.close();
      expect(db?.token?.loginRequired).toBe(false);
      const bareSlot = { moduleId: NSS_SOFTOKEN_MODULE, slotId: db?.slotId as string };
      const base = await enrolArgs(v, { module: NSS_SOFTOKEN_MODULE, initParameters: bare.module.initParameters as string, slot: bareSlot.slotId, userPin: '' });
      const args = [...base.filter((a, i) => a !== '--passphrase-file' && base[i - 1] !== '--passphrase-file'), '--insecure-plain-shares', '--rehearsal'];
      const r = await runEnrol(args);
      expect(r.stderr).toBe('keyceremony enrol-token: WARNING: --insecure-plain-shares writes UNENCRYPTED share files: anyone who reads one holds that share. Rehearsal only; the transcript records every share as not encrypted.\n');
      expect(r.code).toBe(0);
      const id = r.json?.ceremonyId as string;
      const file = JSON.parse(await readFile(join(v.shares, 'alice.share'), 'utf8')) as { insecurePlain?: boolean; warning?: string };
      expect(file.insecurePlain).toBe(true);
      expect(file.warning).toContain('THIS SHARE FILE IS NOT ENCRYPTED');
      const log = (await readFile(join(v.data, 'ceremonies', id, 'pre-genesis.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: { encrypted?: boolean } });
      expect(log.filter((e) => e.kind === 'share-issued').map((e) => e.data.encrypted)).toEqual([false, false, false]);
      expect(log.find((e) => e.kind === 'ceremony-start')?.data).toMatchObject({ rehearsal: true });
      // The empty password is gone; the one two plain shares rebuild opens the database.
      expect(await opensWith(bare.module, bareSlot, 'user', '')).toBe(false);
      const shares: Uint8Array[] = [];
      for (const c of ['alice', 'carol']) shares.push((await openShareFile(await readFile(join(v.shares, `${c}.share`)), undefined, { ceremonyId: id })).share);
      const secret = await combineShares(shares, 2);
      expect(await opensWith(bare.module, bareSlot, 'user', derivePins(secret, id, { maxPinLength: 500 }).userPin)).toBe(true);
    } finally {
      bare.cleanup();
      await rm(v.dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the audit key template probe on NSS softoken (the one enrol-token runs at its current-PINs step)', () => {
  it('refuses the key NSS makes over CKA_LOCAL alone, passes with the NSS waiver, and leaves nothing behind', async () => {
    const db = createNssDb({ password: VENDOR_PASSWORD });
    const layer = new Pkcs11TokenLayer();
    try {
      await layer.configureModules([db.module]);
      const ref = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.token?.label === NSS_DB_TOKEN_LABEL);
      expect(ref?.token).toBeDefined();
      const { session } = await layer.openSession({ moduleId: NSS_SOFTOKEN_MODULE, slotId: ref!.slotId }, { readWrite: true });
      await layer.login(session, 'user', VENDOR_PASSWORD);
      const strict = await probeAuditKeyTemplate(layer, session);
      expect(strict).toMatchObject({ usable: false, stage: 'attributes' });
      // Every complaint is about CKA_LOCAL, so the waiver is all NSS needs. (The public key's CKA_LOCAL read false
      // on a fresh process here, true after many other keys in the same run: only the private key's is asserted.)
      const complaints = strict.usable ? [] : strict.message.replace(/^[^:]*: /, '').replace(/\.$/, '').split('; ');
      expect(complaints).toContain('CKA_LOCAL is false, expected true: it must have been generated inside the token');
      expect(complaints.filter((c) => !/CKA_LOCAL is false, expected true/.test(c))).toEqual([]);
      const waivers = auditKeyWaivers({ slot: { moduleId: NSS_SOFTOKEN_MODULE }, info: ref!.token! });
      expect(waivers.CKA_LOCAL).toMatch(/NSS softoken does not set CKA_LOCAL/);
      expect(await probeAuditKeyTemplate(layer, session, waivers)).toEqual({ usable: true });
      expect(await layer.findAll(session, { label: AUDIT_PROBE_LABEL })).toEqual([]);
      await layer.logout(session);
      await layer.closeSession(session);
    } finally {
      await layer.close();
      db.cleanup();
    }
  });
});
