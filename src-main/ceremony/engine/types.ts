// The engine's vocabulary: what an action implementation receives and returns, and the plain-data view the
// UI and the CLI read. Nothing here holds a secret except RunSecrets, which the engine wipes.
import type { z } from 'zod';
import type { TokenLayer } from '../../../hsm/token.js';
import type { ErrorData, SlotRef, TokenInfo } from '../../../hsm/types.js';
import type { AirGapStatus } from '../../airgap/airgap.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { TranscriptStore } from '../../transcript/store.js';
import type { TokenAuditSigner } from '../../transcript/token-signer.js';
import type { CustodianShare, Enrolment, QuorumCollector, TokenPins } from '../quorum/index.js';
import type { ScryptCost } from '../quorum/share-file.js';
import type { ActionName, LoadedScript, ParameterValues, ScriptStep } from '../script/index.js';
import type { RecordedEnrolment } from '../actions/quorum-login.js';
import type { KmsCapability } from '../../../hsm/types.js';
import type { CheckValue, GeneratedKmsKey, ImportParameters, WrapResult } from '../../kms/index.js';
import type { ExportProbe } from '../../kms/exactness.js';
import type { CeremonySummary } from '../summary.js';
import type { BackupMechanism } from '../../backup/mechanism.js';
import type { BackupFolder } from '../../backup/folder.js';

/** An earlier ceremony found in the data directory, as recovery sees it. */
export interface PriorAttempt {
  ceremonyId: string;
  kind: string;
  status: CeremonyStatus;
  /** The token as it was after init-token (its new serial), when the attempt got that far. */
  token?: { serial: string; label: string };
  /** Custodians who received a share in that attempt. */
  sharesIssued: string[];
  /** Its enrolment, when it got that far: M of its (void) shares rebuild its SO PIN to re-initialize the token. */
  enrolment?: RecordedEnrolment;
  /** enrol-token: the PINs it changed (or may have: its change-pins began); its shares then open the token. */
  pinsChanged?: ('user' | 'so')[];
  /** The label it was initializing a token to, once its init step recorded an intent (the token may have changed). */
  initAttempted?: string;
  /** enrol-token: it was to change the SO PIN too, changed the user PIN, and recorded no SO change: the SO PIN may be either. */
  soPinMayHaveChanged?: boolean;
  /** enrol-token: it reached its generate-audit-key intent, so the token may hold its audit key (and chain head). */
  auditKeyMayExist?: boolean;
}

export interface EngineDeps {
  layer: TokenLayer;
  /** The app data directory: chains/<enrolment id>/ and ceremonies/<ceremony id>/ live under it. */
  dataDir: string;
  /** Is this laptop offline? Injected so tests and rehearsals can say what they checked. */
  airGap: () => AirGapStatus;
  appVersion: string;
  /** scrypt cost of the share files written (tests lower it; the default is the library's). */
  scrypt?: ScryptCost;
  clock?: () => Date;
  /** Earlier attempts (for select-token: an interrupted init-token may be restarted on its token). */
  priorAttempts?: () => Promise<PriorAttempt[]>;
  /** Called after each share file is written and recorded (the CLI's crash test hooks in here). */
  onShareIssued?: (custodian: string) => Promise<void> | void;
  /** Called after each entry is on stable storage (the resume crash tests stop the process here). */
  onRecorded?: (ref: RecordedRef) => Promise<void> | void;
  /** Called when a step's action returned, before its result is recorded (the crash window resume must handle). */
  onActionDone?: (step: string, action: string) => Promise<void> | void;
}

export type CeremonyStatus = 'running' | 'completed' | 'aborted' | 'interrupted';

export interface RecordedRef {
  /** Absent for a pre-genesis record (it has a position `n` in the log instead). */
  seq?: number;
  time: string;
  step: string;
  kind: string;
  actor: string;
  hash: string;
}

