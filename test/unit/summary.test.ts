// The summary reader on records written by the real pre-genesis log and transcript store: a later ceremony
// found through its chain-attach record, entries of other ceremonies in the same chain left out, a repeated
// approval counted once, and a ceremony that never reached a chain.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chainDirOf } from '../../src-main/ceremony/actions/init-token.js';
import { PreGenesisLog } from '../../src-main/ceremony/engine/pre-genesis-log.js';
import { preGenesisPathOf } from '../../src-main/ceremony/engine/run.js';
import { ceremonySummary } from '../../src-main/ceremony/summary.js';
import { NodeAuditSigner } from '../../src-main/transcript/signer.js';
import { TranscriptStore } from '../../src-main/transcript/store.js';

const token = { manufacturer: 'SoftHSM project', model: 'SoftHSM v2', serial: '1234abcd', label: 'T1' };
let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'kc-summary-unit-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('ceremonySummary', () => {
  it('reads a later ceremony from its log and its entries in the chain it attached to', async () => {
    const enrolment = 'init-token-20260101T000000Z-aaaaaa';
    const id = 'kms-import-20260102T000000Z-bbbbbb';
    const { store } = await TranscriptStore.open(chainDirOf(dataDir, enrolment));
    await store.appendGenesis(enrolment, 'erin', token, NodeAuditSigner.generate().spkiDer());
    await store.append({ ceremonyId: enrolment, step: 'head', kind: 'approval', actor: 'alice', data: { custodian: 'alice' } });

    const log = await PreGenesisLog.create(preGenesisPathOf(dataDir, id));
    await log.append({ ceremonyId: id, step: 'start', kind: 'ceremony-start', actor: 'administrator', data: { rehearsal: true, chain: id } });
    await log.append({ ceremonyId: id, step: 'participants', kind: 'result', actor: 'erin', data: { action: 'record-participants', administrator: 'erin', witnesses: ['wendy'] } });
    await log.append({ ceremonyId: id, step: 'token', kind: 'chain-attach', actor: 'erin', data: { chain: enrolment } });
    await log.close();

    const entry = (step: string, kind: string, data: Record<string, unknown>, actor = 'erin') => store.append({ ceremonyId: id, step, kind, actor, data: data as never });
    await entry('token', 'result', { action: 'select-token', token: { ...token, initialized: true } });
    await entry('parameters', 'result', { action: 'load-import-parameters', keyArn: 'arn:aws:kms:eu-west-1:111122223333:key/k', keyId: 'k', region: 'eu-west-1', account: '111122223333', keySpec: 'HMAC_256', wrappingAlgorithm: 'RSAES_OAEP_SHA_256', wrappingKeySpec: 'RSA_3072', validTo: '2026-11-30T10:00:00.000Z', warnings: ['The parameters expire at 2026-11-30T10:00:00.000Z, in 1 h 00 min: finish the wrap and the import before then.'] });
    await entry('login', 'quorum-open', { threshold: 2 });
    await entry('login', 'approval', { custodian: 'bob' }, 'bob');
    await entry('login', 'approval-repeated', { custodian: 'bob' }, 'bob');
    await entry('login', 'approval', { custodian: 'bob' }, 'bob');
    await entry('login', 'approval', { custodian: 'carol' }, 'carol');
    await entry('generate', 'result', { action: 'generate-key', key: { keySpec: 'HMAC_256', label: 'mac-1' }, checkValue: { value: 'A1B2C3', method: 'HMAC-SHA256-ZERO-BLOCK', description: 'first 3 bytes' } });
    await entry('wrap', 'result', { action: 'wrap-key', method: 'CKM_RSA_PKCS_OAEP (SHA-256, MGF1-SHA-256)' });
    // Another ceremony writing to the same chain in between is not this one's.
    await store.append({ ceremonyId: 'other-ceremony', step: 'x', kind: 'witness-sign-off', actor: 'mallory', data: { witness: 'mallory' } });
    await entry('export-key', 'result', { action: 'export-wrapped-key', path: '/media/usb/kms-import-mac-1', files: [{ name: 'EncryptedKeyMaterial.bin', bytes: 384, sha256: 'e'.repeat(64) }] });
    await entry('sign-off', 'witness-sign-off', { witness: 'wendy', statement: 'Saw it.' }, 'wendy');
    const last = await entry('head', 'result', { action: 'write-chain-head', written: { seq: 12, hash: 'f'.repeat(64) } });
    await store.close();

    const s = await ceremonySummary(dataDir, id);
    expect(s).toEqual({
      ceremonyId: id,
      rehearsal: true,
      administrator: 'erin',
      witnesses: ['wendy'],
      token: { label: 'T1', serial: '1234abcd', model: 'SoftHSM v2', manufacturer: 'SoftHSM project' },
      key: {
        arn: 'arn:aws:kms:eu-west-1:111122223333:key/k',
        keyId: 'k',
        region: 'eu-west-1',
        account: '111122223333',
        keySpec: 'HMAC_256',
        label: 'mac-1',
        wrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        wrappingKeySpec: 'RSA_3072',
        wrapMethod: 'CKM_RSA_PKCS_OAEP (SHA-256, MGF1-SHA-256)',
        checkValue: { value: 'A1B2C3', method: 'HMAC-SHA256-ZERO-BLOCK', description: 'first 3 bytes' },
        validTo: '2026-11-30T10:00:00.000Z',
        warnings: ['The parameters expire at 2026-11-30T10:00:00.000Z, in 1 h 00 min: finish the wrap and the import before then.'],
      },
      files: [{ kind: 'kms-import', name: 'EncryptedKeyMaterial.bin', folder: '/media/usb/kms-import-mac-1', sha256: 'e'.repeat(64), bytes: 384 }],
      approvals: [{ step: 'login', threshold: 2, custodians: ['bob', 'carol'] }],
      signedOff: [{ witness: 'wendy', statement: 'Saw it.' }],
      head: { seq: last.seq, hash: last.hash },
      sealed: { seq: 12, hash: 'f'.repeat(64) },
    });
  });

  it('a ceremony that never reached its chain: the log alone, the head without a position', async () => {
    const id = 'init-token-20260103T000000Z-cccccc';
    const log = await PreGenesisLog.create(preGenesisPathOf(dataDir, id));
    await log.append({ ceremonyId: id, step: 'start', kind: 'ceremony-start', actor: 'administrator', data: { rehearsal: false, chain: id } });
    const r = await log.append({ ceremonyId: id, step: 'token', kind: 'result', actor: 'erin', data: { action: 'select-token', token: { ...token, initialized: true }, reinitialize: { reason: 'interrupted-attempt', interruptedCeremonyId: 'init-token-x', voidShares: ['alice'] } } });
    await log.close();
    const s = await ceremonySummary(dataDir, id);
    expect(s.head).toEqual({ hash: r.hash });
    expect(s.reinitialize).toEqual({ reason: 'interrupted-attempt', interruptedCeremonyId: 'init-token-x', voidShares: ['alice'] });
    expect(s.files).toEqual([]);
    expect(s.key).toBeUndefined();
  });
});
