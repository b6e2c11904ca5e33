// The shipped kms-import script parses strictly, every action it names is implemented, its custodians come
// from the enrolment, and the new actions' inputs are checked field by field.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionImplementation } from '../../src-main/ceremony/actions/index.js';
import { exportWrappedKeyInput, isNssSoftoken, loadImportParametersInput } from '../../src-main/ceremony/actions/kms-import.js';
import { inputProblem } from '../../src-main/ceremony/engine/run.js';
import { loadScriptFile, resolveParameters } from '../../src-main/ceremony/script/index.js';

describe('ceremonies/kms-import.yaml', () => {
  it('parses, uses enrolled custodians, and every action is implemented', async () => {
    const loaded = await loadScriptFile(resolve('ceremonies/kms-import.yaml'));
    expect(loaded.script.kind).toBe('kms-import');
    expect(loaded.script.roles.custodians.source).toBe('enrolment');
    expect(loaded.script.steps.map((s) => s.action)).toEqual([
      'record-participants', 'check-airgap', 'select-token', 'load-import-parameters', 'quorum-login', 'generate-key', 'wrap-key', 'export-wrapped-key', 'witness-sign-off', 'write-chain-head', 'export-bundle', 'logout',
    ]);
    for (const s of loaded.script.steps) expect(actionImplementation(s.action), s.action).toBeDefined();
    expect(loaded.script.steps.find((s) => s.action === 'generate-key')?.confirm?.word).toBe('GENERATE');
    expect(loaded.script.steps.find((s) => s.action === 'quorum-login')?.approvals).toBe('quorum');
  });

  it('checks its parameters', async () => {
    const loaded = await loadScriptFile(resolve('ceremonies/kms-import.yaml'));
    expect(resolveParameters(loaded.script, { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'k1', wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1' })).toMatchObject({ keySpec: 'SYMMETRIC_DEFAULT' });
    expect(() => resolveParameters(loaded.script, { keySpec: 'AES_128', keyLabel: 'k1', wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1' })).toThrow('parameters.keySpec');
    expect(() => resolveParameters(loaded.script, { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: 'k1', wrappingAlgorithm: 'RSAES_PKCS1_V1_5' })).toThrow('parameters.wrappingAlgorithm');
  });
});

describe('kms-import action inputs', () => {
  const problem = (schema: typeof loadImportParametersInput | typeof exportWrappedKeyInput, input: unknown) => {
    const r = schema.safeParse(input);
    return r.success ? undefined : inputProblem(r.error);
  };
  it.each([
    [{ wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }, 'input.path is missing'],
    [{ path: 'relative/params.json', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' }, 'input.path: must be the absolute path of a file or folder'],
    // The ceremony's wrapping algorithm is used when the input leaves it out (the app does, for gcp/azure/vault).
    [{ path: '/media/usb/p.json', cloud: 'ibm' }, 'input.cloud: must be one of aws, gcp, azure, vault'],
    [{ path: '/media/usb/p.json', wrappingAlgorithm: 'RSAES_OAEP_SHA_1', pin: '1' }, "input has unknown field 'pin'"],
  ])('load-import-parameters refuses %j: %s', (input, message) => {
    expect(problem(loadImportParametersInput, input)).toBe(message);
  });
  it('load-import-parameters accepts keyArn and validTo', () => {
    expect(problem(loadImportParametersInput, { path: '/m/p', wrappingAlgorithm: 'RSAES_OAEP_SHA_1', keyArn: 'arn:aws:kms:eu-west-1:111122223333:key/x', validTo: '2026-11-30T00:00:00Z' })).toBeUndefined();
  });
  it('export-wrapped-key takes an absolute folder and an optional plain name', () => {
    expect(problem(exportWrappedKeyInput, { destinationDir: '/media/usb' })).toBeUndefined();
    expect(problem(exportWrappedKeyInput, { destinationDir: '/media/usb', name: '../x' })).toBe('input.name: must be a plain folder name (letters, digits, dot, dash, underscore)');
    expect(problem(exportWrappedKeyInput, { destinationDir: 'usb' })).toBe('input.destinationDir: must be the absolute path of a folder');
  });
  it('waives CKA_LOCAL only for NSS softoken', () => {
    expect(isNssSoftoken('/usr/lib/x86_64-linux-gnu/libsoftokn3.so', undefined)).toBe(true);
    expect(isNssSoftoken('/usr/lib/softhsm/libsofthsm2.so', { manufacturer: 'SoftHSM project' } as never)).toBe(false);
  });
});
