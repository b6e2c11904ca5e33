// The audit-token action (ceremonies/audit-token.yaml): what is in this token, and did every object come
// from a recorded ceremony? Every object the logged-in session sees is listed with the attributes that say
// how it may leave the token, and compared with the token's chain: every key present was made by a recorded
// ceremony (generate-key, restore-key) and still has the CKA_ID and check value recorded then (recomputed in
// the token now); every recorded key not destroyed since is present; a destroyed key is absent; the audit key
// and the chain head are the transcript's own. Each difference is a finding in words. The list and the
// findings are the step's result entry, so the audit itself is part of the chain; the ceremony completes
// either way (the record of a failed audit is what the room needs), and `keyceremony audit-token` exits 1
// when there is any finding.
import { AppError } from '../../errors.js';
import { findKmsKey, parseKeySpec } from '../../kms/index.js';
import { CHAIN_HEAD_LABEL } from '../../transcript/chain-head.js';
import type { JsonObject } from '../../transcript/json-value.js';
import { AUDIT_KEY_LABEL } from '../../transcript/token-signer.js';
import type { ActionImpl } from '../engine/types.js';
import { deviceInventory } from './device-inventory.js';
import { noInput } from './general.js';
import { keyHistory, type KeyRecord } from './key-history.js';
import { listObjects, objectName, objectRecord, type TokenObject } from './token-objects.js';

export type FindingKind = 'unrecorded-object' | 'missing-key' | 'key-differs' | 'destroyed-key-present' | 'transcript-objects';

export interface Finding {
  kind: FindingKind;
  message: string;
}

const day = (time: string) => time.slice(0, 10);
const madeBy = (r: KeyRecord) => `${r.by.action} of ceremony ${r.by.ceremonyId} on ${day(r.by.time)}, entry ${r.by.seq}`;