export interface RunSecrets {
  /** S: wiped once the PINs are set. */
  secret?: Uint8Array;
  /** The shares: wiped once every custodian has theirs and every subset was proved. */
  shares?: CustodianShare[];
  pins?: TokenPins;
  /** enrol-token: the PINs the room brought (UTF-8), wiped once change-pins has replaced them. */
  currentPins?: { user: Uint8Array; so?: Uint8Array };
}

export interface RunToken {
  slot?: SlotRef;
  info?: TokenInfo;
  session?: string;
  loggedIn?: 'user' | 'so';
  signer?: TokenAuditSigner;
}

export interface QuorumState {
  step: string;
  headHash: string;
  collector: QuorumCollector;
  /** Presented shares, kept only for actions that rebuild S (quorum-login); wiped after the step. */
  shares: Uint8Array[];
}

export interface OutputRecord {
  kind: string;
  path: string;
  sha256: string;
}

/** What backup-key and restore-key keep between steps (src-main/ceremony/actions/backup-key.ts, restore-key.ts); nothing secret. */
export interface BackupRunState {
  /** backup-key: the key found and checked, and the record of its generation (or restore) in the chain. */
  key?: GeneratedKmsKey;
  checkValue?: CheckValue;
  generatedBy?: { ceremonyId: string; seq: number; hash: string };
  /** The RFC 5649 mechanism proved on throw-away objects in this token. */
  mechanism?: BackupMechanism;
  /** backup-key: the wrapped material, once the quorum step wrapped it, and the domain its shares rebuilt. */
  wrapped?: Uint8Array;
  domainId?: string;
  /** backup-key on a PKCS#11 token: the CKM_RSA_AES_KEY_WRAP capability for the YubiHSM copy, or why none. */
  rsaWrap?: { capability: KmsCapability } | { why: string };
  /** backup-key: the key wrapped under the domain RSA wrap key (wrapped-key-rsa.bin), when rsaWrap allowed it. */
  wrappedRsa?: Uint8Array;
  /** restore-key: the backup folder read and checked. */
  folder?: BackupFolder;
}

/** What a kms-import keeps between steps: the parameters, the wrapping capability, the key and the wrap. */
export interface KmsRunState {
  /** What the token step's probe found the chosen token can wrap (the parameters step reuses it). */
  tokenCapabilities?: { slot: SlotRef; capabilities: KmsCapability[] };
  params?: ImportParameters;
  capability?: KmsCapability;
  /** The exactness probe for (key spec, capability): ran before any key is generated, or deferred to the login. */
  exactness?: ExportProbe;
  key?: GeneratedKmsKey;
  checkValue?: CheckValue;
  wrap?: WrapResult;
  /** The CKA_ID generate-key asks for, recorded in its intent before the token is touched. */
  requestedId?: Uint8Array;
}

export interface RunState {
  participants?: { administrator: string; witnesses: string[] };
  issued: Map<string, { index: number; fileSha256: string; path: string }>;
  secretCheck?: string;
  enrolment?: Enrolment;
  quorum?: QuorumState;
  outputs: OutputRecord[];
  /** The KMS import ceremony's working state (src-main/ceremony/actions/kms-import.ts); nothing secret. */
  kms?: KmsRunState;
  /** backup-key / restore-key working state; nothing secret. */
  backup?: BackupRunState;
  /** Set by select-token for a token that is already initialized: how its current SO PIN will be obtained. */
  reinitialize?: { reason: 'interrupted-attempt'; attempts: PriorAttempt[] } | { reason: 'allowReinitialize' };
  /** Set by prove-subsets: every share was written, read back and every M-subset proved (never-brick.ts). */
  sharesProved?: boolean;
  /**
   * The security domain of the secret (generate-secret or join-domain): its public id, and for a token that
   * joins an existing domain the origin its shares are bound to and the ceremony id its PINs are derived with.
   */
  domain?: { domainId: string; joined?: { originCeremonyId: string; pinsCeremonyId: string; presentedBy: string[]; originChain: string } };
  /** enrol-token: the stopped attempt whose audit key (and chain head) the token still holds; change-pins destroys them. */
  staleObjectsOf?: string;
}

