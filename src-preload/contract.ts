// The IPC contract, declared once: preload builds `window.keyceremony` from the method names, main validates
// every payload against `request` and every answer against `response`, and the renderer's types are
// inferred from the same schemas. One named method per operation; no generic passthrough.
import { z } from 'zod';

const errorData = z.object({
  code: z.string(),
  message: z.string(),
  remedy: z.string().optional(),
});

const none = z.object({}).strict();

const moduleSource = z.enum(['default', 'user', 'demo']);

const moduleStatus = z.object({
  id: z.string(),
  path: z.string(),
  source: moduleSource,
  loaded: z.boolean(),
  error: errorData.optional(),
  library: z
    .object({
      manufacturer: z.string(),
      description: z.string(),
      cryptokiVersion: z.string(),
      libraryVersion: z.string(),
    })
    .optional(),
});

const tokenInfo = z.object({
  label: z.string(),
  manufacturer: z.string(),
  model: z.string(),
  serial: z.string(),
  initialized: z.boolean(),
  loginRequired: z.boolean(),
  userPinInitialized: z.boolean(),
  userPinLocked: z.boolean(),
  userPinCountLow: z.boolean(),
  userPinFinalTry: z.boolean(),
  soPinLocked: z.boolean(),
  writeProtected: z.boolean(),
  hasRng: z.boolean(),
  protectedAuthenticationPath: z.boolean(),
  minPinLength: z.number(),
  maxPinLength: z.number(),
  flags: z.number(),
});

