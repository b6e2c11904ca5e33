// The shipped kms-rewrap script parses strictly, reuses kms-import's actions around its own find-key (which
// takes no input: the label comes from the parameters), and never generates a key.
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionImplementation } from '../../src-main/ceremony/actions/index.js';
import { loadScriptFile, resolveParameters } from '../../src-main/ceremony/script/index.js';
import { KMS_REWRAP_HELP } from '../../src-main/cli/kms-rewrap-command.js';

describe('ceremonies/kms-rewrap.yaml', () => {
  it('parses, uses enrolled custodians, finds the key instead of generating one', async () => {
    const loaded = await loadScriptFile(resolve('ceremonies/kms-rewrap.yaml'));
    expect(loaded.script.kind).toBe('kms-rewrap');
    expect(loaded.script.roles.custodians.source).toBe('enrolment');
    expect(loaded.script.steps.map((s) => s.action)).toEqual([
      'record-participants', 'check-airgap', 'select-token', 'load-import-parameters', 'quorum-login', 'find-key', 'wrap-key', 'export-wrapped-key', 'witness-sign-off', 'write-chain-head', 'export-bundle', 'logout',
    ]);
    for (const s of loaded.script.steps) expect(actionImplementation(s.action), s.action).toBeDefined();
    expect(actionImplementation('find-key')?.input.safeParse({}).success).toBe(true);
    expect(actionImplementation('find-key')?.input.safeParse({ label: 'x' }).success).toBe(false);
    expect(loaded.script.steps.find((s) => s.action === 'wrap-key')?.confirm?.word).toBe('WRAP');
    expect(resolveParameters(loaded.script, { keySpec: 'HMAC_256', keyLabel: 'k1', wrappingAlgorithm: 'RSAES_OAEP_SHA_256' })).toMatchObject({ keyLabel: 'k1' });
    expect(() => resolveParameters(loaded.script, { keySpec: 'SYMMETRIC_DEFAULT', keyLabel: '', wrappingAlgorithm: 'RSAES_OAEP_SHA_1' })).toThrow('parameters.keyLabel');
  });

  it('has help naming the command and kms-import\'s flags', () => {
    expect(KMS_REWRAP_HELP).toMatch(/^Usage: keyceremony kms-rewrap --module PATH/);
    for (const flag of ['--params FILE_OR_DIR', '--wrapping-algorithm ALG', '--key-label LABEL', '--share FILE[:PASSPHRASE_FILE]', '--bundle-out DIR']) expect(KMS_REWRAP_HELP).toContain(flag);
    expect(KMS_REWRAP_HELP).not.toContain('keyceremony kms-import');
  });
});
