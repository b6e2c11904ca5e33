// `keyceremony audit-token` and `keyceremony destroy-key` on a YubiHSM 2: the simulator behind the connector
// HTTP protocol, served from this process, and each command building its own token layer as a separate run
// would. init-token and two kms-import ceremonies (an AES key, a P-256 key pair), then: the audit lists
// every object of the device (LIST OBJECTS, GET OBJECT INFO), authentication keys included, and finds it
// clean; destroy-key deletes the key pair and the device, asked again, holds nothing with its id or label;
// later ceremonies naming it are refused with the date; a key generated outside any ceremony, an
// authentication key put outside (only the device list shows it) and a recorded key deleted outside are each
// found; then
// rotate-custodians changes both authentication keys in place, and the device, asked on sessions of the
// test's own, opens with the PINs the new shares rebuild and refuses the old ones; the app's token host
// process answers the same device list; every bundle verifies.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteObject, putAuthenticationKey } from '../../hsm/yubihsm/commands.js';
import { capabilities, ObjectType } from '../../hsm/yubihsm/constants.js';
import { YubiHsm } from '../../hsm/yubihsm/session.js';
import type { RoutingTokenLayer } from '../../hsm/yubihsm/token-layer-routing.js';
import { combineShares, derivePins, openShareFile, wipe } from '../../src-main/ceremony/quorum/index.js';
import { auditTokenCommand } from '../../src-main/cli/audit-token-command.js';
import { destroyKeyCommand } from '../../src-main/cli/destroy-key-command.js';
import { initTokenCommand } from '../../src-main/cli/init-token-command.js';
import { kmsImportCommand } from '../../src-main/cli/kms-import-command.js';
import { runCli } from '../../src-main/cli/main.js';
import { HostTokenLayer } from '../../src-main/hsm-host/host-token-layer.js';
import { rotateCustodiansCommand } from '../../src-main/cli/rotate-custodians-command.js';
import { createTokenLayer } from '../../src-main/tokens/token-layer.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { ARN, kmsLikeKey } from '../fixtures/kms/harness.js';
import { buildHsmHost } from '../helpers/hsm-host.js';
import { startConnectorServer, type ConnectorServer } from '../yubihsm-sim/http-server.js';
import { SimulatorTransport, YubiHsmSimulator } from '../yubihsm-sim/index.js';

const SERIAL = 7272727;
const pass = { alice: 'alice passphrase 1', bob: 'bob passphrase 22', carol: 'carol passphrase 333', dave: 'dave passphrase 4444', erin: 'erin passphrase 55555', frank: 'frank passphrase 666666' } as const;
const offline = () => ({ offline: true, interfaces: [], checkedAt: new Date().toISOString() });
const sim = new YubiHsmSimulator({ serial: SERIAL });
let server: ConnectorServer;
let module: string;
let work: string;
const bundles: string[] = [];

function io() {
  const o = { stdout: '', stderr: '' };
  return { o, out: { stdout: { write: (t: string) => (o.stdout += t) }, stderr: { write: (t: string) => (o.stderr += t) } } };
}

type Custodian = keyof typeof pass;
/** The share files that open the device now: init-token's, then rotate-custodians'. */
let custodians: { folder: string; who: [Custodian, Custodian]; id: string } = { folder: 'usb', who: ['alice', 'bob'], id: '' };
const shares = () => custodians.who.flatMap((c) => ['--share', `${join(work, custodians.folder, `${c}.share`)}:${join(work, 'secrets', c)}`]);
const common = () => ['--module', module, '--slot', String(SERIAL), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), ...shares()];

interface AuditJson {
  status: string;
  audit: { clean: boolean; objects: number; findings: string[] } | null;
  bundle: { path: string } | null;
}

async function audit(): Promise<AuditJson & { code: number; stderr: string }> {
  const { o, out } = io();
  const code = await auditTokenCommand([...common(), '--json'], out, { airGap: offline });
  const res = JSON.parse(o.stdout) as AuditJson;
  if (res.bundle) bundles.push(res.bundle.path);
  return { ...res, code, stderr: o.stderr };
}

