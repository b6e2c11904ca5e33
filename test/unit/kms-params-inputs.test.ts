// Import parameters a hostile or careless hand may bring: ARNs of partitions that do not exist or with a
// Region of another partition, JSON with a member twice, dates that do not exist. Each refusal is compared
// in full (message and remedy); each warning the room must hear is listed with its exact words.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src-main/errors.js';
import { finishImportParameters, parseCliJson, parseConsoleFiles, parseKeyRef } from '../../src-main/kms/params/index.js';
import { findDuplicateMember } from '../../src-main/util/json-duplicates.js';

const spki = new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' }));
const token = new Uint8Array(600).fill(0xc3);
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const ARN = `arn:aws:kms:eu-west-1:111122223333:key/${KEY_ID}`;
const NOW = new Date('2026-11-29T12:00:00Z');
const now = () => NOW;
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const CLI_REMEDY = 'Run `aws kms get-parameters-for-import --key-id <key ARN> --wrapping-algorithm <algorithm> --wrapping-key-spec RSA_4096 --output json > params.json` again and bring that file unchanged.';
const COPY_AGAIN = 'Copy the key ARN again from the KMS console or the AWS CLI output.';

const json = (over: Record<string, unknown> = {}) => JSON.stringify({ KeyId: ARN, ImportToken: b64(token), PublicKey: b64(spki), ParametersValidTo: '2026-11-30T10:00:00Z', ...over });

function caught(f: () => unknown): { code: string; message: string; remedy: string | undefined } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    const a = e as AppError;
    return { code: a.code, message: a.message, remedy: a.remedy };
  }
  throw new Error('expected an AppError');
}

describe('partitions and Regions', () => {
  const accepted: [string, string][] = [
    ['aws', 'us-east-1'],
    ['aws', 'mx-central-1'],
    ['aws-cn', 'cn-northwest-1'],
    ['aws-us-gov', 'us-gov-west-1'],
    ['aws-iso', 'us-iso-east-1'],
    ['aws-iso-b', 'us-isob-east-1'],
    ['aws-iso-e', 'eu-isoe-west-1'],
    ['aws-iso-f', 'us-isof-south-1'],
    ['aws-eusc', 'eusc-de-east-1'],
  ];
  it.each(accepted)('accepts %s with %s, split for the room', (partition, region) => {
    const arn = `arn:${partition}:kms:${region}:111122223333:key/${KEY_ID}`;
    expect(parseKeyRef(arn, 'KeyId')).toEqual({ keyArn: arn, keyId: KEY_ID, partition, region, account: '111122223333', bare: false });
  });

  const PARTITIONS = 'aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc';
  const refused: [string, string, string][] = [
    ['an invented partition', 'aws-evil-corp:kms:eu-west-1', `names partition aws-evil-corp, which is not an AWS partition (${PARTITIONS}).`],
    ['a partition that is not aws at all', 'azure:kms:eu-west-1', `names partition azure, which is not an AWS partition (${PARTITIONS}).`],
    ['a name every object has', 'constructor:kms:eu-west-1', `names partition constructor, which is not an AWS partition (${PARTITIONS}).`],
    ['a China Region in aws', 'aws:kms:cn-north-1', 'names Region cn-north-1, which is not a Region of partition aws (us-east-1, eu-west-1, ap-southeast-2, ...).'],
    ['a GovCloud Region in aws', 'aws:kms:us-gov-west-1', 'names Region us-gov-west-1, which is not a Region of partition aws (us-east-1, eu-west-1, ap-southeast-2, ...).'],
    ['a commercial Region in aws-cn', 'aws-cn:kms:eu-west-1', 'names Region eu-west-1, which is not a Region of partition aws-cn (cn-north-1, cn-northwest-1).'],
    ['a commercial Region in aws-us-gov', 'aws-us-gov:kms:us-east-1', 'names Region us-east-1, which is not a Region of partition aws-us-gov (us-gov-west-1, us-gov-east-1).'],
    ['an ISO-B Region in aws-iso', 'aws-iso:kms:us-isob-east-1', 'names Region us-isob-east-1, which is not a Region of partition aws-iso (us-iso-east-1, us-iso-west-1).'],
    ['an ISO Region in aws-iso-b', 'aws-iso-b:kms:us-iso-east-1', 'names Region us-iso-east-1, which is not a Region of partition aws-iso-b (us-isob-east-1).'],
    ['a commercial Region in aws-iso-e', 'aws-iso-e:kms:eu-west-1', 'names Region eu-west-1, which is not a Region of partition aws-iso-e (eu-isoe-west-1).'],
    ['an ISO Region in aws-iso-f', 'aws-iso-f:kms:us-iso-east-1', 'names Region us-iso-east-1, which is not a Region of partition aws-iso-f (us-isof-east-1, us-isof-south-1).'],
    ['a commercial Region in aws-eusc', 'aws-eusc:kms:eu-central-1', 'names Region eu-central-1, which is not a Region of partition aws-eusc (eusc-de-east-1).'],
    ['a Region with no number', 'aws:kms:eu-west-x', 'names Region eu-west-x, which is not a Region of partition aws (us-east-1, eu-west-1, ap-southeast-2, ...).'],
    ['an invented area', 'aws:kms:xx-west-1', 'names Region xx-west-1, which is not a Region of partition aws (us-east-1, eu-west-1, ap-southeast-2, ...).'],
  ];
  it.each(refused)('refuses %s', (_name, middle, tail) => {
    const arn = `arn:${middle}:111122223333:key/${KEY_ID}`;
    expect(caught(() => parseKeyRef(arn, 'KeyId in p.json'))).toEqual({ code: 'KMS_PARAMS_INVALID', message: `KeyId in p.json ${JSON.stringify(arn)} ${tail}`, remedy: COPY_AGAIN });
  });

  it('refuses the ARN the room types as strictly as the one in the file', () => {
    const raw = parseCliJson(json({ KeyId: KEY_ID }), 'p.json');
    const e = caught(() => finishImportParameters(raw, { wrappingAlgorithm: 'RSAES_OAEP_SHA_1', now, keyRef: `arn:aws-evil-corp:kms:eu-west-1:111122223333:key/${KEY_ID}` }));
    expect(e.message).toBe(`keyArn "arn:aws-evil-corp:kms:eu-west-1:111122223333:key/${KEY_ID}" names partition aws-evil-corp, which is not an AWS partition (${PARTITIONS}).`);
  });
});