export const auditObjects: ActionImpl<Record<string, never>> = {
  name: 'audit-objects',
  input: noInput,
  async perform(ctx) {
    const session = ctx.token.session;
    const store = ctx.chain();
    if (!session || ctx.token.loggedIn !== 'user' || !store) {
      throw new AppError('ceremony-no-session', `step '${ctx.step.id}': the token is not open`, 'The script must select the token and run quorum-login before this step.');
    }
    const { layer } = ctx.deps;
    const head = store.head();
    const history = keyHistory(head ? store.entries(0, head.seq) : []);
    const objects = await listObjects(layer, session);
    const role = new Map<TokenObject, string>();
    const findings: Finding[] = [];
    const withLabel = (label: string) => objects.filter((o) => o.label === label);

    // The transcript's own objects: one audit key pair (its public half is optional) and one chain head.
    const audit = withLabel(AUDIT_KEY_LABEL);
    for (const o of audit) role.set(o, 'audit key');
    const auditPrivate = audit.filter((o) => o.class === 'PRIVATE_KEY').length;
    if (auditPrivate !== 1 || audit.some((o) => o.class !== 'PRIVATE_KEY' && o.class !== 'PUBLIC_KEY')) {
      findings.push({ kind: 'transcript-objects', message: `the token holds ${auditPrivate} private audit key(s) ('${AUDIT_KEY_LABEL}') and ${audit.length} object(s) with that label in all; one audit key pair is expected` });
    }
    const heads = withLabel(CHAIN_HEAD_LABEL);
    for (const o of heads) role.set(o, 'chain head');
    // A data object; on the NSS softoken, which keeps no token data object, a generic secret key that can do
    // nothing holds the head in its CKA_ID (hsm/pkcs11/driver.ts, createDataObject).
    const holdsHead = (o: TokenObject) => o.class === 'DATA' || (o.class === 'SECRET_KEY' && o.keyType === 'GENERIC_SECRET');
    if (heads.length !== 1 || !heads.every(holdsHead)) {
      findings.push({ kind: 'transcript-objects', message: `the token holds ${heads.length} object(s) labelled '${CHAIN_HEAD_LABEL}' (${heads.map(objectName).join('; ') || 'none'}); exactly one chain head (a data object, or the key standing in for one) is expected` });
    }

    // Every key the chain says is in the token: present, the recorded CKA_ID, the recorded check value.
    const checked: JsonObject[] = [];
    const keyOfHandle = new Map<string, KeyRecord>();
    for (const record of history.present.values()) {
      const mine = withLabel(record.label);
      for (const o of mine) role.set(o, `key '${record.label}' (${record.by.action}, ceremony ${record.by.ceremonyId})`);
      for (const o of mine) keyOfHandle.set(String(o.handle), record);
      if (mine.length === 0) {
        findings.push({ kind: 'missing-key', message: `the key '${record.label}' (${record.keySpec}, made by ${madeBy(record)}) is not in the token, and no destroy-key recorded its destruction` });
        checked.push({ label: record.label, present: false });
        continue;
      }
      try {
        const found = await findKmsKey(layer, session, parseKeySpec(record.keySpec), record.label, record.checkValue);
        if (record.idHex !== '' && found.key.idHex !== record.idHex) throw new AppError('KMS_KEY_MISMATCH', `it has CKA_ID ${found.key.idHex || '(none)'}, but ${record.idHex} was recorded`, '');
        const expected = record.keySpec.startsWith('RSA_') || record.keySpec.startsWith('ECC_') ? 2 : 1;
        if (mine.length !== expected) throw new AppError('KMS_KEY_MISMATCH', `${mine.length} objects carry its label (${mine.map(objectName).join('; ')}), ${expected} expected`, '');
        checked.push({ label: record.label, present: true, checkValue: { value: found.checkValue.value, method: found.checkValue.method, matchesRecorded: true } });
      } catch (error) {
        if (!(error instanceof AppError) && !(error instanceof Error && 'code' in error)) throw error;
        findings.push({ kind: 'key-differs', message: `the key '${record.label}' (${record.keySpec}, made by ${madeBy(record)}, check value ${record.checkValue.value}) is not the recorded one: ${(error as Error).message}` });
        checked.push({ label: record.label, present: true, matchesRecorded: false });
      }
    }

    // A destroyed key stays gone.
    for (const d of history.destroyed.values()) {
      for (const o of withLabel(d.label)) {
        role.set(o, `destroyed key '${d.label}'`);
        findings.push({ kind: 'destroyed-key-present', message: `${objectName(o)} carries the label of the key destroyed on ${day(d.time)} by ceremony ${d.ceremonyId} (entry ${d.seq})` });
      }
    }

    // Anything else came from no recorded ceremony.
    for (const o of objects) {
      if (role.has(o)) continue;
      role.set(o, 'not recorded by any ceremony');
      findings.push({ kind: 'unrecorded-object', message: `${objectName(o)}${o.token === false ? ' (a session object)' : ''} was made by no ceremony recorded in this token's transcript` });
    }

    // A device with objects the PKCS#11 view leaves out (the YubiHSM 2) is listed again in its own words.
    const roleOfHandle = new Map(objects.map((o) => [String(o.handle), role.get(o) ?? ''] as const));
    const device = await deviceInventory(layer, session, (h) => roleOfHandle.get(h), (h) => keyOfHandle.get(h));
    if (device) findings.push(...device.findings);

    return {
      done: true,
      data: {
        clean: findings.length === 0,
        objects: objects.map((o) => ({ ...objectRecord(o), role: role.get(o) ?? '' })),
        ...(device ? { deviceObjects: device.objects } : {}),
        recordedKeys: checked,
        destroyedKeys: [...history.destroyed.values()].map((d) => ({ label: d.label, destroyedBy: d.ceremonyId, time: d.time, seq: d.seq })),
        findings: findings.map((f) => ({ kind: f.kind, message: f.message })),
      },
    };
  },
};
