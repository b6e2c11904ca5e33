// The sign-off summary of one ceremony, derived only from what its transcript records (the pre-genesis log
// and the chain entries of this ceremony), so what the witnesses sign is what a verifier will read: the key
// (ARN, spec, wrapping algorithm, check value), the files written with their SHA-256, who approved each
// quorum step, who signed off, and the transcript head. Nothing secret is ever in those entries.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry } from '../transcript/entry.js';
import type { JsonObject } from '../transcript/json-value.js';
import { scanJournal } from '../transcript/journal.js';
import { JOURNAL_FILE } from '../transcript/store.js';
import { readPreGenesisLog } from './engine/pre-genesis-log.js';
import { preGenesisPathOf, readAfterCompleted } from './engine/run.js';
import { chainDirOf } from './actions/init-token.js';

/** One transcript record as the summary reads it: a pre-genesis record has no seq. */
export interface SummaryRecord {
  seq?: number;
  time: string;
  step: string;
  kind: string;
  actor: string;
  data: JsonObject;
  hash: string;
}

export interface SummaryFile {
  /** What wrote it: a custodian's share file, the KMS import bundle, the transcript bundle. */
  kind: 'share' | 'kms-import' | 'key-backup' | 'bundle';
  /** The file's own name. */
  name: string;
  /** The folder the ceremony created for it (the import bundle, the transcript bundle), when the transcript names it. */
  folder?: string;
  sha256: string;
  bytes?: number;
}

