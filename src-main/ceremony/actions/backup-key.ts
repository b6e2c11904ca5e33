// The backup-key actions (ceremonies/backup-key.yaml): find the key by its label and prove it is the material
// a ceremony recorded (check value recomputed in the token), prove on throw-away objects which RFC 5649
// mechanism this token wraps with exactly; then, in a quorum step, wrap it under the domain backup key
// (domain-secret.ts: a session object for that one wrap), or on a YubiHSM 2 export it under the domain wrap
// key (EXPORT WRAPPED, AES-CCM; the wrap key in the device for that one command); then write the backup folder.
import { basename } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { createHash } from 'node:crypto';
import { findKmsKey, KEY_MISMATCH_ERROR, keyRecord, parseKeySpec } from '../../kms/index.js';
import { chooseBackupMechanism, refuseUnsupportedSpec } from '../../backup/mechanism.js';
import { WRAP_FORMAT_RFC5649, WRAP_FORMAT_RSA_AES, WRAP_FORMAT_YUBIHSM, writeBackupFolder } from '../../backup/folder.js';
import { rsaWrapCapability } from '../../backup/rsa-wrap.js';
import { wrapForKms } from '../../kms/index.js';
import { DOMAIN_RSA_WRAP_KEY_BITS } from '../quorum/domain.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { ActionContext, ActionImpl, BackupRunState } from '../engine/types.js';
import { absoluteDir, noInput } from './general.js';
import { findGenerationRecords, NO_GENERATION_RECORD } from './kms-rewrap.js';
import { refuseIfDestroyed } from './destroyed-keys.js';
import { withBackupKey, withDomainWrapKey } from './domain-secret.js';
import { tokenRecord } from './step-state.js';

function fail(ctx: ActionContext, code: string, what: string, remedy: string): never {
  throw new AppError(code, `step '${ctx.step.id}': ${what}`, remedy);
}

function loggedIn(ctx: ActionContext): { session: string; slot: NonNullable<ActionContext['token']['slot']>; store: NonNullable<ReturnType<ActionContext['chain']>> } {
  const { session, slot } = ctx.token;
  const store = ctx.chain();
  if (!session || !slot || !store || ctx.token.loggedIn !== 'user') fail(ctx, 'ceremony-no-session', 'the token is not logged in', 'The script must run quorum-login before this step.');
  return { session, slot, store };
}

export const backupState = (ctx: ActionContext): BackupRunState => (ctx.state.backup ??= {});