/** The audit's result entry in its bundle: every object of the device, as recorded. */
async function auditEntry(bundle: string): Promise<{ objects: Record<string, unknown>[]; findings: { kind: string; message: string }[] }> {
  const lines = (await readFile(join(bundle, 'transcript.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: Record<string, unknown> });
  const result = lines.find((e) => e.kind === 'result' && e.data.action === 'audit-objects');
  return result?.data as never;
}

async function kmsImport(label: string, keySpec: string): Promise<void> {
  const params = join(work, 'stick', `${label}.json`);
  await writeFile(params, JSON.stringify({ KeyId: ARN, ImportToken: Buffer.from(`token-${label}`).toString('base64'), PublicKey: Buffer.from(kmsLikeKey(2048).spki).toString('base64'), ParametersValidTo: Date.now() / 1000 + 20 * 3600 }));
  const { o, out } = io();
  const code = await kmsImportCommand(
    ['--module', module, '--slot', String(SERIAL), '--params', params, '--wrapping-algorithm', 'RSA_AES_KEY_WRAP_SHA_256', '--key-spec', keySpec, '--key-label', label, '--out', join(work, 'kms-out'), '--bundle-out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json', ...shares()],
    out,
    { airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  bundles.push((JSON.parse(o.stdout) as { bundle: { path: string } }).bundle.path);
}

/** The PINs two share files rebuild, computed here from the files alone (the YubiHSM takes PINs of 1..255 characters). */
async function pinsOf(set: typeof custodians): Promise<{ userPin: string; soPin: string }> {
  const opened = await Promise.all(set.who.map(async (c) => openShareFile(await readFile(join(work, set.folder, `${c}.share`)), pass[c], { ceremonyId: set.id })));
  const secret = await combineShares(opened.map((x) => x.share), 2);
  try {
    return derivePins(secret, set.id, { minPinLength: 1, maxPinLength: 255 });
  } finally {
    wipe(secret);
  }
}

/** The test's own view of the device: another token layer on another transport, logged in with the user PIN the shares rebuild. */
async function withDevice<T>(fn: (layer: RoutingTokenLayer, session: string) => Promise<T>): Promise<T> {
  const { userPin } = await pinsOf(custodians);
  const layer = createTokenLayer(join(work, 'test-labels'), { transports: { 'yubihsm:test': () => [new SimulatorTransport(sim)] }, keepAliveMs: 0 });
  try {
    await layer.configureModules([{ path: 'yubihsm:test', source: 'user' }]);
    const [slot] = await layer.listSlots('yubihsm:test');
    const { session } = await layer.openSession({ moduleId: 'yubihsm:test', slotId: String(slot?.slotId) }, { readWrite: true });
    await layer.login(session, 'user', userPin);
    return await fn(layer, session);
  } finally {
    await layer.close();
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'kc-life-yubi-'));
  for (const d of ['usb', 'out', 'secrets', 'data', 'stick', 'kms-out', 'test-labels']) await mkdir(join(work, d));
  for (const [name, p] of Object.entries(pass)) await writeFile(join(work, 'secrets', name), `${p}\n`);
  server = await startConnectorServer({ device: sim });
  module = `yubihsm:${server.url}`;
  const { o, out } = io();
  const code = await initTokenCommand(
    [
      '--module', module, '--slot', String(SERIAL), '--token-label', 'life-yubi', '--custodians', 'alice,bob,carol', '--threshold', '2',
      '--shares-out', join(work, 'usb'), '--out', join(work, 'out'), '--witness', 'wendy', '--data-dir', join(work, 'data'), '--json',
      ...['alice', 'bob', 'carol'].flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
    ],
    out,
    { scrypt: { N: 2 ** 10, r: 8, p: 1 }, airGap: offline },
  );
  expect(o.stderr).toBe('');
  expect(code).toBe(0);
  const init = JSON.parse(o.stdout) as { ceremonyId: string; bundle: { path: string } };
  custodians.id = init.ceremonyId;
  bundles.push(init.bundle.path);
  await kmsImport('y-aes', 'SYMMETRIC_DEFAULT');
  await kmsImport('y-ec', 'ECC_NIST_P256');
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function verifiesAll(): Promise<void> {
  const report = await verifyBundles(bundles);
  expect(report.checks.filter((c) => c.status === 'fail')).toEqual([]);
  const { o, out } = io();
  expect(await runCli(['verify', ...bundles], out), o.stdout + o.stderr).toBe(0);
}

type DeviceRecord = { type: string; id: number; label: string; algorithm: string; capabilities: string[]; domains: number[]; origin: string; role: string };

/** The simulator's own store (not the driver's answer): type code, id, label of every object. */
const stored = () => sim.listObjectsForTest().map((o) => `${o.type}:${o.id}:${o.label}`).sort();
const TYPE_CODE: Record<string, number> = { opaque: ObjectType.OPAQUE, 'authentication-key': ObjectType.AUTHENTICATION_KEY, 'asymmetric-key': ObjectType.ASYMMETRIC_KEY, 'symmetric-key': ObjectType.SYMMETRIC_KEY, 'wrap-key': ObjectType.WRAP_KEY };

describe('keyceremony audit-token and destroy-key on a YubiHSM 2', () => {
  it('audits the device after its ceremonies: every object the device holds listed with its role, clean, recorded, verifiable', async () => {
    const r = await audit();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.audit).toMatchObject({ clean: true, findings: [] });
    const entry = (await auditEntry(r.bundle!.path)) as unknown as { deviceObjects: DeviceRecord[] };
    const listed = entry.deviceObjects;
    // Exactly what the simulator stores, no more and no less (the chain head was replaced since, at the
    // audit's own end: its id is the new object's).
    const noHeadId = (x: string) => x.replace(/^1:\d+:keyceremony-chain-head$/, '1:*:keyceremony-chain-head');
    expect(listed.map((o) => noHeadId(`${TYPE_CODE[o.type]}:${o.id}:${o.label}`)).sort()).toEqual(stored().map(noHeadId).sort());
    const by = (label: string) => listed.find((o) => o.label === label);
    expect(by('keyceremony-admin')).toMatchObject({ type: 'authentication-key', id: 2, algorithm: 'aes128-yubico-authentication', domains: [1] });
    expect(by('keyceremony-admin')?.role).toMatch(/^admin authentication key/);
    expect(by('keyceremony-operator')).toMatchObject({ type: 'authentication-key', id: 3, domains: [1] });
    expect(by('keyceremony-operator')?.capabilities).toContain('generate-asymmetric-key');
    expect(by('keyceremony-label')).toMatchObject({ type: 'opaque', role: 'token label (set by init-token)' });
    expect(by('keyceremony-audit')).toMatchObject({ type: 'asymmetric-key', role: 'audit key' });
    expect(by('keyceremony-chain-head')).toMatchObject({ type: 'opaque', role: 'chain head' });
    expect(by('y-aes')).toMatchObject({ type: 'symmetric-key', algorithm: 'aes256', origin: 'generated' });
    expect(by('y-aes')?.role).toMatch(/^key 'y-aes' \(generate-key, ceremony kms-import-/);
    expect(by('y-ec')).toMatchObject({ type: 'asymmetric-key', algorithm: 'ec-p256', origin: 'generated' });
    // Both recorded keys' check values were recomputed in the device and match.
    const recorded = (entry as unknown as { recordedKeys: { label: string; present: boolean; checkValue?: { matchesRecorded: boolean } }[] }).recordedKeys;
    expect(recorded.map((k) => [k.label, k.present, k.checkValue?.matchesRecorded]).sort()).toEqual([['y-aes', true, true], ['y-ec', true, true]]);
    // The device's own id of the AES key is the CKA_ID the ceremony recorded.
    const lines = (await Promise.all(bundles.map(async (b) => (await readFile(join(b, 'transcript.jsonl'), 'utf8')).trim().split('\n')))).flat().map((l) => JSON.parse(l) as { kind: string; data: { action?: string; key?: { label?: string; id?: string } } });
    const made = lines.find((e) => e.kind === 'result' && e.data.action === 'generate-key' && e.data.key?.label === 'y-aes');
    expect(parseInt(made?.data.key?.id ?? 'x', 16)).toBe(by('y-aes')?.id);
    await verifiesAll();
  });

  it('destroys the key pair with DELETE OBJECT, proves it gone, and a fresh session finds nothing by its id or label', async () => {
    const ec = sim.listObjectsForTest().find((o) => o.label === 'y-ec');
    expect(ec).toBeDefined();
    const { o, out } = io();
    const code = await destroyKeyCommand([...common(), '--key-label', 'y-ec', '--json'], out, { airGap: offline });
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const res = JSON.parse(o.stdout) as { status: string; destroyed: { label: string; keySpec: string; objects: number; gone: boolean; checkValue: string }; bundle: { path: string } };
    expect(res.destroyed).toMatchObject({ label: 'y-ec', keySpec: 'ECC_NIST_P256', objects: 2, gone: true });
    bundles.push(res.bundle.path);
    // The simulator's store no longer holds it, and the driver, asked afresh, answers nothing.
    expect(sim.inspectObject(ec!.id, ec!.type)).toBeUndefined();
    expect(stored().some((x) => x.endsWith(':y-ec'))).toBe(false);
    await withDevice(async (layer, session) => {
      expect(await layer.findAll(session, { label: 'y-ec' })).toEqual([]);
      expect(await layer.deviceObjects(session, { id: ec!.id })).toEqual([]);
      expect(await layer.deviceObjectAt(session, ec!.type, ec!.id)).toBeNull();
      expect(await layer.findAll(session, { label: 'y-aes' })).toHaveLength(1);
    });
    // The bundle records the device's own answers: LIST OBJECTS by id and by label empty, GET OBJECT INFO not found.
    const lines = (await readFile(join(res.bundle.path, 'transcript.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; data: Record<string, unknown> });
    const result = lines.find((e) => e.kind === 'result' && e.data.action === 'destroy-key');
    expect(result?.data.deviceGone).toEqual({ listedById: 0, listedByLabel: 0, objectInfo: [{ type: 'asymmetric-key', id: ec!.id, found: false }] });
    await verifiesAll();
  });

  it('refuses destroy-key naming the destroyed key again, with the date', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const again = io();
    expect(await destroyKeyCommand([...common(), '--key-label', 'y-ec'], again.out, { airGap: offline })).toBe(1);
    expect(again.o.stderr).toContain(`parameters.keyLabel: the key labelled 'y-ec' was destroyed on ${today}`);
  });

  it('audits clean after the destruction', async () => {
    const r = await audit();
    expect(r.code).toBe(0);
    expect(r.audit?.findings).toEqual([]);
  });

  it('finds a key generated outside any ceremony, and an authentication key only the device list shows', async () => {
    await withDevice((layer, session) =>
      layer.generateSecretKey(session, { type: 'AES', bits: 256 }, { label: 'intruder', id: Buffer.from('abcd', 'hex'), token: true, private: true, sensitive: true, extractable: true, encrypt: true, decrypt: true, wrap: false, unwrap: false, sign: false, verify: false, derive: false }),
    );
    const r = await audit();
    expect(r.code).toBe(1);
    expect(r.audit?.findings).toContain("SECRET_KEY (AES) 'intruder', CKA_ID abcd was made by no ceremony recorded in this token's transcript");
    expect(r.audit?.findings).toHaveLength(1);
    const entry = (await auditEntry(r.bundle!.path)) as unknown as { deviceObjects: DeviceRecord[] };
    expect(entry.deviceObjects.find((o) => o.label === 'intruder')).toMatchObject({ type: 'symmetric-key', id: 0xabcd, algorithm: 'aes256', role: 'not recorded by any ceremony' });
    // An authentication key put with the admin key (the SO PIN the shares rebuild): no PKCS#11 object shows it.
    const so = (await pinsOf(custodians)).soPin;
    const hsm = await YubiHsm.connect(new SimulatorTransport(sim));
    const admin = await hsm.openSession(2, so);
    try {
      await putAuthenticationKey(admin, { id: 0x0042, label: 'backdoor', domains: 1, capabilities: capabilities('GET_OPAQUE'), delegatedCapabilities: 0n, credential: 'open sesame' });
      await deleteObject(admin, 0xabcd, ObjectType.SYMMETRIC_KEY);
    } finally {
      await admin.close();
    }
    const r2 = await audit();
    expect(r2.code).toBe(1);
    expect(r2.audit?.findings).toEqual(["authentication-key 0x0042 'backdoor' (aes128-yubico-authentication), capabilities get-opaque, was made by no ceremony recorded in this token's transcript: whoever knows its password can open the device"]);
    const admin2 = await hsm.openSession(2, so);
    try {
      await deleteObject(admin2, 0x0042, ObjectType.AUTHENTICATION_KEY);
    } finally {
      await admin2.close();
    }
    expect((await audit()).code).toBe(0);
  });

  it('finds a recorded key deleted outside any ceremony', async () => {
    const aes = sim.listObjectsForTest().find((o) => o.label === 'y-aes');
    await withDevice((layer, session) => layer.destroyObject(session, `${aes!.type}:${aes!.id}`));
    const r = await audit();
    expect(r.code).toBe(1);
    expect(r.audit?.findings).toHaveLength(1);
    expect(r.audit?.findings[0]).toMatch(/^the key 'y-aes' \(SYMMETRIC_DEFAULT, made by generate-key of ceremony kms-import-\S+ on \d{4}-\d\d-\d\d, entry \d+\) is not in the token, and no destroy-key recorded its destruction$/);
    await verifiesAll();
  });

  it('rotate-custodians changes both authentication keys in place: the new shares open the device, the old ones are refused, and the audit with the new shares finds nothing new', async () => {
    const old = await pinsOf(custodians);
    await mkdir(join(work, 'usb2'));
    const { o, out } = io();
    const code = await rotateCustodiansCommand(
      [
        '--module', module, '--slot', String(SERIAL), '--witness', 'wendy', '--data-dir', join(work, 'data'), ...shares(), '--custodians', 'dave,erin,frank', '--threshold', '2',
        '--shares-out', join(work, 'usb2'), '--out', join(work, 'out'), '--json', ...['dave', 'erin', 'frank'].flatMap((c) => ['--passphrase-file', `${c}=${join(work, 'secrets', c)}`]),
      ],
      out,
      { airGap: offline, scrypt: { N: 2 ** 10, r: 8, p: 1 } },
    );
    expect(o.stderr).toBe('');
    expect(code).toBe(0);
    const res = JSON.parse(o.stdout) as { ceremonyId: string; rotation: { changed: string[]; oldSharesRefused: boolean }; bundle: { path: string } };
    expect(res.rotation).toMatchObject({ changed: ['user', 'so'], oldSharesRefused: true });
    bundles.push(res.bundle.path);
    custodians = { folder: 'usb2', who: ['dave', 'erin'], id: res.ceremonyId };
    const now = await pinsOf(custodians);
    expect(now.userPin).not.toBe(old.userPin);
    // The device itself, on sessions of the test's own: keys 2 (SO) and 3 (user) open with the PINs the new
    // shares rebuild and answer WRONG_PASSWORD to the old ones.
    const hsm = await YubiHsm.connect(new SimulatorTransport(sim));
    for (const [id, fresh, stale] of [[3, now.userPin, old.userPin], [2, now.soPin, old.soPin]] as const) {
      await (await hsm.openSession(id, fresh)).close();
      await expect(hsm.openSession(id, stale)).rejects.toMatchObject({ code: 'YUBIHSM_WRONG_PASSWORD' });
    }
    // Still the same two authentication keys (ids, labels), and the audit with the new shares finds only what
    // it found before the rotation (the key deleted outside, above).
    const r = await audit();
    expect(r.audit?.findings).toHaveLength(1);
    expect(r.audit?.findings[0]).toMatch(/^the key 'y-aes' .* is not in the token/);
    const entry = (await auditEntry(r.bundle!.path)) as unknown as { deviceObjects: DeviceRecord[] };
    expect(entry.deviceObjects.filter((d) => d.type === 'authentication-key').map((d) => [d.id, d.label])).toEqual([[2, 'keyceremony-admin'], [3, 'keyceremony-operator']]);
    await verifiesAll();
  });

  it("the app's token host process answers the device's own list (plain data across the process boundary)", async () => {
    const entry = await buildHsmHost('lifecycle-yubihsm');
    const layer = new HostTokenLayer({ dataDir: join(work, 'host-data'), entry });
    try {
      await layer.configureModules([{ path: module, source: 'user' }]);
      const [slot] = await layer.listSlots(module);
      const { session } = await layer.openSession({ moduleId: module, slotId: String(slot?.slotId) }, { readWrite: true });
      await layer.login(session, 'user', (await pinsOf(custodians)).userPin);
      const listed = (await layer.deviceObjects(session)) ?? [];
      expect(listed.map((o) => `${o.typeCode}:${o.id}:${o.label}`).sort()).toEqual(stored());
      expect(listed.find((o) => o.id === 3 && o.type === 'authentication-key')?.handles).toEqual([]);
      expect(await layer.deviceObjectAt(session, ObjectType.AUTHENTICATION_KEY, 0x0042)).toBeNull();
      await layer.logout(session);
    } finally {
      await layer.close();
    }
  }, 120_000);
});
