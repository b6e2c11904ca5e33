// The exactness probe (src-main/kms/exactness.ts) on every token here, for every key spec and wrapping path
// the token can take: SoftHSM 2.6.1 before any login (it pads private keys' PKCS#8 to a multiple of 8 before
// RFC 5649, so P-256, P-521 and RSA are refused there; P-384 and secp256k1 encode to 80 and 64 bytes, so
// they pass), NSS softoken (exact), the
// YubiHSM simulator (it needs a login for everything: deferred before it, exact after). Each row printed
// is one cell of the compatibility matrix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { KmsWrappingAlgorithm, SlotRef } from '../../hsm/types.js';
import { YubiHsmTokenLayer } from '../../hsm/yubihsm/token-layer.js';
import { AppError } from '../../src-main/errors.js';
import { checkTokenCanWrap, type KmsKeySpec } from '../../src-main/kms/index.js';
import { EXPORT_NOT_EXACT, proveExactExport, type ExportProbe } from '../../src-main/kms/exactness.js';
import { SOFTHSM_MODULE, createSoftHsmEnv, initSoftHsmToken, type SoftHsmEnv } from '../helpers/softhsm.js';
import { NSS_DB_TOKEN_LABEL, createNssDb, type NssDb } from '../helpers/nss.js';
import { SimulatorTransport, YubiHsmSimulator } from '../yubihsm-sim/index.js';

function row(token: string, keySpec: string, algorithm: string, outcome: string): void {
  console.log(`matrix: ${token} | ${keySpec} | ${algorithm} | ${outcome}`);
}

async function outcome(run: () => Promise<ExportProbe>): Promise<ExportProbe | AppError> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
}