export const findBackupKey: ActionImpl<Record<string, never>> = {
  name: 'find-backup-key',
  input: noInput,
  async perform(ctx) {
    const { session, slot, store } = loggedIn(ctx);
    const b = backupState(ctx);
    if (b.key) fail(ctx, 'ceremony-state', `the key was already found in this ceremony (${b.key.label})`, 'Go on with the next step.');
    const label = String(ctx.parameters.keyLabel);
    // A key destroy-key proved gone is refused with the date (destroyed-keys.ts).
    const head = store.head();
    if (head) refuseIfDestroyed(store.entries(0, head.seq), label);
    const records = findGenerationRecords(store, label);
    const record = records.at(-1);
    if (!record) {
      fail(
        ctx,
        NO_GENERATION_RECORD,
        `parameters.keyLabel: this token's transcript records no key generated or restored with the label '${label}', so there is no check value to prove what would be backed up`,
        'Use the label recorded by the kms-import (or restore-key) ceremony of this key on this token. A key created outside a ceremony is never backed up.',
      );
    }
    const keySpec = parseKeySpec(record.keySpec);
    refuseUnsupportedSpec(keySpec, 'back up');
    const found = await findKmsKey(ctx.deps.layer, session, keySpec, label, record.checkValue);
    if (record.idHex !== '' && found.key.idHex !== record.idHex) {
      fail(ctx, KEY_MISMATCH_ERROR, `the key labelled '${label}' has CKA_ID ${found.key.idHex || '(none)'}, but ${record.idHex} was recorded (entry ${record.entry.seq})`, 'Do not back it up: find out who replaced the key object.');
    }
    // Proved before the key is touched: the token wraps a throw-away key of this spec into exact RFC 5649.
    const mechanism = await chooseBackupMechanism(ctx.deps.layer, slot, session, keySpec, 'wrap');
    // A PKCS#11 token also wraps the key for a YubiHSM 2 of the domain, when it and the key spec allow.
    if (mechanism.format === 'rfc5649') b.rsaWrap = await rsaWrapCapability(ctx.deps.layer, slot, keySpec);
    b.key = found.key;
    b.checkValue = found.checkValue;
    b.generatedBy = { ceremonyId: record.entry.ceremonyId, seq: record.entry.seq, hash: record.entry.hash };
    b.mechanism = mechanism;
    return {
      done: true,
      data: {
        key: keyRecord(found.key) as JsonObject,
        generatedBy: { ...b.generatedBy },
        checkValue: { recorded: { ...record.checkValue }, now: { ...found.checkValue } as unknown as JsonObject, matches: true },
        mechanism: { name: mechanism.name, proof: mechanism.proof, ...(mechanism.refused.length > 0 ? { refused: mechanism.refused } : {}) },
        ...(b.rsaWrap
          ? { forYubiHsm: ('capability' in b.rsaWrap ? { wrap: 'CKM_RSA_AES_KEY_WRAP (OAEP SHA-1) under the domain RSA wrap key', how: b.rsaWrap.capability.method ?? '' } : { none: b.rsaWrap.why }) as JsonObject }
          : {}),
      },
    };
  },
};

export const backupWrap: ActionImpl<Record<string, never>> = {
  name: 'backup-wrap',
  input: noInput,
  needsShares: true,
  async perform(ctx) {
    const { session } = loggedIn(ctx);
    const b = backupState(ctx);
    const key = b.key;
    const mechanism = b.mechanism;
    if (!key || !mechanism) fail(ctx, 'ceremony-state', 'no key was found', 'Run find-backup-key first.');
    if (b.wrapped) fail(ctx, 'ceremony-state', 'the key was already wrapped in this ceremony', 'Go on with the next step.');
    const layer = ctx.deps.layer;
    const exportWrapped = layer.exportUnderDomainWrapKey?.bind(layer);
    const rsaCapability = b.rsaWrap && 'capability' in b.rsaWrap ? b.rsaWrap.capability : undefined;
    if (mechanism.format === 'yubihsm-rsa-unwrap') fail(ctx, 'ceremony-state', 'the mechanism found is for restoring, not for a backup', 'Run find-backup-key first.');
    if (mechanism.format === 'yubihsm-wrapped' && !exportWrapped) fail(ctx, 'backup-driver', 'this YubiHSM driver cannot export under a wrap key', 'Use a version of the app whose YubiHSM driver drives EXPORT WRAPPED. Nothing was changed.');
    const { result: wrapped, step } =
      mechanism.format === 'yubihsm-wrapped'
        ? await withDomainWrapKey(ctx, undefined, (wrapKey) => (exportWrapped as NonNullable<typeof exportWrapped>)(session, key.handle, wrapKey))
        : await withBackupKey(
            ctx,
            'wrap',
            undefined,
            async (backupKey, domainStep) => {
              const out = await layer.wrapKey(session, mechanism.mechanism, backupKey, key.handle);
              // The YubiHSM copy: the domain RSA public key imported as a session object, wrapped in the token, destroyed.
              if (rsaCapability && domainStep.rsaWrapSpki) {
                const r = await wrapForKms(layer, session, { capability: rsaCapability, wrappingPublicKeySpkiDer: domainStep.rsaWrapSpki, key: key.handle });
                b.wrappedRsa = r.encryptedKeyMaterial;
              }
              return out;
            },
            { rsaWrapPublicKey: rsaCapability !== undefined },
          );
    b.wrapped = wrapped;
    b.domainId = step.domainId;
    return {
      done: true,
      data: {
        domainId: step.domainId,
        custodians: step.custodians,
        key: { label: key.label, keySpec: key.keySpec, id: key.idHex },
        mechanism: mechanism.name,
        wrapped: { bytes: wrapped.length, sha256: createHash('sha256').update(wrapped).digest('hex') },
        ...(b.wrappedRsa ? { wrappedForYubiHsm: { bytes: b.wrappedRsa.length, sha256: createHash('sha256').update(b.wrappedRsa).digest('hex'), wrap: 'CKM_RSA_AES_KEY_WRAP (OAEP SHA-1) in the token under the domain RSA wrap key (public half imported as a session object, then destroyed)' } } : {}),
        backupKey:
          mechanism.format === 'yubihsm-wrapped'
            ? 'the domain wrap key, derived from the domain secret, put into the device (PUT WRAP KEY) for this EXPORT WRAPPED only, then deleted; every host copy wiped'
            : 'derived from the domain secret, imported as a session object (CKA_TOKEN false, not extractable) for this wrap only, then destroyed; every host copy wiped',
      },
    };
  },
};