describe('a JSON member twice', () => {
  const cases: [string, string, string][] = [
    ['KeyId twice at the top', `{"KeyId":"${ARN}","ImportToken":"${b64(token)}","PublicKey":"${b64(spki)}","ParametersValidTo":1,"KeyId":"arn:aws:kms:eu-west-1:444455556666:key/${KEY_ID}"}`, 'p.json has the member "KeyId" twice; it must say one thing.'],
    ['a name spelt with an escape', `{"KeyId":"${ARN}","Key\\u0049d":"x"}`, 'p.json has the member "KeyId" twice; it must say one thing.'],
    ['twice in a nested object', `${json().slice(0, -1)},"Extra":{"a":{"b":1,"b":2}}}`, 'p.json has the member "b" twice in Extra.a; it must say one thing.'],
    ['twice in an object in an array', `${json().slice(0, -1)},"Tags":[{"k":1},{"k":1,"k":2}]}`, 'p.json has the member "k" twice in Tags[1]; it must say one thing.'],
  ];
  it.each(cases)('refuses %s', (_name, text, message) => {
    expect(caught(() => parseCliJson(text, 'p.json'))).toEqual({ code: 'KMS_PARAMS_INVALID', message, remedy: CLI_REMEDY });
  });

  it('tells names from values, and the same name in sibling objects is no duplicate', () => {
    expect(findDuplicateMember('{"a":"a","b":["a","a"],"c":{"a":1},"d":{"a":{"a":"\\"a"}},"e":"}{,"}')).toBeUndefined();
    expect(findDuplicateMember('[{"a":1},{"a":2}]')).toBeUndefined();
    expect(findDuplicateMember('[{"a":1},{"x":[1,{"a":1,"a":1}]}]')).toEqual({ name: 'a', where: '[1].x[1]' });
  });
});

