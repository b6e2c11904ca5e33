// Import parameter readers and validation: every input form a user may bring, and every refusal with its
// exact message (the field or file, and the remedy).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { AppError } from '../../src-main/errors.js';
import { finishImportParameters, parseCliJson, parseConsoleFiles, readImportParameters, readZipEntries } from '../../src-main/kms/params/index.js';
import { checkAlgorithmForKeySpec, parseWrappingAlgorithm } from '../../src-main/kms/rules.js';

const spkiOf = (k: { publicKey: import('node:crypto').KeyObject }) => new Uint8Array(k.publicKey.export({ format: 'der', type: 'spki' }));
const rsa2048 = spkiOf(generateKeyPairSync('rsa', { modulusLength: 2048 }));
const rsa3072 = spkiOf(generateKeyPairSync('rsa', { modulusLength: 3072 }));
const rsa1024 = spkiOf(generateKeyPairSync('rsa', { modulusLength: 1024 }));
const rsaE3 = spkiOf(generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }));
const ec = spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }));
const token = new Uint8Array(Array.from({ length: 700 }, (_, i) => (i * 7 + 3) & 0xff));

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const NOW = new Date('2026-11-29T12:00:00Z');
const now = () => NOW;
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const pem = (b: Uint8Array) => `-----BEGIN PUBLIC KEY-----\n${b64(b).replace(/(.{64})/g, '$1\n')}\n-----END PUBLIC KEY-----\n`;

function cliJson(over: Record<string, unknown> = {}): string {
  return JSON.stringify({ KeyId: ARN, ImportToken: b64(token), PublicKey: b64(rsa2048), ParametersValidTo: NOW.getTime() / 1000 + 23 * 3600, ...over }, null, 4);
}

function caught(f: () => unknown): AppError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected an AppError');
}