export const writeBackupInput = z.strictObject({ destinationDir: absoluteDir });

export const writeBackup: ActionImpl<z.infer<typeof writeBackupInput>> = {
  name: 'write-backup',
  input: writeBackupInput,
  describe: (input) => ({ destinationDir: input.destinationDir }),
  async perform(ctx, input) {
    const { store } = loggedIn(ctx);
    const b = backupState(ctx);
    const { key, checkValue, generatedBy, mechanism, wrapped, domainId: domain } = b;
    if (!key || !checkValue || !generatedBy || !mechanism || !wrapped || !domain) fail(ctx, 'ceremony-state', 'the key was not wrapped yet', 'Run backup-wrap first.');
    const info = ctx.token.info;
    const head = store.head();
    const safeLabel = key.label.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 48);
    const folder = await writeBackupFolder(input.destinationDir, `backup-${safeLabel}-${ctx.ceremonyId}`, wrapped, {
      format: 'keyceremony-key-backup/1',
      ceremonyId: ctx.ceremonyId,
      createdAt: (ctx.deps.clock?.() ?? new Date()).toISOString(),
      domainId: domain,
      key: {
        keySpec: key.keySpec,
        label: key.label,
        id: key.idHex,
        checkValue: { value: checkValue.value, method: checkValue.method },
        generatedBy,
        ...(key.publicKeySpkiDer ? { publicKeySpki: Buffer.from(key.publicKeySpkiDer).toString('base64') } : {}),
      },
      sourceToken: { ...(info ? tokenRecord(info) : { manufacturer: '', model: '', serial: '', label: '' }), chain: basename(store.dir) },
      wrap: { format: mechanism.format === 'yubihsm-wrapped' ? WRAP_FORMAT_YUBIHSM : WRAP_FORMAT_RFC5649, mechanism: mechanism.name },
      ...(b.wrappedRsa && b.rsaWrap && 'capability' in b.rsaWrap ? { wrapRsa: { format: WRAP_FORMAT_RSA_AES, mechanism: (b.rsaWrap.capability.method ?? b.rsaWrap.capability.algorithm).slice(0, 128), rsaModulusBits: DOMAIN_RSA_WRAP_KEY_BITS } } : {}),
      ...(head ? { transcriptHead: { seq: head.seq, hash: head.hash } } : {}),
    }, b.wrappedRsa);
    ctx.state.outputs.push({ kind: 'key-backup', path: folder.dir, sha256: folder.manifestSha256 });
    return {
      done: true,
      data: {
        folder: folder.dir,
        manifestSha256: folder.manifestSha256,
        files: folder.manifest.files as unknown as JsonObject,
        domainId: domain,
        key: { label: key.label, keySpec: key.keySpec, id: key.idHex, checkValue: { value: checkValue.value, method: checkValue.method } },
        readBack: 'every file read back from the medium and its SHA-256 compared',
      },
    };
  },
};
