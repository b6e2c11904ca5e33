// The token host process on a real SoftHSM token: every call goes through HostTokenLayer to a forked host
// (the built host-main.ts), which runs the real token layer. Checked: the KMS core flow end to end with an
// independent unwrap (openssl), bytes arriving as Uint8Array, a token error keeping code and remedy (the same
// as the in-process layer gives), the host killed with SIGKILL during an RSA-4096 key generation (every
// pending call rejected with HOST_EXITED naming the signal, old sessions refused, the next call served by a
// fresh host with the same modules), the host refusing an unknown method and non-plain arguments, and close()
// ending the host with exit code 0.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenError } from '../../hsm/errors.js';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { SlotRef } from '../../hsm/types.js';
import { HostTokenLayer } from '../../src-main/hsm-host/host-token-layer.js';
import { SOFTHSM_MODULE, createSoftHsmEnv, initSoftHsmToken, type SoftHsmEnv } from '../helpers/softhsm.js';
import { buildHsmHost } from '../helpers/hsm-host.js';
import { checkRecovered, independentUnwrap, kmsLikeKey, runFlow } from '../fixtures/kms/harness.js';

const USER_PIN = '12345678';
let env: SoftHsmEnv;
let entry: string;
let dataDir: string;
let out: string;
let layer: HostTokenLayer;
let slot: SlotRef;

const rejection = <T>(p: Promise<T>) => p.then(() => undefined, (e: unknown) => e);
const rsa4096 = { type: 'RSA', bits: 4096 } as const;
const pub = (label: string) => ({ label, id: new Uint8Array([9]), token: false, encrypt: false, verify: true, wrap: false });
const priv = (label: string) => ({ label, id: new Uint8Array([9]), token: false, private: true, sensitive: true, extractable: false, decrypt: false, sign: true, unwrap: false, derive: false });

beforeAll(async () => {
  env = createSoftHsmEnv();
  const slotId = initSoftHsmToken('host', '87654321', USER_PIN);
  slot = { moduleId: SOFTHSM_MODULE, slotId };
  entry = await buildHsmHost('test');
  dataDir = mkdtempSync(join(tmpdir(), 'kc-host-data-'));
  out = mkdtempSync(join(tmpdir(), 'kc-host-out-'));
  layer = new HostTokenLayer({ dataDir, entry });
});

afterAll(async () => {
  await layer?.close();
  env?.cleanup();
  for (const d of [dataDir, out]) if (d) rmSync(d, { recursive: true, force: true });
});

