// The audit key and the chain head on a real SoftHSM token; signatures checked with openssl and node:crypto.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import { AUDIT_KEY_LABEL, TokenAuditSigner } from '../../src-main/transcript/token-signer.js';
import { CHAIN_HEAD_LABEL, compareChainHead, readChainHead, writeChainHead } from '../../src-main/transcript/chain-head.js';
import { exportFromStore } from '../../src-main/transcript/export.js';
import { verifyAuditSignature } from '../../src-main/transcript/signer.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';
import { verifyBundles } from '../../src-main/transcript/verify.js';
import { spkiToPem } from '../../src-main/transcript/ecdsa.js';
import { SOFTHSM_MODULE, createSoftHsmEnv, initSoftHsmToken, type SoftHsmEnv } from '../helpers/softhsm.js';

const SO_PIN = '87654321';
const USER_PIN = '12345678';
let env: SoftHsmEnv;
let layer: Pkcs11TokenLayer;
let session: string;
let token: { manufacturer: string; model: string; serial: string; label: string };
let dir: string;

beforeAll(async () => {
  env = createSoftHsmEnv();
  initSoftHsmToken('audit-test', SO_PIN, USER_PIN);
  initSoftHsmToken('weak-test', SO_PIN, USER_PIN);
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([{ path: SOFTHSM_MODULE, source: 'default' }]);
  const opened = await layer.openSession({ uri: 'pkcs11:token=audit-test' }, { readWrite: true });
  session = opened.session;
  token = { manufacturer: opened.token.manufacturer, model: opened.token.model, serial: opened.token.serial, label: opened.token.label };
  await layer.login(session, 'user', USER_PIN);
  dir = await mkdtemp(join(tmpdir(), 'kc-token-transcript-'));
});
afterAll(async () => {
  await layer?.close();
  env?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('audit key in the token', () => {
  let signer: TokenAuditSigner;
  it('generates a P-384 sign-only, sensitive, non-extractable, local key pair and signs DER ECDSA-SHA384', async () => {
    signer = await TokenAuditSigner.generate(layer, session);
    const attrs = await layer.getAttributes(session, signer.privateKey, ['CKA_LOCAL', 'CKA_SENSITIVE', 'CKA_EXTRACTABLE', 'CKA_SIGN', 'CKA_DECRYPT', 'CKA_LABEL', 'CKA_TOKEN']);
    expect(attrs).toMatchObject({ CKA_LOCAL: true, CKA_SENSITIVE: true, CKA_EXTRACTABLE: false, CKA_SIGN: true, CKA_DECRYPT: false, CKA_LABEL: AUDIT_KEY_LABEL, CKA_TOKEN: true });
    const data = Buffer.from('transcript bytes\n');
    const sig = await signer.sign(data);
    expect(sig[0]).toBe(0x30);
    expect(verifyAuditSignature(signer.spkiDer(), data, sig)).toBe(true);
  });

  it('refuses a second audit key, and reopens the existing one with the same public key', async () => {
    await expect(TokenAuditSigner.generate(layer, session)).rejects.toThrow(`The token already holds 2 object(s) labelled '${AUDIT_KEY_LABEL}'; a token has one audit key for its lifetime.`);
    const again = await TokenAuditSigner.open(layer, session);
    expect(Buffer.from(again.spkiDer()).equals(Buffer.from(signer.spkiDer()))).toBe(true);
  });

  it('refuses an audit key that is extractable or not sensitive (re-read from the token)', async () => {
    const weak = await layer.openSession({ uri: 'pkcs11:token=weak-test' }, { readWrite: true });
    await layer.login(weak.session, 'user', USER_PIN);
    await layer.generateKeyPair(
      weak.session,
      { type: 'EC', curve: 'P-384' },
      { label: AUDIT_KEY_LABEL, id: new Uint8Array([9]), token: true, encrypt: false, verify: true, wrap: false },
      { label: AUDIT_KEY_LABEL, id: new Uint8Array([9]), token: true, private: true, sensitive: false, extractable: true, decrypt: false, sign: true, unwrap: false, derive: false },
    );
    await expect(TokenAuditSigner.open(layer, weak.session)).rejects.toThrow(
      'The audit key in the token is not acceptable: CKA_SENSITIVE is false, expected true: it must be sensitive; CKA_ALWAYS_SENSITIVE is false, expected true: it must always have been sensitive; CKA_EXTRACTABLE is true, expected false: it must not be extractable; CKA_NEVER_EXTRACTABLE is false, expected true: it must never have been extractable.',
    );
    await layer.closeSession(weak.session);
  });

  it('signs an exported bundle that openssl verifies, and anchors the chain head on the token', async () => {
    const { store } = await TranscriptStore.open(join(dir, 'store'));
    await store.appendGenesis('c1', 'administrator', token, signer.spkiDer());
    await store.append({ ceremonyId: 'c1', step: 'generate', kind: 'intent', actor: 'administrator', data: { label: 'k' } });
    await store.append({ ceremonyId: 'c1', step: 'generate', kind: 'result', actor: 'token', data: { ok: true } });
    const out = join(dir, 'usb');
    await mkdir(out);
    const bundle = await exportFromStore(store, signer, { parentDir: out, range: { ceremonyId: 'c1' }, appVersion: '0.1.0' });
    const ossl = spawnSync('openssl', ['dgst', '-sha384', '-verify', 'audit-public-key.pem', '-signature', 'transcript.jsonl.sig', 'transcript.jsonl'], { cwd: bundle.path, encoding: 'utf8' });
    expect(ossl.stdout.trim()).toBe('Verified OK');
    expect(await readFile(join(bundle.path, 'audit-public-key.pem'), 'utf8')).toBe(spkiToPem(signer.spkiDer()));
    expect((await verifyBundles([bundle.path], { expectAuditKeyPem: spkiToPem(signer.spkiDer()) })).ok).toBe(true);

    expect(await readChainHead(layer, session)).toBeNull();
    expect(compareChainHead(null, store).status).toBe('token-empty');
    const head = store.head() as { seq: number; hash: string };
    await writeChainHead(layer, session, { seq: head.seq, hash: head.hash });
    expect(await readChainHead(layer, session)).toEqual({ seq: 2, hash: head.hash });
    expect(compareChainHead(await readChainHead(layer, session), store)).toEqual({ status: 'equal', message: `The local transcript and the token agree: head seq 2 (${head.hash.slice(0, 16)}…).` });

    await store.append({ ceremonyId: 'c2', step: 'wrap', kind: 'intent', actor: 'administrator', data: {} });
    expect(compareChainHead(await readChainHead(layer, session), store).status).toBe('store-ahead');
    const h3 = store.head() as { seq: number; hash: string };
    await writeChainHead(layer, session, { seq: h3.seq, hash: h3.hash });
    expect(await layer.findAll(session, { label: CHAIN_HEAD_LABEL, class: 'DATA' })).toHaveLength(1);
    await expect(writeChainHead(layer, session, { seq: 1, hash: head.hash })).rejects.toThrow("Refusing to move the token's chain head back from seq 3 to seq 1.");

    // Another laptop's copy that saw only the first ceremony is behind the token.
    const journal = (await readFile(join(dir, 'store', 'journal.jsonl'), 'utf8')).split('\n');
    await mkdir(join(dir, 'behind'));
    await writeFile(join(dir, 'behind', 'journal.jsonl'), `${journal.slice(0, 3).join('\n')}\n`);
    const { store: behind } = await TranscriptStore.open(join(dir, 'behind'));
    expect(compareChainHead(await readChainHead(layer, session), behind)).toMatchObject({ status: 'store-behind', missing: { first: 3, last: 3 } });
    await behind.close();
    // A store with its own history of the same length has diverged.
    const { store: other } = await TranscriptStore.open(join(dir, 'other'));
    for (const e of store.entries(0, 3)) await other.append({ ceremonyId: e.ceremonyId, step: e.step, kind: e.kind, actor: e.actor, data: { ...e.data, elsewhere: true } });
    expect(compareChainHead(await readChainHead(layer, session), other).status).toBe('diverged');
    await other.close();
    await store.close();
  });

  it('the chain head object is private: invisible without login', async () => {
    const s2 = await layer.openSession({ uri: 'pkcs11:token=audit-test' }, { readWrite: false });
    // Sessions share the login state of the application; log out to look as a stranger would.
    await layer.logout(session);
    expect(await readChainHead(layer, s2.session)).toBeNull();
    await layer.login(session, 'user', USER_PIN);
    expect(await readChainHead(layer, s2.session)).not.toBeNull();
    await layer.closeSession(s2.session);
  });
});