/** What a resumed run knows of the attempt(s) before it: the ceremony's entries, step by step. */
export interface ResumeContext {
  /** 1 for the first resume of this ceremony. */
  readonly attempt: number;
  /** The entries recorded for this step before this resume, oldest first. */
  entriesOf(stepId: string): { kind: string; data: JsonObject }[];
}

export interface ActionContext {
  readonly ceremonyId: string;
  readonly loaded: LoadedScript;
  /** The script's file name without .yaml (what start() was given). */
  readonly scriptName: string;
  readonly parameters: ParameterValues;
  readonly rehearsal: boolean;
  readonly step: ScriptStep;
  readonly deps: EngineDeps;
  readonly secrets: RunSecrets;
  readonly token: RunToken;
  readonly state: RunState;
  /** The administrator's name (from record-participants), the default actor. */
  readonly administrator: string;
  /** Record an entry for this step: in the pre-genesis log before genesis, in the chain after. */
  record(kind: string, data: JsonObject, actor?: string): Promise<RecordedRef>;
  /** The chain, once genesis was written. */
  chain(): TranscriptStore | undefined;
  /** write-genesis: the chain now exists; everything after goes there. */
  startChain(store: TranscriptStore): void;
  /** Every record of the pre-genesis log so far. */
  preGenesisRecords(): Promise<{ records: JsonObject[]; sha256: string; file: string }>;
  /** Set in a run that resumes an interrupted ceremony. */
  readonly resumed?: ResumeContext;
}

export interface ActionOutcome {
  /** Data of the step's `result` entry; absent when the action recorded its own entries. */
  data?: JsonObject;
  /** The step is complete (distribute-shares takes one call per custodian). */
  done: boolean;
  /** Shown once to the one custodian at the screen, never kept in any view. */
  reveal?: { custodian: string; shareCode: string };
}

export interface ActionImpl<I = unknown> {
  name: ActionName;
  /** Checked before anything happens; the error names the field. */
  input: z.ZodType<I>;
  /** What the intent and refusal entries may say about the input: never a secret. */
  describe?(input: I): JsonObject;
  /**
   * What the action is about to do, decided before the token is touched and recorded in the intent (e.g.
   * the CKA_ID generate-key will ask for), so that a resume after a crash can ask the token about it.
   */
  intent?(ctx: ActionContext, input: I): JsonObject | Promise<JsonObject>;
  perform(ctx: ActionContext, input: I): Promise<ActionOutcome>;
  /** A quorum step of this action needs the presented shares themselves (to rebuild S). */
  needsShares?: boolean;
  /**
   * Checks the ceremony's raw parameters before the ceremony starts (before anything is recorded or any
   * token touched), for what the script's declarations cannot say in words: returns the problem, or nothing.
   */
  checkParameters?(parameters: Readonly<Record<string, unknown>>): string | undefined;
}

// ---- The view: plain data for the UI (see src-preload/contract.ts ceremonyView) ----

export interface StepView {
  id: string;
  title: string;
  instructions: string;
  action: string;
  approvals: 'none' | 'quorum';
  confirm?: { prompt: string; word: string };
  status: 'pending' | 'current' | 'done' | 'failed';
}

export interface TailEntryView {
  seq?: number;
  time: string;
  step: string;
  kind: string;
  actor: string;
  hash: string;
}

export interface CeremonyView {
  ceremonyId: string;
  script: { name: string; kind: string; version: number; title: string; sha256: string; rehearsal: boolean };
  status: CeremonyStatus;
  steps: StepView[];
  currentStepId: string | null;
  quorum?: { threshold: number; enrolled: string[]; approved: string[]; remaining: number };
  /** Custodians still waiting for their share at a distribute-shares step. */
  pendingCustodians?: string[];
  tail: TailEntryView[];
  outputs: OutputRecord[];
  lastError?: ErrorData;
  /** What the witnesses sign off and the printed record shows, read from the transcript (../summary.ts). */
  summary?: CeremonySummary;
}

export interface PerformResult {
  view: CeremonyView;
  reveal?: { custodian: string; shareCode: string };
}
