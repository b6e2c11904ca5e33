// init-token through the engine API on a fresh SoftHSM token: 3 custodians, threshold 2. Afterwards every
// pair of shares unlocks the token (checked with a real operation), no single share does, a share of another
// ceremony is refused, the bundle verifies (verifier and openssl) and the approvals check holds, and stops
// holding when an approval is dropped.
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { CeremonyService } from '../../src-main/ceremony/engine/service.js';
import { ENGINE_KINDS } from '../../src-main/ceremony/engine/run.js';
import { quorumLogin, enrolmentFromEntries, type RecordedEnrolment } from '../../src-main/ceremony/actions/quorum-login.js';
import { createShareFile, serializeShareFile, splitSecret, generateCeremonySecret } from '../../src-main/ceremony/quorum/index.js';
import { verifyApprovals } from '../../src-main/ceremony/verify-approvals.js';
import { readChainHead } from '../../src-main/transcript/chain-head.js';
import { computeEntryHash, GENESIS_PREV, type Entry } from '../../src-main/transcript/entry.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { writeFile } from 'node:fs/promises';
import { createSoftHsmEnv, SOFTHSM_MODULE, type SoftHsmEnv } from '../helpers/softhsm.js';

const SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
const PASS = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });

let env: SoftHsmEnv;
let layer: Pkcs11TokenLayer;
let work: string;
let service: CeremonyService;
let ceremonyId: string;
let sharesDir: string;
let bundle: string;
let recorded: RecordedEnrolment;
let chainEntries: Entry[];