describe('HostTokenLayer over a forked token host', () => {
  it('configures SoftHSM, opens and logs in, and runs the KMS flow whose output openssl unwraps', async () => {
    expect(layer.hostPid).toBeUndefined(); // forked lazily
    const [status] = await layer.configureModules([{ path: SOFTHSM_MODULE }]);
    expect(status).toMatchObject({ id: SOFTHSM_MODULE, loaded: true });
    expect(layer.hostPid).toBeGreaterThan(0);
    expect(layer.hostPid).not.toBe(process.pid);
    const slots = await layer.listSlots(SOFTHSM_MODULE);
    expect(slots.find((s) => s.slotId === slot.slotId)?.token?.label.trim()).toBe('host');
    const opened = await layer.openSession(slot, { readWrite: true });
    try {
      await layer.login(opened.session, 'user', USER_PIN);
      const random = await layer.random(opened.session, 16);
      expect(random).toBeInstanceOf(Uint8Array);
      expect(random.length).toBe(16);
      const kms = kmsLikeKey(2048);
      const r = await runFlow(layer, slot, opened.session, kms, 'RSAES_OAEP_SHA_1', 'SYMMETRIC_DEFAULT', out);
      expect(r.key.idHex).toMatch(/^[0-9a-f]+$/);
      checkRecovered('SYMMETRIC_DEFAULT', independentUnwrap(kms, 'RSAES_OAEP_SHA_1', r.encrypted), r.checkValue);
    } finally {
      await layer.closeSession(opened.session);
    }
  });

  it('a wrong PIN arrives as the TokenError the in-process layer gives: code, message and remedy', async () => {
    const opened = await layer.openSession(slot, { readWrite: false });
    const viaHost = await rejection(layer.login(opened.session, 'user', '00000000'));
    await layer.closeSession(opened.session);
    const local = new Pkcs11TokenLayer();
    try {
      await local.configureModules([{ path: SOFTHSM_MODULE }]);
      const s = await local.openSession(slot, { readWrite: false });
      const inProcess = (await rejection(local.login(s.session, 'user', '00000000'))) as TokenError;
      expect(viaHost).toBeInstanceOf(TokenError);
      expect(inProcess.code).toBe('CKR_PIN_INCORRECT');
      expect((viaHost as TokenError).toData()).toEqual(inProcess.toData());
      expect((viaHost as TokenError).remedy).toBeTruthy();
    } finally {
      await local.close();
    }
  });

  it('SIGKILL during an RSA-4096 generation rejects every pending call with HOST_EXITED, and a fresh host serves the next call', async () => {
    const opened = await layer.openSession(slot, { readWrite: true });
    await layer.login(opened.session, 'user', USER_PIN);
    const killedPid = layer.hostPid as number;
    // Kill while the generation is still running; if this machine finished it first, try again.
    let results: unknown[] | undefined;
    for (let attempt = 0; attempt < 3 && !results; attempt++) {
      let settled = false;
      const keygen = rejection(layer.generateKeyPair(opened.session, rsa4096, pub('k'), priv('k'))).finally(() => (settled = true));
      const queued = rejection(layer.listSlots(SOFTHSM_MODULE));
      await new Promise((r) => setTimeout(r, 150));
      if (settled) {
        console.warn(`RSA-4096 generation ended within 150 ms (attempt ${attempt + 1}); generating again to kill it while it runs`);
        await queued;
        continue;
      }
      process.kill(killedPid, 'SIGKILL');
      results = await Promise.all([keygen, queued]);
    }
    expect(results, 'an RSA-4096 generation always ended before the kill').toBeDefined();
    const [keygenError, queuedError] = results as [TokenError, TokenError];
    expect(keygenError).toBeInstanceOf(TokenError);
    expect(keygenError.code).toBe('HOST_EXITED');
    expect(keygenError.message).toBe('The token host process stopped (signal SIGKILL) while generateKeyPair was running: the token may need to be reconnected.');
    expect(keygenError.remedy).toMatch(/press Retry/);
    // The call queued behind it was pending too, and says which call it was.
    expect(queuedError).toBeInstanceOf(TokenError);
    expect(queuedError.message).toMatch(/^The token host process stopped \(signal SIGKILL\) while listSlots was running/);
    expect(layer.hostPid).toBeUndefined();

    // The session died with its host.
    const stale = (await rejection(layer.random(opened.session, 8))) as TokenError;
    expect(stale).toBeInstanceOf(TokenError);
    expect(stale.code).toBe('SESSION_UNKNOWN');
    expect(stale.message).toMatch(/is not open/);

    // The next call forks a fresh host, configured with the same modules.
    const slots = await layer.listSlots(SOFTHSM_MODULE);
    expect(slots.some((s) => s.slotId === slot.slotId)).toBe(true);
    expect(layer.hostPid).toBeGreaterThan(0);
    expect(layer.hostPid).not.toBe(killedPid);
    const again = await layer.openSession(slot, { readWrite: true });
    try {
      await layer.login(again.session, 'user', USER_PIN);
      const kp = await layer.generateKeyPair(again.session, { type: 'EC', curve: 'P-256' }, pub('after'), priv('after'));
      expect((await layer.getAttributes(again.session, kp.publicKey, ['CKA_EC_POINT'])).CKA_EC_POINT).toBeInstanceOf(Uint8Array);
      // Nothing of the killed generation was kept: its keys were session objects of a session that is gone.
      expect(await layer.findAll(again.session, { label: 'k' })).toEqual([]);
    } finally {
      await layer.closeSession(again.session);
    }
  });

  it('close() ends the host cleanly (exit code 0) and the next call forks a new one', async () => {
    await layer.listModules();
    const pid = layer.hostPid as number;
    const child = (layer as unknown as { host: { child: ChildProcess } }).host.child;
    const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    await layer.close();
    expect(await exit).toBe(0);
    expect(layer.hostPid).toBeUndefined();
    // Closed means no modules any more, as with the in-process layer.
    expect(await layer.listModules()).toEqual([]);
    expect(layer.hostPid).not.toBe(pid);
  });
});

describe('the token host refuses what is not a TokenLayer call', () => {
  let child: ChildProcess;
  const replies = new Map<number, unknown>();
  const waiters = new Map<number, (r: unknown) => void>();
  const ask = (message: Record<string, unknown> & { id: number }) =>
    new Promise<unknown>((resolve) => {
      waiters.set(message.id, resolve);
      child.send(message);
    });

  beforeAll(() => {
    child = fork(entry, [dataDir], { serialization: 'advanced', execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m: { id: number }) => {
      replies.set(m.id, m);
      waiters.get(m.id)?.(m);
    });
  });

  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('answers unknown or inherited method names, wrong arity and non-plain arguments with an error, and runs nothing', async () => {
    expect(await ask({ id: 1, method: 'eval', args: ['process.exit(3)'] })).toEqual({
      id: 1,
      ok: false,
      error: { kind: 'token', code: 'HOST_UNKNOWN_METHOD', message: 'The token host has no method "eval".' },
    });
    for (const [id, method] of [[2, 'constructor'], [3, '__proto__'], [4, 'close'], [5, 'toString'], [6, 'deviceLog']] as const) {
      expect(await ask({ id, method, args: [] })).toMatchObject({ id, ok: false, error: { code: 'HOST_UNKNOWN_METHOD' } });
    }
    expect(await ask({ id: 7, method: 'listSlots', args: [new Map([['a', 1]])] })).toMatchObject({
      ok: false,
      error: { code: 'HOST_BAD_REQUEST', message: 'The token host received listSlots with args[0] that is not plain data.' },
    });
    expect(await ask({ id: 8, method: 'login', args: ['s', 'user', { toString: new Date() }] })).toMatchObject({ ok: false, error: { code: 'HOST_BAD_REQUEST' } });
    expect(await ask({ id: 9, method: 'listModules', args: [1, 2] })).toMatchObject({ ok: false, error: { code: 'HOST_BAD_REQUEST' } });
    expect(await ask({ id: 10, method: 'listModules', args: 'x' })).toMatchObject({ ok: false, error: { code: 'HOST_BAD_REQUEST' } });
    // Still alive and serving.
    expect(await ask({ id: 11, method: 'listModules', args: [] })).toEqual({ id: 11, ok: true, value: [] });
    const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.disconnect();
    expect(await exit).toBe(0);
  });
});