describe('exactness probe on SoftHSM 2.6.1, before any login', () => {
  let env: SoftHsmEnv;
  let layer: Pkcs11TokenLayer;
  let slot: SlotRef;
  beforeAll(async () => {
    env = createSoftHsmEnv();
    const slotId = initSoftHsmToken('exact-probe', '87654321', '12345678');
    layer = new Pkcs11TokenLayer();
    await layer.configureModules([{ path: SOFTHSM_MODULE }]);
    slot = { moduleId: SOFTHSM_MODULE, slotId };
  });
  afterAll(async () => {
    await layer?.close();
    env?.cleanup();
  });

  const refused: KmsKeySpec[] = ['ECC_NIST_P256', 'ECC_NIST_P521', 'RSA_2048'];
  it.each(refused)('%s with RSA_AES_KEY_WRAP_SHA_1 is refused, naming the token, the padding and the way out', async (keySpec) => {
    const capability = await checkTokenCanWrap(layer, slot, 'RSA_AES_KEY_WRAP_SHA_1');
    const r = await outcome(() => proveExactExport(layer, slot, { capability, keySpec, wrappingKeyBits: 2048 }));
    row('SoftHSM 2.6.1', keySpec, 'RSA_AES_KEY_WRAP_SHA_1', r instanceof AppError ? `refused: ${r.message}` : `exports: ${JSON.stringify(r)}`);
    expect(r).toBeInstanceOf(AppError);
    const e = r as AppError;
    expect(e.code).toBe(EXPORT_NOT_EXACT);
    expect(e.message).toMatch(
      /^The token "exact-probe" \(slot \d+, SoftHSM project SoftHSM v2\) pads the PKCS#8 of a private key with zero bytes to a multiple of 8 before its RFC 5649 wrap \(a throw-away key of this spec came back as (\d+) bytes of DER \+ ([1-7]) zero bytes = (\d+)\)\. AWS KMS/,
    );
    const [, der, pad, total] = /as (\d+) bytes of DER \+ (\d) zero bytes = (\d+)/.exec(e.message) as RegExpExecArray;
    expect(Number(der) + Number(pad)).toBe(Number(total));
    expect(Number(total) % 8).toBe(0);
    expect(e.remedy).toContain('Use a token that wraps private keys exactly (for example NSS softoken, or a YubiHSM 2)');
    // Nothing is left behind: not even a session object outlives the probe.
    const s = (await layer.openSession(slot, { readWrite: false })).session;
    expect(await layer.findAll(s, { label: 'kc-probe-export' })).toEqual([]);
    await layer.closeSession(s);
  });

  const exact: [KmsKeySpec, KmsWrappingAlgorithm][] = [
    ['ECC_NIST_P384', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['ECC_SECG_P256K1', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['SYMMETRIC_DEFAULT', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1'],
    ['HMAC_256', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['HMAC_512', 'RSAES_OAEP_SHA_1'],
  ];
  it.each(exact)('%s with %s passes, and the transcript record says why', async (keySpec, algorithm) => {
    const capability = await checkTokenCanWrap(layer, slot, algorithm);
    const r = await outcome(() => proveExactExport(layer, slot, { capability, keySpec, wrappingKeyBits: 2048 }));
    row('SoftHSM 2.6.1', keySpec, algorithm, r instanceof AppError ? `refused: ${r.message}` : `exports: ${r.ran ? r.conclusion : r.deferred}`);
    if (r instanceof AppError) throw r;
    expect(r.ran).toBe(true);
    if (!r.ran) return;
    expect(r.samples.every((s) => s.exact)).toBe(true);
    if (keySpec.startsWith('ECC_')) {
      const bytes = keySpec === 'ECC_NIST_P384' ? 80 : 64;
      expect(r.samples).toEqual([{ unwrapped: bytes, derLength: bytes, exact: true }]);
      expect(r.conclusion).toContain(`every ${keySpec} PKCS#8 from this token is ${bytes} bytes, a multiple of 8`);
    } else {
      const bytes = { SYMMETRIC_DEFAULT: 32, HMAC_256: 32, HMAC_512: 64 }[keySpec as 'SYMMETRIC_DEFAULT'];
      expect(r.samples).toEqual([{ unwrapped: bytes, exact: true }]);
    }
  });
});

describe('exactness probe on NSS softoken', () => {
  let nss: NssDb;
  let layer: Pkcs11TokenLayer;
  let slot: SlotRef;
  beforeAll(async () => {
    nss = createNssDb();
    layer = new Pkcs11TokenLayer();
    await layer.configureModules([nss.module]);
    const db = (await layer.listSlots(nss.module.path)).find((s) => s.token?.label === NSS_DB_TOKEN_LABEL);
    slot = { moduleId: nss.module.path, slotId: db?.slotId as string };
  });
  afterAll(async () => {
    await layer?.close();
    nss?.cleanup();
  });

  const cases: [KmsKeySpec, KmsWrappingAlgorithm][] = [
    ['ECC_NIST_P256', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['ECC_NIST_P384', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['ECC_NIST_P521', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['ECC_NIST_P256', 'RSAES_OAEP_SHA_256'],
    ['RSA_2048', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['SYMMETRIC_DEFAULT', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['HMAC_224', 'RSA_AES_KEY_WRAP_SHA_256'],
  ];
  it.each(cases)('%s with %s: exact', async (keySpec, algorithm) => {
    const capability = await checkTokenCanWrap(layer, slot, algorithm);
    const r = await outcome(() => proveExactExport(layer, slot, { capability, keySpec, wrappingKeyBits: 2048 }));
    row('NSS softoken 3.87', keySpec, algorithm, r instanceof AppError ? `refused: ${r.message}` : `exports: ${r.ran ? `${r.conclusion} (${r.samples.map((s) => s.unwrapped).join(', ')} bytes)` : r.deferred}`);
    if (r instanceof AppError) throw r;
    expect(r.ran).toBe(true);
    if (r.ran) expect(r.samples.at(-1)?.exact).toBe(true);
  });
});

describe('exactness probe on a YubiHSM 2 (simulator)', () => {
  const MODULE = 'yubihsm:sim';
  const sim = new YubiHsmSimulator({ serial: 7654399 });
  const layer = new YubiHsmTokenLayer({ transports: { [MODULE]: () => [new SimulatorTransport(sim)] }, keepAliveMs: 0 });
  const slot: SlotRef = { moduleId: MODULE, slotId: '7654399' };
  let session: string;
  beforeAll(async () => {
    await layer.configureModules([{ path: MODULE }]);
    await layer.initToken(slot, 'so-pin-exact', 'yubi-exact');
    session = (await layer.openSession(slot, { readWrite: true })).session;
    await layer.login(session, 'so', 'so-pin-exact');
    await layer.initUserPin(session, 'user-pin-exact');
    await layer.logout(session);
  });
  afterAll(async () => {
    await layer.close();
  });

  it('before the login the probe is deferred, with the reason', async () => {
    const capability = await checkTokenCanWrap(layer, slot, 'RSA_AES_KEY_WRAP_SHA_256');
    const r = await proveExactExport(layer, slot, { capability, keySpec: 'ECC_NIST_P256', wrappingKeyBits: 2048 });
    expect(r).toEqual({
      ran: false,
      keySpec: 'ECC_NIST_P256',
      algorithm: 'RSA_AES_KEY_WRAP_SHA_256',
      deferred: 'the token makes no throw-away ECC_NIST_P256 key before the login (CKR_USER_NOT_LOGGED_IN): probed again after the quorum login, before anything is generated',
    });
  });

  const cases: [KmsKeySpec, KmsWrappingAlgorithm][] = [
    ['ECC_NIST_P256', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['ECC_NIST_P521', 'RSA_AES_KEY_WRAP_SHA_1'],
    ['RSA_2048', 'RSA_AES_KEY_WRAP_SHA_256'],
    ['SYMMETRIC_DEFAULT', 'RSA_AES_KEY_WRAP_SHA_256'],
  ];
  it.each(cases)('after the login, %s with %s: exact (WRAP_KEY_RSA)', async (keySpec, algorithm) => {
    await layer.login(session, 'user', 'user-pin-exact').catch(() => undefined);
    const capability = await checkTokenCanWrap(layer, slot, algorithm);
    const r = await outcome(() => proveExactExport(layer, slot, { capability, keySpec, wrappingKeyBits: 2048, session }));
    row('YubiHSM 2 fw 2.4 (simulator)', keySpec, algorithm, r instanceof AppError ? `refused: ${r.message}` : `exports: ${r.ran ? `${r.conclusion} (${r.samples.map((s) => s.unwrapped).join(', ')} bytes)` : r.deferred}`);
    if (r instanceof AppError) throw r;
    expect(r.ran).toBe(true);
    if (r.ran) expect(r.samples.at(-1)?.exact).toBe(true);
    expect(await layer.findAll(session, { label: 'kc-probe-export' })).toEqual([]);
  });
});