beforeAll(async () => {
  env = createSoftHsmEnv();
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'user' }]);
  work = await mkdtemp(join(tmpdir(), 'kc-ceremony-'));
  sharesDir = join(work, 'usb');
  await mkdir(sharesDir);
  await mkdir(join(work, 'out'));
  service = new CeremonyService({ layer, dataDir: join(work, 'data'), scriptsDir: resolve('ceremonies'), airGap: offline, appVersion: '0.1.0-test', scrypt: SCRYPT });
});
afterAll(async () => {
  await service?.close();
  await layer?.close();
  env?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function blankSlot(): Promise<string> {
  const slots = await layer.listSlots(SOFTHSM_MODULE);
  const blank = slots.find((s) => s.token && !s.token.initialized);
  if (!blank) throw new Error('no blank SoftHSM slot');
  return blank.slotId;
}

describe('init-token through the engine', () => {
  it('runs every step, hands out each share once, writes the chain head and exports the bundle', async () => {
    const scripts = await service.listScripts();
    expect(scripts.map((s) => s.name)).toContain('init-token');
    let view = await service.start({ script: 'init-token', parameters: { tokenLabel: 'ceremony-A', custodians: ['alice', 'bob', 'carol'], threshold: 2 } });
    ceremonyId = view.ceremonyId;
    expect(view.status).toBe('running');
    expect(view.currentStepId).toBe('participants');
    const step = async (id: string, input: Record<string, unknown>) => (await service.perform(ceremonyId, id, input)).view;
    view = await step('participants', { administrator: 'admin', witnesses: ['wendy'] });
    view = await step('airgap', {});
    view = await step('token', { moduleId: SOFTHSM_MODULE, slotId: await blankSlot() });
    view = await step('secret', {});
    // The token is not touched before every share is out and proved: the init step is not even reachable.
    await expect(service.perform(ceremonyId, 'init', { confirm: 'INITIALIZE' })).rejects.toThrow("step 'init' cannot run yet: the current step is 'shares'");
    expect(view.pendingCustodians).toEqual(['alice', 'bob', 'carol']);
    const reveals: string[] = [];
    for (const c of ['alice', 'bob', 'carol'] as const) {
      const r = await service.perform(ceremonyId, 'shares', { custodian: c, passphrase: PASS[c], destinationDir: sharesDir });
      expect(r.reveal?.custodian).toBe(c);
      expect(JSON.stringify(r.view)).not.toContain(r.reveal?.shareCode);
      reveals.push(r.reveal?.shareCode as string);
      view = r.view;
    }
    expect(new Set(reveals).size).toBe(3);
    view = await step('prove', {});
    await expect(service.perform(ceremonyId, 'init', {})).rejects.toThrow("step 'init': type INITIALIZE to confirm");
    view = await step('init', { confirm: 'INITIALIZE' });
    view = await step('pins', {});
    view = await step('audit-key', {});
    expect(view.tail.every((e) => e.seq === undefined)).toBe(true);
    view = await step('genesis', {});
    expect(view.tail[0]).toMatchObject({ seq: 0, kind: 'genesis' });
    view = await step('enrol', {});
    view = await step('sign-off', { witnesses: [{ name: 'wendy' }] });
    expect(view.quorum).toEqual({ threshold: 2, enrolled: ['alice', 'bob', 'carol'], approved: [], remaining: 2 });
    view = await step('head', { shareFile: join(sharesDir, 'alice.share'), passphrase: PASS.alice });
    // The same custodian again counts once.
    view = await step('head', { shareFile: join(sharesDir, 'alice.share'), passphrase: PASS.alice });
    expect(view.quorum).toMatchObject({ approved: ['alice'], remaining: 1 });
    await expect(service.perform(ceremonyId, 'head', { shareFile: join(sharesDir, 'bob.share'), passphrase: 'not bob passphrase' })).rejects.toThrow('wrong passphrase or damaged file');
    view = await step('head', { shareCode: reveals[1] });
    expect(view.currentStepId).toBe('export');
    view = await step('export', { destinationDir: join(work, 'out') });
    expect(view.status).toBe('completed');
    const out = view.outputs.find((o) => o.kind === 'bundle');
    expect(out).toBeDefined();
    bundle = out!.path;
    expect(view.outputs.filter((o) => o.kind === 'share-file')).toHaveLength(3);
  });

  it('recorded the run: intent/result around token steps, approvals, no secret in the chain', async () => {
    const journal = await readFile(join(work, 'data', 'chains', ceremonyId, 'journal.jsonl'), 'utf8');
    chainEntries = journal.trim().split('\n').map((l) => JSON.parse(l) as Entry);
    const kinds = chainEntries.map((e) => `${e.step}:${e.kind}`);
    expect(kinds.slice(0, 2)).toEqual(['genesis:genesis', 'genesis:pre-genesis']);
    expect(kinds).toContain('head:quorum-open');
    expect(kinds.filter((k) => k === 'head:approval')).toHaveLength(2);
    expect(kinds).toContain('head:approval-repeated');
    expect(kinds).toContain('head:refused');
    expect(kinds.slice(-1)).toEqual(['end:completed']);
    const pre = chainEntries[1]!.data as { script: { sha256: string; name: string }; records: { kind: string; step: string; data: { custodian?: string } }[] };
    expect(pre.script.name).toBe('init-token');
    expect(pre.records.map((r) => `${r.step}:${r.kind}`)).toEqual([
      'start:ceremony-start',
      'participants:result',
      'airgap:result',
      'token:intent',
      'token:result',
      'secret:result',
      'shares:refused',
      'shares:share-issued',
      'shares:share-issued',
      'shares:share-issued',
      'shares:result',
      'prove:enrolment',
      'prove:result',
      'init:refused',
      'init:intent',
      'init:result',
      'pins:intent',
      'pins:result',
      'audit-key:intent',
      'audit-key:result',
      'genesis:intent',
    ]);
    expect(pre.records.filter((r) => r.kind === 'share-issued').map((r) => r.data.custodian)).toEqual(['alice', 'bob', 'carol']);
    for (const pass of Object.values(PASS)) expect(journal).not.toContain(pass);
    recorded = enrolmentFromEntries(chainEntries)!;
    expect(recorded.enrolment).toMatchObject({ ceremonyId, threshold: 2 });
    expect(verifyApprovals(chainEntries)).toMatchObject({ status: 'pass' });
  });

  it('exports a bundle that verifies with the verifier and with openssl', async () => {
    const report = await verifyBundles([bundle]);
    expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(report.checks.find((c) => c.id === 'approvals')?.status).toBe('pass');
    const r = spawnSync('openssl', ['dgst', '-sha384', '-verify', join(bundle, 'audit-public-key.pem'), '-signature', join(bundle, 'transcript.jsonl.sig'), join(bundle, 'transcript.jsonl')], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('Verified OK');
    const entries = (await readFile(join(bundle, 'transcript.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Entry);
    expect(verifyApprovals(entries).status).toBe('pass');
  });

  it('a bundle with an approval line removed no longer verifies', async () => {
    const copy = join(work, 'tampered');
    await cp(bundle, copy, { recursive: true });
    const lines = (await readFile(join(copy, 'transcript.jsonl'), 'utf8')).split('\n');
    const at = lines.findIndex((l) => l.includes('"kind":"approval"'));
    lines.splice(at, 1);
    await writeFile(join(copy, 'transcript.jsonl'), lines.join('\n'));
    const report = await verifyBundles([copy]);
    expect(report.ok).toBe(false);
    expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(expect.arrayContaining(['digests', 'signature']));
  });

  it('fails the approvals check when one approval is dropped, even with the chain recomputed', () => {
    const dropAt = chainEntries.findIndex((e) => e.kind === 'approval');
    const kept = chainEntries.filter((_, i) => i !== dropAt);
    const rechained: Entry[] = [];
    for (const e of kept) {
      const body = { ...e, seq: rechained.length, prev: rechained.at(-1)?.hash ?? GENESIS_PREV } as Entry;
      rechained.push({ ...body, hash: computeEntryHash(body) });
    }
    // quorum-open's headHash still names the original head, which is fine; the count is what fails.
    const r = verifyApprovals(rechained);
    expect(r.status).toBe('fail');
    expect(r.detail).toMatch(/^step head of ceremony .* acted at seq \d+ with 1 distinct valid approval; the threshold is 2$/);
  });

  describe('quorum login afterwards', () => {
    async function loginWith(files: (keyof typeof PASS)[]): Promise<void> {
      const opened = await layer.openSession({ uri: 'pkcs11:token=ceremony-A' }, { readWrite: false });
      try {
        await quorumLogin(layer, opened.session, recorded, files.map((c) => ({ shareFile: join(sharesDir, `${c}.share`), passphrase: PASS[c] })));
        // A real operation that needs the user login: read the private chain-head object.
        const head = await readChainHead(layer, opened.session);
        expect(head?.seq).toBeGreaterThan(0);
        await layer.logout(opened.session);
      } finally {
        await layer.closeSession(opened.session);
      }
    }

    it.each([
      [['alice', 'bob']],
      [['alice', 'carol']],
      [['bob', 'carol']],
    ] as const)('%j unlock the token', async (pair) => {
      await loginWith([...pair]);
    });

    it.each(['alice', 'bob', 'carol'] as const)('%s alone is refused before combining', async (c) => {
      await expect(loginWith([c])).rejects.toThrow(`quorum login: 1 distinct custodian (${c}) presented a share; the threshold is 2`);
    });

    it('the same share twice is one custodian', async () => {
      await expect(loginWith(['bob', 'bob'])).rejects.toThrow('quorum login: 1 distinct custodian (bob) presented a share; the threshold is 2');
    });

    it('a share of another ceremony is refused', async () => {
      const shares = await splitSecret(generateCeremonySecret(), ['alice', 'bob'], 2);
      const other = serializeShareFile(await createShareFile({ ceremonyId: 'init-token-other', custodian: 'alice', index: 1, threshold: 2, share: shares[0]!.share }, { insecurePlain: true }));
      const path = join(work, 'other-alice.share');
      await writeFile(path, other);
      const opened = await layer.openSession({ uri: 'pkcs11:token=ceremony-A' }, { readWrite: false });
      try {
        await expect(quorumLogin(layer, opened.session, recorded, [{ shareFile: path }, { shareFile: join(sharesDir, 'bob.share'), passphrase: PASS.bob }])).rejects.toThrow('share file for another ceremony');
      } finally {
        await layer.closeSession(opened.session);
      }
    });
  });

  it('finds nothing interrupted after a completed ceremony', async () => {
    expect(await service.interrupted()).toEqual([]);
    expect(ENGINE_KINDS.completed).toBe('completed');
  });
});