const kmsAlgorithm = z.enum(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_1', 'RSA_AES_KEY_WRAP_SHA_256']);

const kmsCapability = z.object({
  algorithm: kmsAlgorithm,
  supported: z.boolean(),
  method: z.string().optional(),
  reason: z.string(),
  probed: z.boolean(),
});

const slotEntry = z.object({
  moduleId: z.string(),
  slotId: z.string(),
  description: z.string(),
  manufacturer: z.string(),
  tokenPresent: z.boolean(),
  removable: z.boolean(),
  hardware: z.boolean(),
  token: tokenInfo.optional(),
  /** PKCS#11 URI that selects this token, when one is present. */
  uri: z.string().optional(),
  mechanismCount: z.number().optional(),
  capabilities: z.array(kmsCapability),
  /** The token's audit key SPKI SHA-256 (hex): how the app tells tokens apart (labels and serials may repeat). */
  auditKeySha256: z.string().optional(),
  /** The token's transcript chain on this laptop: the init-token ceremony that started it, and when. */
  chain: z.object({ startedBy: z.string(), at: z.string() }).optional(),
  /** Why the slot could not be read fully (the rest of the entry is still shown). */
  error: errorData.optional(),
});

const inventory = z.object({
  modules: z.array(moduleStatus),
  slots: z.array(slotEntry),
  takenAt: z.string(),
});

const airGapInterface = z.object({
  name: z.string(),
  addresses: z.array(z.string()),
});

const airGapStatus = z.object({
  offline: z.boolean(),
  interfaces: z.array(airGapInterface),
  checkedAt: z.string(),
  /** Set when the check itself failed; the status is then treated as not offline. */
  error: z.string().optional(),
});

const selectionId = (from: string) => z.string().uuid(`selectionId must come from ${from}`);

/** A PKCS#11 library is added only as the file chosen in main's dialog (chooseModuleFile), never a typed path. */
const addModuleInput = z
  .object({
    selectionId: selectionId('chooseModuleFile'),
    initParameters: z.string().max(4096, 'initParameters is longer than 4096 characters').optional(),
  })
  .strict();

/** A YubiHSM 2 loads no library: plugged in (usb) or through a yubihsm-connector on this computer (loopback). */
const addYubiHsmInput = z.discriminatedUnion('via', [
  z.object({ via: z.literal('usb') }).strict(),
  z.object({ via: z.literal('connector'), url: z.string().min(1, 'url is required').max(200, 'url is longer than 200 characters') }).strict(),
]);

/** Module ids are opaque (main maps them to paths); the path is only shown. */
const moduleId = z.string().min(1, 'moduleId is required').max(100);

const moduleSetting = z.object({
  id: z.string(),
  path: z.string(),
  initParameters: z.string().optional(),
  source: moduleSource,
});

const demoToken = z.object({
  label: z.string(),
  slotId: z.string(),
  soPin: z.string(),
  userPin: z.string(),
  note: z.string(),
});

const appInfo = z.object({
  name: z.string(),
  version: z.string(),
  platform: z.string(),
  /** Where SoftHSM keeps the app's own tokens, shown so the room knows where the demo token lives. */
  softHsmConf: z.string().optional(),
});

const verifyCheck = z.object({
  id: z.string(),
  status: z.enum(['pass', 'fail', 'skipped']),
  detail: z.string(),
  bundle: z.string().optional(),
  seq: z.number().optional(),
});

const timelineEntry = z.object({
  seq: z.number(),
  time: z.string(),
  ceremonyId: z.string(),
  step: z.string(),
  kind: z.string(),
  actor: z.string(),
  hash: z.string(),
  prev: z.string(),
  /** Canonical JSON of the entry's data, cut at a few kilobytes for display. */
  data: z.string(),
});

/** What kind of ceremony one was, as the verifier judged it (src-main/transcript/ceremony-kind.ts). */
const ceremonyJudgement = z.object({
  ceremonyId: z.string(),
  judged: z.boolean(),
  firstSeq: z.number(),
  startSeq: z.number().optional(),
  script: z
    .object({ name: z.string(), kind: z.string(), version: z.number().nullable(), sha256: z.string(), status: z.enum(['shipped', 'allowed', 'unknown']), shippedIn: z.array(z.string()) })
    .optional(),
  rehearsal: z.boolean().optional(),
  airGap: z.enum(['offline', 'online', 'not recorded']),
  appVersions: z.array(z.string()),
  state: z.string(),
  problems: z.array(z.string()),
});

const verifyResult = z.object({
  /** Integrity only; the verdict says whether it was a production ceremony. */
  ok: z.boolean(),
  verdict: z.object({ status: z.enum(['production', 'not-production', 'broken']), reasons: z.array(z.string()) }),
  ceremonies: z.array(ceremonyJudgement),
  checks: z.array(verifyCheck),
  firstFailure: verifyCheck.nullable(),
  bundles: z.array(
    z.object({ path: z.string(), format: z.number().nullable(), ceremonyIds: z.array(z.string()), first: z.number().nullable(), last: z.number().nullable(), head: z.string().nullable(), count: z.number() }),
  ),
  /** The first entries (a few thousand at most); entryCount counts every verified entry. */
  entries: z.array(timelineEntry),
  entryCount: z.number(),
});

const scriptParameter = z.object({
  name: z.string(),
  label: z.string(),
  type: z.enum(['string', 'integer', 'boolean', 'custodians']),
  description: z.string(),
  min: z.number().optional(),
  max: z.number().optional(),
  minLength: z.number().optional(),
  maxLength: z.number().optional(),
  pattern: z.string().optional(),
});

const scriptSummary = z.object({
  name: z.string(),
  kind: z.string(),
  version: z.number(),
  label: z.string(),
  title: z.string(),
  description: z.string().optional(),
  rehearsal: z.boolean(),
  sha256: z.string(),
  parameters: z.array(scriptParameter),
  steps: z.array(z.object({ id: z.string(), title: z.string(), action: z.string(), approvals: z.enum(['none', 'quorum']) })),
  roles: z.object({
    administrator: z.string(),
    custodians: z.object({ description: z.string(), source: z.enum(['parameters', 'enrolment', 'domain']) }),
    witnesses: z.object({ description: z.string(), min: z.number() }),
  }),
  /** What the room must bring, derived from the steps' actions. */
  bring: z.array(z.object({ item: z.string(), steps: z.array(z.string()) })),
});

/** The sign-off summary, read in main from the ceremony's transcript entries (src-main/ceremony/summary.ts). */
const ceremonySummary = z.object({
  ceremonyId: z.string(),
  rehearsal: z.boolean(),
  administrator: z.string().optional(),
  witnesses: z.array(z.string()),
  token: z.object({ label: z.string(), serial: z.string(), model: z.string(), manufacturer: z.string() }).optional(),
  reinitialize: z.object({ reason: z.enum(['interrupted-attempt', 'allowReinitialize']), interruptedCeremonyId: z.string().optional(), voidShares: z.array(z.string()).optional() }).optional(),
  key: z
    .object({
      cloud: z.string().optional(),
      target: z.string().optional(),
      arn: z.string().nullable(),
      keyId: z.string(),
      region: z.string().nullable(),
      account: z.string().nullable(),
      keySpec: z.string(),
      label: z.string().optional(),
      wrappingAlgorithm: z.string(),
      wrappingKeySpec: z.string().optional(),
      wrapMethod: z.string().optional(),
      checkValue: z.object({ value: z.string(), method: z.string(), description: z.string() }).optional(),
      validTo: z.string().optional(),
      warnings: z.array(z.string()),
    })
    .optional(),
  backup: z
    .object({ label: z.string(), keySpec: z.string(), id: z.string(), checkValue: z.object({ value: z.string(), method: z.string() }).optional(), domainId: z.string().optional(), mechanism: z.string().optional(), manifestSha256: z.string().optional() })
    .optional(),
  files: z.array(z.object({ kind: z.enum(['share', 'kms-import', 'key-backup', 'bundle']), name: z.string(), folder: z.string().optional(), sha256: z.string(), bytes: z.number().optional() })),
  approvals: z.array(z.object({ step: z.string(), threshold: z.number(), custodians: z.array(z.string()) })),
  signedOff: z.array(z.object({ witness: z.string(), statement: z.string() })),
  head: z.object({ seq: z.number().optional(), hash: z.string() }).optional(),
  sealed: z.object({ seq: z.number(), hash: z.string() }).optional(),
  destroyed: z.object({ label: z.string(), keySpec: z.string(), checkValue: z.string().optional(), objects: z.number().optional(), gone: z.boolean() }).optional(),
  audit: z.object({ clean: z.boolean(), objects: z.number(), findings: z.array(z.string()) }).optional(),
  rotation: z.object({ changed: z.array(z.string()), oldSharesRefused: z.boolean(), otherTokens: z.array(z.object({ label: z.string(), serial: z.string() })).optional(), note: z.string().optional(), newCustodians: z.array(z.string()).optional(), threshold: z.number().optional() }).optional(),
});

const ceremonyStep = z.object({
  id: z.string(),
  title: z.string(),
  instructions: z.string(),
  action: z.string(),
  approvals: z.enum(['none', 'quorum']),
  confirm: z.object({ prompt: z.string(), word: z.string() }).optional(),
  status: z.enum(['pending', 'current', 'done', 'failed']),
  summary: z.string().optional(),
});

const tailEntry = z.object({ seq: z.number().optional(), time: z.string(), step: z.string(), kind: z.string(), actor: z.string(), hash: z.string() });

const ceremonyView = z.object({
  ceremonyId: z.string(),
  script: z.object({ name: z.string(), kind: z.string(), version: z.number(), title: z.string(), sha256: z.string(), rehearsal: z.boolean() }),
  status: z.enum(['running', 'completed', 'aborted', 'interrupted']),
  steps: z.array(ceremonyStep),
  currentStepId: z.string().nullable(),
  quorum: z.object({ threshold: z.number(), enrolled: z.array(z.string()), approved: z.array(z.string()), remaining: z.number() }).optional(),
  /** Custodians still waiting for their share at a distribution step. */
  pendingCustodians: z.array(z.string()).optional(),
  tail: z.array(tailEntry),
  outputs: z.array(z.object({ kind: z.string(), path: z.string(), sha256: z.string() })),
  lastError: errorData.optional(),
  summary: ceremonySummary.optional(),
});

/**
 * A path the user chose through main's dialog stands in a step's input as { "$selection": id }, bound to the
 * field it was chosen for; a token is named by the opaque moduleId from getInventory. Main refuses typed paths.
 */
const stepInput = z.record(z.string(), z.unknown());

export const contract = {
  getAppInfo: { request: none, response: appInfo },
  getInventory: { request: none, response: inventory },
  getAirGapStatus: { request: none, response: airGapStatus },
  listModuleSettings: { request: none, response: z.array(moduleSetting) },
  addModule: { request: addModuleInput, response: z.array(moduleSetting) },
  addYubiHsm: { request: addYubiHsmInput, response: z.array(moduleSetting) },
  removeModule: { request: z.object({ moduleId }).strict(), response: z.array(moduleSetting) },
  chooseModuleFile: { request: none, response: z.object({ selection: z.object({ id: z.string(), file: z.string() }).nullable() }) },
  createDemoToken: { request: none, response: demoToken },
  chooseBundleFolders: {
    request: none,
    response: z.object({ selection: z.object({ id: z.string(), folders: z.array(z.string()) }).nullable() }),
  },
  listCeremonyScripts: { request: none, response: z.array(scriptSummary) },
  listPastCeremonies: {
    request: none,
    response: z.array(
      z.object({
        ceremonyId: z.string(),
        kind: z.string(),
        status: z.enum(['running', 'completed', 'aborted', 'interrupted']),
        /** Interrupted after it joined its token's chain: the room may resume it or abandon it. */
        resumable: z.boolean().optional(),
        /** Aborted by the room's Abandon after an interruption (Home, or `keyceremony abandon`). */
        abandoned: z.boolean().optional(),
        startedAt: z.string().optional(),
        token: z.object({ serial: z.string(), label: z.string() }).optional(),
        sharesVoid: z.array(z.string()),
        /** An init-token stopped once it began initializing its token: how its shares re-initialize it. */
        wayOut: z.string().optional(),
      }),
    ),
  },
  getPastCeremony: {
    request: z.object({ ceremonyId: z.string().min(1, 'ceremonyId is required').max(200) }).strict(),
    response: z.object({ ceremonyId: z.string(), kind: z.string(), status: z.enum(['running', 'completed', 'aborted', 'interrupted']), summary: ceremonySummary, entries: z.array(tailEntry) }),
  },
  resumeCeremony: { request: z.object({ ceremonyId: z.string().min(1, 'ceremonyId is required') }).strict(), response: ceremonyView },
  abandonCeremony: {
    request: z.object({ ceremonyId: z.string().min(1, 'ceremonyId is required'), reason: z.string().min(3, 'reason: say why the ceremony is abandoned (at least 3 characters)').max(2000) }).strict(),
    response: z.object({ ceremonyId: z.string(), status: z.enum(['running', 'completed', 'aborted', 'interrupted']) }),
  },
  startCeremony: {
    request: z.object({ script: z.string().min(1, 'script is required'), parameters: z.record(z.string(), z.unknown()), rehearsal: z.boolean().optional() }).strict(),
    response: ceremonyView,
  },
  getCeremony: { request: z.object({ ceremonyId: z.string().min(1) }).strict(), response: ceremonyView },
  performStep: {
    request: z.object({ ceremonyId: z.string().min(1), stepId: z.string().min(1), input: stepInput }).strict(),
    response: z.object({ view: ceremonyView, reveal: z.object({ custodian: z.string(), shareCode: z.string() }).optional() }),
  },
  abortCeremony: {
    request: z.object({ ceremonyId: z.string().min(1), reason: z.string().min(3, 'reason: say why the ceremony is aborted (at least 3 characters)').max(2000) }).strict(),
    response: ceremonyView,
  },
  chooseFolder: {
    request: z.object({ purpose: z.enum(['share-destination', 'bundle-destination', 'key-destination', 'backup-destination', 'key-backup', 'import-parameters']) }).strict(),
    response: z.object({
      selection: z.object({ id: z.string(), folder: z.string() }).nullable(),
      /** For a destination: whether the folder is on a removable drive (null: this system cannot tell). */
      drive: z.object({ onRemovable: z.boolean().nullable(), message: z.string() }).optional(),
    }),
  },
  listRemovableDrives: {
    request: none,
    response: z.array(z.object({ mountPoint: z.string(), source: z.string(), fsType: z.string().optional(), why: z.enum(['media-folder', 'sysfs-removable', 'macos-volume', 'drive-letter-unconfirmed']) })),
  },
  chooseShareFile: { request: none, response: z.object({ selection: z.object({ id: z.string(), file: z.string() }).nullable() }) },
  chooseImportParametersFile: { request: none, response: z.object({ selection: z.object({ id: z.string(), file: z.string() }).nullable() }) },
  importBundles: {
    request: z.object({ selectionId: selectionId('chooseBundleFolders') }).strict(),
    response: z.object({ chain: z.string(), imported: z.number(), alreadyHeld: z.number(), head: z.object({ seq: z.number(), hash: z.string() }).nullable() }),
  },
  verifyBundles: { request: z.object({ selectionId: selectionId('chooseBundleFolders') }).strict(), response: verifyResult },
} as const;

export type Contract = typeof contract;
export type MethodName = keyof Contract;
export const METHOD_NAMES = Object.keys(contract) as MethodName[];

export type Request<M extends MethodName> = z.input<Contract[M]['request']>;
export type Response<M extends MethodName> = z.output<Contract[M]['response']>;
export type ErrorData = z.output<typeof errorData>;
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorData };

/** The object preload exposes as `window.keyceremony`. */
export type KeyCeremonyApi = { [M in MethodName]: (request: Request<M>) => Promise<Result<Response<M>>> };

export const resultSchema = <T extends z.ZodType>(value: T) =>
  z.union([z.object({ ok: z.literal(true), value }), z.object({ ok: z.literal(false), error: errorData })]);

/** IPC channel names are derived, never typed by hand in two places. */
export const channelFor = (method: MethodName): string => `keyceremony:${method}`;

export type Inventory = Response<'getInventory'>;
export type SlotEntry = Inventory['slots'][number];
export type AirGapStatus = Response<'getAirGapStatus'>;
export type ModuleSetting = Response<'listModuleSettings'>[number];
export type KmsCapabilityView = z.output<typeof kmsCapability>;
export type VerifyResult = Response<'verifyBundles'>;
export type TimelineEntry = VerifyResult['entries'][number];
export type CeremonyView = Response<'getCeremony'>;
export type CeremonyStepView = CeremonyView['steps'][number];
export type ScriptSummary = Response<'listCeremonyScripts'>[number];
export type CeremonySummaryView = NonNullable<CeremonyView['summary']>;