export interface CeremonySummary {
  ceremonyId: string;
  rehearsal: boolean;
  administrator?: string;
  witnesses: string[];
  token?: { label: string; serial: string; model: string; manufacturer: string };
  /** init-token on a token that is not blank: why it may be erased, and so what the init step needs. */
  reinitialize?: { reason: 'interrupted-attempt' | 'allowReinitialize'; interruptedCeremonyId?: string; voidShares?: string[] };
  key?: {
    /** aws, gcp, azure or vault; absent in records made before the clouds (AWS). */
    cloud?: string;
    /** The key the material goes into: ARN, GCP crypto key name, Azure key URL, Vault transit key path. */
    target?: string;
    arn: string | null;
    keyId: string;
    region: string | null;
    account: string | null;
    keySpec: string;
    label?: string;
    wrappingAlgorithm: string;
    wrappingKeySpec?: string;
    wrapMethod?: string;
    checkValue?: { value: string; method: string; description: string };
    /** ParametersValidTo of the parameters loaded last (ISO 8601 UTC). */
    validTo?: string;
    /** What the room must hear about those parameters (a bare key id, a validity beyond 25 hours, ...). */
    warnings: string[];
  };
  /** backup-key / restore-key: the key backed up or restored, its check value, and the security domain. */
  backup?: { label: string; keySpec: string; id: string; checkValue?: { value: string; method: string }; domainId?: string; mechanism?: string; manifestSha256?: string };
  files: SummaryFile[];
  /** Per quorum step: who approved (in the order they did) out of the threshold. */
  approvals: { step: string; threshold: number; custodians: string[] }[];
  /** Witnesses who signed off, with what they said. */
  signedOff: { witness: string; statement: string }[];
  /** The last entry this ceremony recorded: its position in the chain (absent before genesis) and hash. */
  head?: { seq?: number; hash: string };
  /** The chain head the audit key signed and wrote to the token (write-chain-head). */
  sealed?: { seq: number; hash: string };
  /** destroy-key: the key identified (with its check value now) and, once destroyed, how many objects went. */
  destroyed?: { label: string; keySpec: string; checkValue?: string; objects?: number; gone: boolean };
  /** audit-token: how many objects the token holds and every difference from the transcript, in words. */
  audit?: { clean: boolean; objects: number; findings: string[]; deviceObjects?: number };
  /** rotate-custodians: which PINs were replaced, whether the token refuses the old shares, and the other tokens of the old domain. */
  rotation?: { changed: string[]; oldSharesRefused: boolean; otherTokens?: { label: string; serial: string }[]; note?: string; newCustodians?: string[]; threshold?: number };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** The summary of records of one ceremony, oldest first (pure). */
export function summarizeRecords(ceremonyId: string, records: readonly SummaryRecord[]): CeremonySummary {
  const s: CeremonySummary = { ceremonyId, rehearsal: false, witnesses: [], files: [], approvals: [], signedOff: [] };
  const quorum = new Map<string, { step: string; threshold: number; custodians: string[] }>();
  for (const r of records) {
    const d = r.data;
    const action = str(d.action);
    if (r.kind === 'ceremony-start') s.rehearsal = d.rehearsal === true;
    else if (r.kind === 'result' && action === 'record-participants') {
      s.administrator = str(d.administrator);
      s.witnesses = Array.isArray(d.witnesses) ? d.witnesses.filter((w): w is string => typeof w === 'string') : [];
    } else if (r.kind === 'result' && (action === 'select-token' || action === 'init-token')) {
      const t = obj(d.token);
      // init-token's result names the token as it is after C_InitToken (its new serial): the later one wins.
      if (t && typeof t.serial === 'string') s.token = { label: str(t.label) ?? '', serial: t.serial, model: str(t.model) ?? '', manufacturer: str(t.manufacturer) ?? '' };
      const re = obj(d.reinitialize);
      const reason = str(re?.reason);
      if (action === 'select-token' && (reason === 'interrupted-attempt' || reason === 'allowReinitialize')) {
        s.reinitialize = { reason };
        if (str(re?.interruptedCeremonyId)) s.reinitialize.interruptedCeremonyId = str(re?.interruptedCeremonyId) as string;
        if (Array.isArray(re?.voidShares)) s.reinitialize.voidShares = re.voidShares.filter((v): v is string => typeof v === 'string');
      }
    } else if (r.kind === 'result' && action === 'load-import-parameters') {
      s.key = {
        ...(str(d.cloud) ? { cloud: str(d.cloud) as string } : {}),
        ...(str(d.target) ? { target: str(d.target) as string } : {}),
        arn: str(d.keyArn) ?? null,
        keyId: str(d.keyId) ?? '',
        region: str(d.region) ?? null,
        account: str(d.account) ?? null,
        keySpec: str(d.keySpec) ?? '',
        wrappingAlgorithm: str(d.wrappingAlgorithm) ?? '',
        ...(str(d.wrappingKeySpec) ? { wrappingKeySpec: str(d.wrappingKeySpec) as string } : {}),
        ...(str(d.validTo) ? { validTo: str(d.validTo) as string } : {}),
        warnings: Array.isArray(d.warnings) ? d.warnings.filter((w): w is string => typeof w === 'string') : [],
      };
    } else if (r.kind === 'result' && action === 'generate-key' && s.key) {
      const key = obj(d.key);
      const cv = obj(d.checkValue);
      if (str(key?.label)) s.key.label = str(key?.label) as string;
      if (str(key?.keySpec)) s.key.keySpec = str(key?.keySpec) as string;
      if (cv && typeof cv.value === 'string') s.key.checkValue = { value: cv.value, method: str(cv.method) ?? '', description: str(cv.description) ?? '' };
    } else if (r.kind === 'result' && (action === 'identify-key' || action === 'destroy-key')) {
      const key = obj(d.key);
      const cv = obj(d.checkValue);
      const value = str(obj(cv?.now)?.value) ?? str(cv?.value);
      s.destroyed = { label: str(key?.label) ?? '', keySpec: str(key?.keySpec) ?? '', ...(value ? { checkValue: value } : {}), gone: action === 'destroy-key' };
      if (action === 'destroy-key' && Array.isArray(d.destroyed)) s.destroyed.objects = d.destroyed.length;
    } else if (r.kind === 'result' && action === 'audit-objects') {
      const findings = Array.isArray(d.findings) ? d.findings.map((f) => str(obj(f)?.message)).filter((m): m is string => m !== undefined) : [];
      s.audit = { clean: d.clean === true && findings.length === 0, objects: Array.isArray(d.objects) ? d.objects.length : 0, findings, ...(Array.isArray(d.deviceObjects) ? { deviceObjects: d.deviceObjects.length } : {}) };
    } else if (r.kind === 'result' && action === 'rotate-pins') {
      s.rotation = { changed: Array.isArray(d.changed) ? d.changed.filter((c): c is string => typeof c === 'string') : [], oldSharesRefused: d.oldUserPinRefused === true };
      // Who opens the token now: the enrolment this ceremony recorded before it touched the token.
      const enrolled = obj([...records].reverse().find((e) => e.kind === 'enrolment')?.data.enrolment);
      if (enrolled && Array.isArray(enrolled.custodians)) s.rotation.newCustodians = enrolled.custodians.map((c) => str(obj(c)?.name) ?? '?');
      if (enrolled && typeof enrolled.threshold === 'number') s.rotation.threshold = enrolled.threshold;
    } else if (r.kind === 'result' && action === 'list-domain-tokens' && s.rotation) {
      const others = Array.isArray(d.otherTokens) ? d.otherTokens.map((t) => obj(obj(t)?.token)) : [];
      s.rotation.otherTokens = others.map((t) => ({ label: str(t?.label) ?? '?', serial: str(t?.serial) ?? '?' }));
      if (str(d.note)) s.rotation.note = str(d.note) as string;
    } else if (r.kind === 'result' && action === 'find-key' && s.key) {
      // kms-rewrap: the key found again, and its check value as the token computed it now (equal to the recorded one, or the step failed).
      const key = obj(d.key);
      const now = obj(obj(d.checkValue)?.now);
      if (str(key?.label)) s.key.label = str(key?.label) as string;
      if (now && typeof now.value === 'string') s.key.checkValue = { value: now.value, method: str(now.method) ?? '', description: str(now.description) ?? '' };
    } else if (r.kind === 'result' && (action === 'find-backup-key' || action === 'check-backup' || action === 'restore-unwrap')) {
      const key = obj(d.key);
      const cv = obj(d.checkValue);
      // find-backup-key records both values (recorded and now); check-backup the backup's; restore-unwrap the token's now.
      const value = obj(cv?.now) ?? cv ?? obj(key?.checkValue);
      s.backup = {
        ...s.backup,
        label: str(key?.label) ?? s.backup?.label ?? '',
        keySpec: str(key?.keySpec) ?? s.backup?.keySpec ?? '',
        id: str(key?.id) ?? s.backup?.id ?? '',
        ...(value && typeof value.value === 'string' ? { checkValue: { value: value.value, method: str(value.method) ?? '' } } : {}),
        ...(str(d.domainId) ? { domainId: str(d.domainId) as string } : {}),
        ...(str(obj(d.mechanism)?.name) ?? str(d.mechanism) ? { mechanism: (str(obj(d.mechanism)?.name) ?? str(d.mechanism)) as string } : {}),
        ...(str(obj(d.backup)?.manifestSha256) ? { manifestSha256: str(obj(d.backup)?.manifestSha256) as string } : {}),
      };
    } else if (r.kind === 'result' && (action === 'backup-wrap' || action === 'write-backup') && s.backup) {
      if (str(d.domainId)) s.backup.domainId = str(d.domainId) as string;
      if (str(d.manifestSha256)) s.backup.manifestSha256 = str(d.manifestSha256) as string;
      const folder = str(d.folder);
      const files = obj(d.files);
      if (folder && files) {
        for (const [name, f] of Object.entries(files)) {
          const rec = obj(f);
          if (rec && typeof rec.sha256 === 'string') s.files.push({ kind: 'key-backup', name, folder, sha256: rec.sha256, ...(typeof rec.bytes === 'number' ? { bytes: rec.bytes } : {}) });
        }
        if (str(d.manifestSha256)) s.files.push({ kind: 'key-backup', name: 'backup-manifest.json', folder, sha256: str(d.manifestSha256) as string });
      }
    } else if (r.kind === 'result' && action === 'wrap-key' && s.key) {
      if (str(d.method)) s.key.wrapMethod = str(d.method) as string;
    } else if (r.kind === 'share-issued') {
      const custodian = str(d.custodian) ?? r.actor;
      const sha256 = str(d.fileSha256);
      if (sha256) s.files.push({ kind: 'share', name: `${custodian}.share`, sha256 });
    } else if (r.kind === 'result' && action === 'export-wrapped-key') {
      const path = str(d.path);
      const files = Array.isArray(d.files) ? d.files.map(obj).filter((f): f is Record<string, unknown> => f !== undefined) : [];
      for (const f of files) {
        const name = str(f.name);
        const sha256 = str(f.sha256);
        if (name && sha256) s.files.push({ kind: 'kms-import', name, ...(path ? { folder: path } : {}), sha256, ...(typeof f.bytes === 'number' ? { bytes: f.bytes } : {}) });
      }
    } else if (r.kind === 'result' && action === 'export-bundle') {
      const path = str(d.path);
      const sha256 = str(d.manifestSha256);
      if (path && sha256) s.files.push({ kind: 'bundle', name: 'manifest.json', folder: path, sha256 });
    } else if (r.kind === 'result' && action === 'write-chain-head') {
      const w = obj(d.written);
      if (w && typeof w.seq === 'number' && typeof w.hash === 'string') s.sealed = { seq: w.seq, hash: w.hash };
    } else if (r.kind === 'quorum-open') {
      quorum.set(r.step, { step: r.step, threshold: typeof d.threshold === 'number' ? d.threshold : 0, custodians: [] });
    } else if (r.kind === 'approval') {
      const q = quorum.get(r.step) ?? { step: r.step, threshold: 0, custodians: [] };
      quorum.set(r.step, q);
      const custodian = str(d.custodian) ?? r.actor;
      if (!q.custodians.includes(custodian)) q.custodians.push(custodian);
    } else if (r.kind === 'witness-sign-off') {
      s.signedOff.push({ witness: str(d.witness) ?? r.actor, statement: str(d.statement) ?? '' });
    }
  }
  s.approvals = [...quorum.values()];
  // The transcript head is the ceremony's last chained entry (what follows `completed` is in a local note).
  const last = records.filter((r) => r.seq !== undefined).at(-1) ?? records.at(-1);
  if (last) s.head = last.seq === undefined ? { hash: last.hash } : { seq: last.seq, hash: last.hash };
  return s;
}

/**
 * Every record of a ceremony read back from the data directory (a running ceremony's view uses
 * CeremonyRun.records() instead, from memory): its pre-genesis log, then its entries in the chain it
 * wrote to (init-token: its own; a later ceremony: the chain its log says it attached to). Read-only: the
 * journal is append-only and fsynced, so reading it never disturbs the store that writes it.
 */
export async function readCeremonyRecords(dataDir: string, ceremonyId: string): Promise<SummaryRecord[]> {
  const { records } = await readPreGenesisLog(preGenesisPathOf(dataDir, ceremonyId));
  const attached = [...records].reverse().find((r) => typeof (r.data as { chain?: unknown }).chain === 'string');
  const chain = attached ? String((attached.data as { chain: string }).chain) : ceremonyId;
  const journal = join(chainDirOf(dataDir, chain), JOURNAL_FILE);
  let entries: Entry[] = [];
  try {
    entries = scanJournal(await readFile(journal), journal).entries;
  } catch (error) {
    // No chain yet (before genesis) is normal; a damaged one is the store's to report, not the summary's.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const pre: SummaryRecord[] = records.map((r) => ({ time: r.time, step: r.step, kind: r.kind, actor: r.actor, data: r.data, hash: r.hash }));
  const mine: SummaryRecord[] = entries.filter((e) => e.ceremonyId === ceremonyId).map((e) => ({ seq: e.seq, time: e.time, step: e.step, kind: e.kind, actor: e.actor, data: e.data, hash: e.hash }));
  const after: SummaryRecord[] = (await readAfterCompleted(dataDir, ceremonyId)).map((r) => ({ time: r.time, step: r.step, kind: r.kind, actor: r.actor, data: r.data, hash: r.hash }));
  return [...pre, ...mine, ...after];
}

export async function ceremonySummary(dataDir: string, ceremonyId: string): Promise<CeremonySummary> {
  return summarizeRecords(ceremonyId, await readCeremonyRecords(dataDir, ceremonyId));
}