async function rejected(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected an AppError');
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-kms-params-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('AWS CLI JSON', () => {
  it('v1: ParametersValidTo as epoch seconds; the ARN split for the room', () => {
    const p = finishImportParameters(parseCliJson(cliJson(), 'params.json'), { wrappingAlgorithm: 'RSAES_OAEP_SHA_256', now });
    expect(p).toMatchObject({
      keyArn: ARN,
      keyId: KEY_ID,
      partition: 'aws',
      region: 'eu-west-1',
      account: '111122223333',
      wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
      wrappingKeySpec: 'RSA_2048',
      validTo: '2026-11-30T11:00:00.000Z',
      warnings: [],
      source: { kind: 'aws-cli-json', publicKeyEncoding: 'base64', importTokenEncoding: 'base64' },
    });
    expect(Buffer.from(p.publicKeySpkiDer)).toEqual(Buffer.from(rsa2048));
    expect(Buffer.from(p.importToken)).toEqual(Buffer.from(token));
  });

  it('v2: ParametersValidTo as ISO 8601 with a zone; RSA_3072', () => {
    const raw = parseCliJson(cliJson({ ParametersValidTo: '2026-11-30T11:30:00.123000+00:00', PublicKey: b64(rsa3072) }), 'p.json');
    const p = finishImportParameters(raw, { wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', keySpec: 'RSA_2048', now });
    expect(p.validTo).toBe('2026-11-30T11:30:00.123Z');
    expect(p.wrappingKeySpec).toBe('RSA_3072');
  });

  it('warns below 2 hours left, and about fields it does not use', () => {
    const raw = parseCliJson(cliJson({ ParametersValidTo: '2026-11-29T13:15:00Z', Extra: 1 }), 'p.json');
    expect(finishImportParameters(raw, { wrappingAlgorithm: 'RSAES_OAEP_SHA_1', now }).warnings).toEqual([
      'p.json has fields this application does not use: Extra.',
      'The parameters expire at 2026-11-29T13:15:00.000Z, in 1 h 15 min: finish the wrap and the import before then.',
    ]);
  });

  const parseCases: [string, string, string, string][] = [
    ['not JSON', '{', 'p.json is not valid JSON (', 'Run `aws kms get-parameters-for-import'],
    ['an array', '[]', 'p.json is not a JSON object.', 'Run `aws kms'],
    ['no PublicKey', cliJson({ PublicKey: undefined }), 'PublicKey in p.json is missing.', 'Run `aws kms'],
    ['bad base64', cliJson({ ImportToken: 'AAA*' }), 'ImportToken in p.json is not valid base64.', 'Copy the value again'],
    ['validTo without a zone', cliJson({ ParametersValidTo: '2026-11-30T11:00:00' }), 'ParametersValidTo in p.json "2026-11-30T11:00:00" is not an ISO 8601 time with a time zone.', 'Run `aws kms'],
    ['validTo in milliseconds', cliJson({ ParametersValidTo: 1764500000000 }), 'ParametersValidTo in p.json 1764500000000 is not a time in seconds since 1970.', 'Run `aws kms'],
  ];
  it.each(parseCases)('refuses %s', (_n, text, message, remedy) => {
    const e = caught(() => parseCliJson(text, 'p.json'));
    expect(e.code).toBe('KMS_PARAMS_INVALID');
    expect(e.message.startsWith(message)).toBe(true);
    expect(e.remedy?.startsWith(remedy)).toBe(true);
  });

  const KEY_REMEDY = 'Use the wrapping public key from the same GetParametersForImport response as the import token; request new parameters with WrappingKeySpec RSA_2048, RSA_3072 or RSA_4096.';
  const validateCases: [string, Record<string, unknown>, Record<string, unknown>, string, string][] = [
    ['expired', { ParametersValidTo: '2026-11-29T10:30:00Z' }, {}, 'ParametersValidTo in p.json: the parameters expired at 2026-11-29T10:30:00.000Z (1 h 30 min ago).', 'Download new import parameters for the key (they are valid for 24 hours) and load them again.'],
    ['RSA-1024', { PublicKey: b64(rsa1024) }, {}, 'PublicKey in p.json is RSA-1024; AWS KMS wrapping keys are RSA-2048, RSA-3072 or RSA-4096.', KEY_REMEDY],
    ['e = 3', { PublicKey: b64(rsaE3) }, {}, 'PublicKey in p.json has public exponent 3; AWS KMS wrapping keys use 65537.', KEY_REMEDY],
    ['an EC key', { PublicKey: b64(ec) }, {}, 'PublicKey in p.json holds a EC key; AWS KMS wrapping keys are RSA.', KEY_REMEDY],
    ['truncated DER', { PublicKey: b64(rsa2048.subarray(0, 200)) }, {}, 'PublicKey in p.json is not a DER SubjectPublicKeyInfo (truncated or not a public key).', KEY_REMEDY],
    ['trailing bytes', { PublicKey: b64(new Uint8Array([...rsa2048, 0])) }, {}, 'PublicKey in p.json has bytes after (or around) the SubjectPublicKeyInfo, or a non-canonical encoding.', KEY_REMEDY],
    ['an empty token', { ImportToken: '' }, {}, 'ImportToken in p.json is not valid base64.', 'Copy the value again exactly as the AWS CLI printed it, without quotes or line breaks in the middle of characters.'],
    ['a token over 6144 bytes', { ImportToken: b64(new Uint8Array(6145)) }, {}, 'ImportToken in p.json is 6145 bytes; an AWS KMS import token is at most 6144.', 'Check that the right file was chosen as the import token (not a zip or a key); download the parameters again if in doubt.'],
    ['RSAES_PKCS1_V1_5', {}, { wrappingAlgorithm: 'RSAES_PKCS1_V1_5' }, 'wrappingAlgorithm RSAES_PKCS1_V1_5 is retired: AWS KMS no longer accepts it for importing key material.', 'Request new import parameters with one of RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256.'],
    ['SM2PKE', {}, { wrappingAlgorithm: 'SM2PKE' }, 'wrappingAlgorithm SM2PKE (China Regions only) is not supported by this application.', 'Request new import parameters with one of RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256.'],
    ['an unknown algorithm', {}, { wrappingAlgorithm: 'AES' }, 'wrappingAlgorithm "AES" is not an AWS KMS wrapping algorithm.', 'Use one of RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256.'],
    ['an RSA key under OAEP', {}, { keySpec: 'RSA_2048' }, 'wrappingAlgorithm RSAES_OAEP_SHA_256 cannot carry key spec RSA_2048: AWS KMS imports RSA private keys only with RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256.', 'Request new import parameters with RSA_AES_KEY_WRAP_SHA_256 (or RSA_AES_KEY_WRAP_SHA_1).'],
    ['P-521 under OAEP with RSA_2048', {}, { keySpec: 'ECC_NIST_P521' }, 'wrappingAlgorithm RSAES_OAEP_SHA_256 with wrapping key spec RSA_2048 cannot carry key spec ECC_NIST_P521: AWS KMS does not allow this combination.', 'Request new import parameters with an RSA_3072 or RSA_4096 wrapping key, or with RSA_AES_KEY_WRAP_SHA_256.'],
    ['an alias', { KeyId: 'alias/prod' }, {}, 'KeyId in p.json "alias/prod" is an alias, not a key.', 'Give the key ARN (…:key/<key id>), so the room confirms the exact key the material goes into.'],
    ['a malformed ARN', { KeyId: 'arn:aws:kms:eu-west-1:1111:key/x' }, {}, 'KeyId in p.json "arn:aws:kms:eu-west-1:1111:key/x" is neither a KMS key ARN nor a key id.', 'Give the key ARN as arn:<partition>:kms:<region>:<12-digit account>:key/<key id>, or the bare key id (a UUID or mrk-…).'],
    ['a different key than the room named', {}, { keyRef: 'arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef' }, 'keyArn names key mrk-0123456789abcdef0123456789abcdef but KeyId in p.json names key 1234abcd-12ab-34cd-56ef-1234567890ab.', 'Use the parameters downloaded for the key you mean to import into, or correct the key ARN.'],
  ];
  it.each(validateCases)('refuses %s', (_n, over, opts, message, remedy) => {
    const e = caught(() => finishImportParameters(parseCliJson(cliJson(over), 'p.json'), { wrappingAlgorithm: 'RSAES_OAEP_SHA_256', now, ...opts }));
    expect({ code: e.code, message: e.message, remedy: e.remedy }).toEqual({ code: e.code === 'KMS_RULE' ? 'KMS_RULE' : 'KMS_PARAMS_INVALID', message, remedy });
  });

  it('accepts a bare key id, flagged', () => {
    const p = finishImportParameters(parseCliJson(cliJson({ KeyId: KEY_ID }), 'p.json'), { wrappingAlgorithm: 'RSAES_OAEP_SHA_1', now });
    expect(p.keyArn).toBeUndefined();
    expect(p.keyId).toBe(KEY_ID);
    expect(p.warnings).toEqual([`Only the key id ${KEY_ID} is known, not its account and Region: confirm them in the KMS console.`]);
  });
});

describe('algorithm and key spec rules', () => {
  const ok: [string, string, string][] = [
    ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSA_2048'],
    ['HMAC_512', 'RSAES_OAEP_SHA_256', 'RSA_2048'],
    ['ECC_NIST_P521', 'RSAES_OAEP_SHA_256', 'RSA_3072'],
    ['ECC_NIST_P521', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_2048'],
    ['RSA_4096', 'RSA_AES_KEY_WRAP_SHA_256', 'RSA_2048'],
    ['ECC_SECG_P256K1', 'RSAES_OAEP_SHA_1', 'RSA_2048'],
  ];
  it.each(ok)('%s with %s under %s is allowed', (spec, alg, wk) => {
    expect(() => checkAlgorithmForKeySpec(spec as never, alg as never, wk as never)).not.toThrow();
  });
  it.each([
    ['RSA_3072', 'RSAES_OAEP_SHA_1', 'RSA_4096'],
    ['ECC_NIST_P521', 'RSAES_OAEP_SHA_1', 'RSA_2048'],
  ])('%s with %s under %s is refused', (spec, alg, wk) => {
    expect(caught(() => checkAlgorithmForKeySpec(spec as never, alg as never, wk as never)).code).toBe('KMS_RULE');
  });
  it('names the field it was given', () => {
    expect(caught(() => parseWrappingAlgorithm(7, '--wrapping-algorithm')).message).toBe('--wrapping-algorithm 7 is not an AWS KMS wrapping algorithm.');
  });
});

describe('console download', () => {
  const files = (extra: Record<string, Uint8Array> = {}) => ({
    [`wrappingKey_${KEY_ID}_11291200`]: rsa2048,
    [`importToken_${KEY_ID}_11291200`]: token,
    'README.txt': new TextEncoder().encode('Parameters for import.\n'),
    ...extra,
  });
  const opts = { wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1', validTo: '2026-11-30T11:00:00Z', now };

  it('a zip: key id from the file names, flagged; validTo from the caller', async () => {
    const path = join(dir, 'download.zip');
    writeFileSync(path, zipSync(files()));
    const p = await readImportParameters({ path }, opts);
    expect(p).toMatchObject({ keyId: KEY_ID, wrappingKeySpec: 'RSA_2048', validTo: '2026-11-30T11:00:00.000Z', source: { kind: 'console-zip', publicKeyEncoding: 'der', importTokenEncoding: 'binary' } });
    expect(p.keyArn).toBeUndefined();
    expect(Buffer.from(p.importToken)).toEqual(Buffer.from(token));
  });

  it('a zip in a folder of its own, with the ARN in the README and new-style names', async () => {
    const path = join(dir, 'nested.zip');
    writeFileSync(path, zipSync({ 'kms-params/WrappingPublicKey.bin': rsa2048, 'kms-params/ImportToken.bin': token, 'kms-params/README.txt': new TextEncoder().encode(`Key: ${ARN}\n`) }));
    const p = await readImportParameters({ path }, opts);
    expect(p).toMatchObject({ keyArn: ARN, region: 'eu-west-1', account: '111122223333', warnings: [] });
  });

  it('a folder; the caller supplies the ARN', async () => {
    const d = join(dir, 'folder');
    mkdirSync(d);
    writeFileSync(join(d, 'WrappingPublicKey.bin'), rsa2048);
    writeFileSync(join(d, 'ImportToken.bin'), token);
    writeFileSync(join(d, 'unrelated.iso'), new Uint8Array(10));
    const p = await readImportParameters({ path: d }, { ...opts, keyRef: ARN });
    expect(p).toMatchObject({ keyArn: ARN, source: { kind: 'console-folder', publicKeyFrom: join(d, 'WrappingPublicKey.bin') } });
  });

  it('the CLI JSON file itself, and a file that is neither JSON nor zip', async () => {
    writeFileSync(join(dir, 'params.json'), cliJson());
    expect((await readImportParameters({ path: join(dir, 'params.json') }, { wrappingAlgorithm: 'RSAES_OAEP_SHA_256', now })).keyArn).toBe(ARN);
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    const e = await rejected(readImportParameters({ path: join(dir, 'notes.txt') }, opts));
    expect(e.message).toBe(`${join(dir, 'notes.txt')} is neither the JSON printed by get-parameters-for-import nor a console zip.`);
    writeFileSync(join(dir, 'big.bin'), new Uint8Array(1024 * 1024 + 1));
    const big = await rejected(readImportParameters({ path: join(dir, 'big.bin') }, opts));
    expect([big.message, big.remedy]).toEqual([
      `${join(dir, 'big.bin')} is ${1024 * 1024 + 1} bytes; an import parameters file is at most 256 KiB (262144 bytes).`,
      'Choose the parameters themselves (a few KB): params.json from `aws kms get-parameters-for-import --output json`, the console zip, or the folder holding WrappingPublicKey.bin and ImportToken.bin.',
    ]);
    // Not a zip, so it is held to the JSON's cap.
    writeFileSync(join(dir, 'long.json'), cliJson({ Padding: 'x'.repeat(70 * 1024) }));
    expect((await rejected(readImportParameters({ path: join(dir, 'long.json') }, opts))).message).toMatch(/^\/.*long\.json is \d+ bytes; an import parameters JSON file is at most 64 KiB \(65536 bytes\)\.$/);
    expect((await rejected(readImportParameters({ path: '/dev/zero' }, opts))).message).toBe(
      '/dev/zero is a character device, not a regular file; an import parameters file is a regular file of at most 256 KiB (262144 bytes).',
    );
    expect((await rejected(readImportParameters({ path: join(dir, 'missing.json') }, opts))).message).toBe(`${join(dir, 'missing.json')} cannot be read (ENOENT).`);
  });

  it('a folder with the CLI JSON in it', async () => {
    const d = join(dir, 'json-folder');
    mkdirSync(d);
    writeFileSync(join(d, 'params.json'), cliJson());
    const p = await readImportParameters({ path: d }, { wrappingAlgorithm: 'RSAES_OAEP_SHA_1', now });
    expect(p).toMatchObject({ keyArn: ARN, source: { kind: 'aws-cli-json' } });
  });

  it('PEM and base64 files, decoded and flagged', async () => {
    writeFileSync(join(dir, 'wrapping.pem'), pem(rsa2048));
    writeFileSync(join(dir, 'token.b64'), b64(token) + '\n');
    const p = await readImportParameters(
      { publicKeyPath: join(dir, 'wrapping.pem'), importTokenPath: join(dir, 'token.b64') },
      { ...opts, keyRef: ARN },
    );
    expect(Buffer.from(p.publicKeySpkiDer)).toEqual(Buffer.from(rsa2048));
    expect(Buffer.from(p.importToken)).toEqual(Buffer.from(token));
    expect(p.warnings).toEqual([`${join(dir, 'token.b64')} was base64 text and has been decoded.`, `${join(dir, 'wrapping.pem')} was PEM and has been decoded.`]);
  });

  it('refuses a folder with a symbolic link', async () => {
    const d = join(dir, 'linked');
    mkdirSync(d);
    writeFileSync(join(d, 'ImportToken.bin'), token);
    symlinkSync(join(dir, 'wrapping.pem'), join(d, 'WrappingPublicKey.bin'));
    const e = await rejected(readImportParameters({ path: d }, opts));
    expect([e.message, e.remedy]).toEqual([
      `${join(d, 'WrappingPublicKey.bin')} is a symbolic link, not a regular file; a wrapping public key or import token file is a regular file of at most 64 KiB (65536 bytes).`,
      'Copy the wrapping public key and import token files themselves (not links to them) from the console download.',
    ]);
  });

  it('refuses an empty file as the token', () => {
    const e = caught(() =>
      finishImportParameters(parseConsoleFiles([{ name: 'WrappingPublicKey.bin', data: rsa2048 }, { name: 'ImportToken.bin', data: new Uint8Array() }], 'console-folder', '/media/stick'), { ...opts, keyRef: ARN }),
    );
    expect([e.message, e.remedy]).toEqual(['/media/stick/ImportToken.bin is empty.', 'Bring the import token from the same GetParametersForImport response as the public key.']);
  });

  const consoleCases: [string, { name: string; data: Uint8Array }[], Record<string, unknown>, string, string][] = [
    [
      'two public keys',
      [{ name: 'WrappingPublicKey.bin', data: rsa2048 }, { name: `wrappingKey_${KEY_ID}_1`, data: rsa2048 }, { name: 'ImportToken.bin', data: token }],
      {},
      `/media/stick holds 2 candidate wrapping public key files: WrappingPublicKey.bin, wrappingKey_${KEY_ID}_1.`,
      'Keep only the files of one GetParametersForImport download in the folder (the token and key must come from the same request).',
    ],
    [
      'no token',
      [{ name: 'WrappingPublicKey.bin', data: rsa2048 }, { name: 'README.txt', data: new Uint8Array(1) }],
      {},
      '/media/stick holds no import token file (found: WrappingPublicKey.bin, README.txt).',
      'Bring the complete console download; the import token is ImportToken.bin (or importToken_<key id>_<time>).',
    ],
    [
      'no validTo',
      [{ name: 'WrappingPublicKey.bin', data: rsa2048 }, { name: 'ImportToken.bin', data: token }],
      { validTo: undefined, keyRef: ARN },
      'validTo is missing: /media/stick does not say until when the parameters are valid.',
      'Enter the expiry the KMS console showed when you downloaded them (24 hours after the download).',
    ],
    [
      'no key named anywhere',
      [{ name: 'WrappingPublicKey.bin', data: rsa2048 }, { name: 'ImportToken.bin', data: token }],
      {},
      'keyArn is missing: /media/stick does not say which KMS key the parameters belong to.',
      'Enter the key ARN shown in the KMS console for this key.',
    ],
    [
      'files for two keys',
      [{ name: `wrappingKey_${KEY_ID}_1`, data: rsa2048 }, { name: 'importToken_mrk-0123456789abcdef0123456789abcdef_1', data: token }],
      {},
      `/media/stick: wrappingKey_${KEY_ID}_1 and importToken_mrk-0123456789abcdef0123456789abcdef_1 name different keys.`,
      'The wrapping key and import token must come from the same download; download the parameters again.',
    ],
    [
      'a PEM private key as the public key',
      [{ name: 'WrappingPublicKey.pem', data: new TextEncoder().encode('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n') }, { name: 'ImportToken.bin', data: token }],
      {},
      '/media/stick/WrappingPublicKey.pem is a PEM "PRIVATE KEY", not a "PUBLIC KEY" (SubjectPublicKeyInfo).',
      'Use the wrapping public key from the import parameters; convert with `openssl pkey -pubin -inform DER -in WrappingPublicKey.bin -out key.pem` if needed.',
    ],
  ];
  it.each(consoleCases)('refuses %s', (_n, fs, over, message, remedy) => {
    const e = caught(() => finishImportParameters(parseConsoleFiles(fs, 'console-folder', '/media/stick'), { ...opts, ...over }));
    expect([e.code, e.message, e.remedy]).toEqual(['KMS_PARAMS_INVALID', message, remedy]);
  });
});

describe('hostile zips', () => {
  const ZIP_REMEDY = 'Use the zip exactly as the KMS console downloaded it, or unpack the wrapping key and import token into a folder and choose that.';
  function withSymlink(): Uint8Array {
    // fflate cannot mark a symlink: set the unix mode in the central directory entry by hand.
    const z = Buffer.from(zipSync({ 'ImportToken.bin': token, 'WrappingPublicKey.bin': [rsa2048, { os: 3, attrs: (0o120777 << 16) >>> 0 }] }));
    return new Uint8Array(z);
  }
  const cases: [string, () => Uint8Array, string][] = [
    ['a ../ entry', () => zipSync({ '../WrappingPublicKey.bin': rsa2048, 'ImportToken.bin': token }), 'd.zip: entry "../WrappingPublicKey.bin" climbs out of the folder with ...'],
    ['an absolute path', () => zipSync({ '/etc/ImportToken.bin': token }), 'd.zip: entry "/etc/ImportToken.bin" is an absolute path.'],
    ['an oversized entry', () => zipSync({ 'ImportToken.bin': new Uint8Array(64 * 1024 + 1) }), 'd.zip: entry "ImportToken.bin" is 65537 bytes uncompressed; an entry of a parameters download is at most 64 KiB (65536 bytes).'],
    ['too many entries', () => zipSync(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, new Uint8Array(1)]))), 'd.zip: has 33 entries; a parameters download has a few (limit 32).'],
    ['too much in total', () => zipSync(Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}`, new Uint8Array(60000)]))), 'd.zip: entries add up to more than 256 KiB (262144 bytes) uncompressed.'],
    ['a symbolic link', withSymlink, 'd.zip: entry "WrappingPublicKey.bin" is a symbolic link.'],
    ['not a zip', () => new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]), 'd.zip: is not a zip file (no end of central directory).'],
  ];
  it.each(cases)('refuses %s', (_n, make, message) => {
    const e = caught(() => readZipEntries(make(), 'd.zip'));
    expect([e.code, e.message, e.remedy]).toEqual(['KMS_PARAMS_INVALID', message, ZIP_REMEDY]);
  });

  /** A zip whose central directory entry is patched: `at` is the offset in that entry, `value` what is written. */
  function patched(files: Record<string, Uint8Array>, at: number, value: number, bytes: 2 | 4, level: 0 | 9 = 9): Uint8Array {
    const z = Buffer.from(zipSync(files, { level }));
    const cd = z.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    if (bytes === 2) z.writeUInt16LE(value, cd + at);
    else z.writeUInt32LE(value, cd + at);
    return new Uint8Array(z);
  }

  it('refuses an entry whose header understates its size, after inflating no more than it declared', () => {
    const e = caught(() => readZipEntries(patched({ 'ImportToken.bin': new Uint8Array(5000).fill(7) }, 24, 100, 4), 'd.zip'));
    expect([e.message, e.remedy]).toEqual(['d.zip: entry "ImportToken.bin" inflates to more than the 100 bytes its header declares.', ZIP_REMEDY]);
  });

  it('refuses a zip bomb: 100 MB of zeros in 100 KB, declared as 700 bytes, with memory bounded', () => {
    // One deflated entry, assembled by hand (zlib deflates 100 MB of zeros in half a second; fflate would take many).
    const name = Buffer.from('ImportToken.bin');
    const data = deflateRawSync(Buffer.alloc(100 * 1024 * 1024), { level: 9 });
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(700, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(700, 24);
    central.writeUInt16LE(name.length, 28);
    const cdOffset = local.length + name.length + data.length;
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(1, 8);
    eocd.writeUInt16LE(1, 10);
    eocd.writeUInt32LE(central.length + name.length, 12);
    eocd.writeUInt32LE(cdOffset, 16);
    const bomb = new Uint8Array(Buffer.concat([local, name, data, central, name, eocd]));
    expect(bomb.length).toBeLessThan(256 * 1024);
    const before = process.memoryUsage();
    const e = caught(() => readZipEntries(bomb, 'd.zip'));
    const after = process.memoryUsage();
    expect(e.message).toBe('d.zip: entry "ImportToken.bin" inflates to more than the 700 bytes its header declares.');
    // Inflating it whole would take 100 MB outside the V8 heap; zlib stopped after one chunk.
    expect(after.external + after.arrayBuffers - (before.external + before.arrayBuffers)).toBeLessThan(8 * 1024 * 1024);
  });


  it('refuses an encrypted entry and an unknown compression method', () => {
    expect(caught(() => readZipEntries(patched({ 'ImportToken.bin': token }, 8, 1, 2), 'd.zip')).message).toBe('d.zip: entry "ImportToken.bin" is encrypted; a parameters download is not.');
    expect(caught(() => readZipEntries(patched({ 'ImportToken.bin': token }, 10, 12, 2), 'd.zip')).message).toBe(
      'd.zip: entry "ImportToken.bin" uses compression method 12; a parameters download uses deflate (8) or none (0).',
    );
  });

  it('reads stored (uncompressed) entries', () => {
    const [e] = readZipEntries(zipSync({ 'ImportToken.bin': token }, { level: 0 }), 'd.zip');
    expect(Buffer.from(e!.data)).toEqual(Buffer.from(token));
  });

});
