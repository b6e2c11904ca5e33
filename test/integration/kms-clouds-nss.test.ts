// The SHA-256 cloud formats on NSS softoken, which does RSA-OAEP with SHA-256 (SoftHSM 2.6.1 does SHA-1
// only): a Google import job with RSA_OAEP_3072_SHA256_AES_256 and with the direct RSA_OAEP_3072_SHA256,
// and Vault transit with hash_function=SHA256. Parameters are read by the cloud readers from files in each
// cloud's shape; the key is generated and wrapped in the token after the exactness probe, exported to the
// cloud's file, and unwrapped by Python `cryptography` with SHA-256; material is judged strictly and
// compared with the token's check value / public key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pkcs11TokenLayer } from '../../hsm/pkcs11/driver.js';
import type { SlotRef } from '../../hsm/types.js';
import { checkTokenCanGenerate, checkTokenCanWrap, computeCheckValue, exportImportBundle, generateKmsKey, wrapForKms, type KmsKeySpec } from '../../src-main/kms/index.js';
import { proveExactExport } from '../../src-main/kms/exactness.js';
import { readCloudImportParameters, type CloudParamsOptions } from '../../src-main/kms/params/cloud.js';
import { checkRecovered } from '../fixtures/kms/harness.js';
import { gcpJobJson, rsaPair, vaultWrappingKeyJson, type RsaPair } from '../helpers/cloud-fixtures.js';
import { pythonUnwrap } from '../helpers/cloud-unwrap.js';
import { NSS_DB_TOKEN_LABEL, NSS_SOFTOKEN_MODULE, createNssDb, type NssDb } from '../helpers/nss.js';

const NSS_WAIVER = { CKA_LOCAL: 'NSS softoken does not set CKA_LOCAL on generated keys' };
let nss: NssDb;
let layer: Pkcs11TokenLayer;
let slot: SlotRef;
let session: string;
let out: string;
let n = 0;

beforeAll(async () => {
  nss = createNssDb();
  layer = new Pkcs11TokenLayer();
  await layer.configureModules([nss.module]);
  const db = (await layer.listSlots(NSS_SOFTOKEN_MODULE)).find((s) => s.token?.label === NSS_DB_TOKEN_LABEL);
  slot = { moduleId: NSS_SOFTOKEN_MODULE, slotId: db?.slotId as string };
  session = (await layer.openSession(slot, { readWrite: true })).session;
  out = mkdtempSync(join(tmpdir(), 'kc-clouds-nss-'));
});

afterAll(async () => {
  await layer?.close();
  nss?.cleanup();
  if (out) rmSync(out, { recursive: true, force: true });
});

/** The ceremony's order on the core: parameters, can-wrap, can-generate, exactness, generate, check value, wrap, export. */
async function flow(o: Omit<CloudParamsOptions, 'path' | 'now'> & { text: string }) {
  const path = join(out, `params-${(n += 1)}`);
  writeFileSync(path, o.text);
  const params = await readCloudImportParameters({ ...o, path, now: () => new Date() });
  const capability = await checkTokenCanWrap(layer, slot, params.wrappingAlgorithm, o.keySpec);
  await checkTokenCanGenerate(layer, slot, o.keySpec, session);
  await proveExactExport(layer, slot, { capability, keySpec: o.keySpec, wrappingKeyBits: Number(params.wrappingKeySpec.slice(4)), session });
  const label = `cloud-${o.cloud}-${n}`;
  const key = await generateKmsKey(layer, session, o.keySpec, label, NSS_WAIVER);
  const checkValue = await computeCheckValue(layer, session, key);
  const wrap = await wrapForKms(layer, session, { capability, wrappingPublicKeySpkiDer: params.publicKeySpkiDer, key: key.handle });
  const bundle = await exportImportBundle({ parentDir: out, name: label, params, keySpec: o.keySpec, keyLabel: label, keyIdHex: key.idHex, checkValue, wrap, ceremonyId: 'ceremony-nss', createdAt: new Date(), generator: 'keyceremony test; NSS' });
  return { key, checkValue, bundle, params };
}

describe('SHA-256 cloud formats on NSS softoken', () => {
  const job3072: RsaPair = rsaPair(3072);
  const cases: [KmsKeySpec, string][] = [
    ['ECC_NIST_P256', 'RSA_OAEP_3072_SHA256_AES_256'],
    ['RSA_2048', 'RSA_OAEP_3072_SHA256_AES_256'],
    ['HMAC_256', 'RSA_OAEP_3072_SHA256'],
    ['SYMMETRIC_DEFAULT', 'RSA_OAEP_3072_SHA256'],
    ['ECC_NIST_P256', 'RSA_OAEP_3072_SHA256'],
  ];
  it.each(cases)('Google %s with %s: wrapped-key.bin unwraps (Python, SHA-256) to the token\'s material', async (keySpec, method) => {
    const wrappingAlgorithm = method.endsWith('_AES_256') ? 'RSA_AES_KEY_WRAP_SHA_256' : 'RSAES_OAEP_SHA_256';
    const r = await flow({ cloud: 'gcp', keySpec, wrappingAlgorithm, target: 'k1', text: gcpJobJson(job3072, { importMethod: method }) });
    const wrapped = readFileSync(join(r.bundle.dir, 'wrapped-key.bin'));
    if (!method.endsWith('_AES_256')) expect(wrapped.length).toBe(384);
    checkRecovered(keySpec, pythonUnwrap(job3072.privateKey, 'SHA256', wrapped, method.endsWith('_AES_256')), r.checkValue, r.key.publicKeySpkiDer);
    expect(r.bundle.manifest).toMatchObject({ cloud: 'gcp', method, wrappingAlgorithm });
  });

  it('Vault with hash_function=SHA256 (the default): ciphertext.b64 unwraps to the token\'s P-384 key', async () => {
    const v = rsaPair(4096);
    const r = await flow({ cloud: 'vault', keySpec: 'ECC_NIST_P384', wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', target: 'signer', text: vaultWrappingKeyJson(v) });
    const ct = Buffer.from(readFileSync(join(r.bundle.dir, 'ciphertext.b64'), 'utf8'), 'base64');
    checkRecovered('ECC_NIST_P384', pythonUnwrap(v.privateKey, 'SHA256', ct), r.checkValue, r.key.publicKeySpkiDer);
    expect(readFileSync(join(r.bundle.dir, 'IMPORT.md'), 'utf8')).toContain('vault write transit/keys/signer/import ciphertext=@ciphertext.b64 hash_function=SHA256 type=ecdsa-p384\n');
  });
});