describe('dates that do not exist', () => {
  const cases: [string, string][] = [
    ['2026-02-30T10:00:00Z', 'February 2026 has 28 days, not 30'],
    ['2026-02-29T10:00:00Z', 'February 2026 has 28 days, not 29'],
    ['2026-04-31T10:00:00Z', 'April 2026 has 30 days, not 31'],
    ['2026-11-00T10:00:00Z', 'November 2026 has 30 days, not 0'],
    ['2026-13-01T10:00:00Z', 'there is no month 13'],
    ['2026-00-10T10:00:00Z', 'there is no month 00'],
    ['2026-11-30T24:00:00Z', 'there is no hour 24 (hours run from 00 to 23)'],
    ['2026-11-30T10:60:00Z', 'there is no minute 60'],
    ['2026-11-30T10:00:60Z', 'there is no second 60'],
    ['2026-11-30T10:00:00+15:00', 'the time zone offset +15:00 does not exist (offsets run from -12:00 to +14:00)'],
    ['2026-11-30T10:00:00-12:30', 'the time zone offset -12:30 does not exist (offsets run from -12:00 to +14:00)'],
    ['2026-11-30T10:00:00+01:60', 'the time zone offset +01:60 does not exist (offsets run from -12:00 to +14:00)'],
  ];
  it.each(cases)('refuses %s', (time, problem) => {
    expect(caught(() => parseCliJson(json({ ParametersValidTo: time }), 'p.json'))).toEqual({
      code: 'KMS_PARAMS_INVALID',
      message: `ParametersValidTo in p.json ${JSON.stringify(time)} is not a real time: ${problem}.`,
      remedy: CLI_REMEDY,
    });
  });

  it('refuses an impossible date the room types for a console download', () => {
    const raw = parseConsoleFiles([{ name: 'WrappingPublicKey.bin', data: spki }, { name: 'ImportToken.bin', data: token }], 'console-folder', '/media/stick');
    expect(caught(() => finishImportParameters(raw, { wrappingAlgorithm: 'RSAES_OAEP_SHA_1', now, keyRef: ARN, validTo: '2026-11-31T10:00:00Z' })).message).toBe(
      'validTo "2026-11-31T10:00:00Z" is not a real time: November 2026 has 30 days, not 31.',
    );
  });

  const real: [string, string][] = [
    ['2028-02-29T10:00:00Z', '2028-02-29T10:00:00.000Z'],
    ['2026-11-30T10:00:00.123456+14:00', '2026-11-29T20:00:00.123Z'],
    ['2026-11-30 09:30-0530', '2026-11-30T15:00:00.000Z'],
    ['2026-11-30T10:00:00.5-12:00', '2026-11-30T22:00:00.500Z'],
  ];
  it.each(real)('reads %s as %s', (time, iso) => {
    expect(parseCliJson(json({ ParametersValidTo: time }), 'p.json').validTo?.iso).toBe(iso);
  });
});

describe('warnings the room must hear', () => {
  it('lists each in its own words', () => {
    const cases: [string, () => string[], string[]][] = [
      ['a bare key id', () => finishImportParameters(parseCliJson(json({ KeyId: KEY_ID }), 'p.json'), { wrappingAlgorithm: 'RSAES_OAEP_SHA_1', now }).warnings, [
        `Only the key id ${KEY_ID} is known, not its account and Region: confirm them in the KMS console.`,
      ]],
      ['validity beyond 25 hours', () => finishImportParameters(parseCliJson(json({ ParametersValidTo: '2026-12-01T12:00:00Z' }), 'p.json'), { wrappingAlgorithm: 'RSAES_OAEP_SHA_1', now }).warnings, [
        "The parameters claim to be valid until 2026-12-01T12:00:00.000Z, more than 25 hours from now, but AWS issues them for 24 hours: check the laptop's clock and that the file is the one AWS printed.",
      ]],
      ['several ARNs in the README', () => {
        const other = `arn:aws:kms:eu-west-1:444455556666:key/${KEY_ID}`;
        const raw = parseConsoleFiles([{ name: 'WrappingPublicKey.bin', data: spki }, { name: 'ImportToken.bin', data: token }, { name: 'README.txt', data: new TextEncoder().encode(`${ARN}\n${other}\n`) }], 'console-folder', '/media/stick');
        return finishImportParameters(raw, { wrappingAlgorithm: 'RSAES_OAEP_SHA_1', now, keyRef: ARN, validTo: '2026-11-30T10:00:00Z' }).warnings;
      }, [`/media/stick: the README mentions several key ARNs (${ARN}, arn:aws:kms:eu-west-1:444455556666:key/${KEY_ID}); none was taken.`]],
    ];
    for (const [name, run, warnings] of cases) expect(run(), name).toEqual(warnings);
  });
});
