// The kms-import actions (ceremonies/kms-import.yaml): read the KMS import parameters and check the token
// can wrap with the chosen algorithm BEFORE anything is generated; generate the key material in the token
// and compute its check value there; wrap it in the token; export the import bundle to the stick. Nothing
// secret is recorded: the key's attributes, its check value, the wrapping algorithm and file SHA-256s.
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import type { TokenLayer } from '../../../hsm/token.js';
import type { SlotRef, TokenInfo } from '../../../hsm/types.js';
import { AppError } from '../../errors.js';
import {
  aesCheckValueMethod,
  checkTokenCanGenerate,
  checkTokenCanWrap,
  computeCheckValue,
  exportImportBundle,
  generateKmsKey,
  keyRecord,
  parseKeySpec,
  wrapForKms,
  type AesCheckValueMethod,
  type CheckValue,
  type KeyCheckWaivers,
  type KmsKeySpec,
} from '../../kms/index.js';
import { adoptKmsKey, newKeyCkaId } from '../../kms/keygen.js';
import { readCloudImportParameters } from '../../kms/params/cloud.js';
import { CLOUDS, type CloudTarget } from '../../kms/clouds/types.js';
import { withCloudRemedy } from '../../kms/clouds/token-remedy.js';
import { proveExactExport, probeRecord } from '../../kms/exactness.js';
import { sha256Hex } from '../../transcript/canonical.js';
import type { JsonObject } from '../../transcript/json-value.js';
import type { ActionContext, ActionImpl, KmsRunState } from '../engine/types.js';
import { absoluteDir, noInput } from './general.js';
import { selectToken, selectTokenInput } from './init-token.js';
import { isNssSoftoken, NSS_CKA_LOCAL_WAIVER } from './nss-softoken.js';
import { continuesChain, selectEnrolledToken } from './existing-chain.js';
import { enrolsInitializedToken, selectInitializedToken } from './enrol-token.js';

/**
 * select-token for every script: init-token's (a blank token); for enrolment-source scripts, the enrolled
 * token and its chain; for enrol-token (a script that takes the current PINs), an initialized token.
 */
export const selectTokenAction: ActionImpl<z.infer<typeof selectTokenInput>> = {
  name: 'select-token',
  input: selectTokenInput,
  describe: (input) => ({ ...input }),
  perform: (ctx, input) =>
    continuesChain(ctx) ? selectEnrolledToken(ctx, input) : enrolsInitializedToken(ctx.loaded.script) ? selectInitializedToken(ctx, input) : selectToken.perform(ctx, input),
};

const absolutePath = z
  .string({ error: 'must be the absolute path of a file or folder' })
  .min(1, { error: 'must be the absolute path of a file or folder' })
  .max(4096, { error: 'must be the absolute path of a file or folder' })
  .refine(isAbsolute, { error: 'must be the absolute path of a file or folder' });

function kmsState(ctx: ActionContext): KmsRunState {
  ctx.state.kms ??= {};
  return ctx.state.kms;
}

function need<T>(value: T | undefined, ctx: ActionContext, what: string, remedy: string): T {
  if (value === undefined) throw new AppError('ceremony-state', `step '${ctx.step.id}': ${what}`, remedy);
  return value;
}

/** The size of the KMS wrapping key (the RSA-OAEP block the probe must use too). */
function wrappingKeyBits(params: { wrappingKeySpec: string }): number {
  return Number(params.wrappingKeySpec.slice('RSA_'.length));
}

/**
 * The exactness proof, run now with the logged-in session when the parameters step could not run it before
 * the login (a YubiHSM does nothing outside an authenticated session). Returns the record for this step's
 * result when it ran here; refuses (throws) before anything is generated or wrapped when it is not exact.
 */
export async function exactnessAfterLogin(ctx: ActionContext, session: string, keySpec: KmsKeySpec): Promise<JsonObject | undefined> {
  const kms = kmsState(ctx);
  if (kms.exactness?.ran) return undefined;
  const slot = need(ctx.token.slot, ctx, 'no token was selected', 'Run select-token first.');
  const params = need(kms.params, ctx, 'no import parameters were loaded', 'Run load-import-parameters first.');
  const capability = need(kms.capability, ctx, 'the token was not checked for the wrapping algorithm', 'Run load-import-parameters first.');
  kms.exactness = await withCloudRemedy(params.cloud, () => proveExactExport(ctx.deps.layer, slot, {
    capability,
    keySpec,
    wrappingKeyBits: wrappingKeyBits(params),
    session,
    ...(ctx.token.info ? { tokenInfo: ctx.token.info } : {}),
  }));
  return probeRecord(kms.exactness) as JsonObject;
}

function keySpecOf(ctx: ActionContext): KmsKeySpec {
  return parseKeySpec(ctx.parameters.keySpec);
}

function loggedInSession(ctx: ActionContext): string {
  const session = ctx.token.session;
  if (!session || ctx.token.loggedIn !== 'user') throw new AppError('ceremony-no-session', `step '${ctx.step.id}': the token is not logged in`, 'The script must run quorum-login before this step.');
  return session;
}

export { isNssSoftoken, NSS_CKA_LOCAL_WAIVER } from './nss-softoken.js';

export const loadImportParametersInput = z.strictObject({
  /** The file (aws kms get-parameters-for-import --output json, or a console zip) or folder on the stick. */
  path: absolutePath,
  /** The algorithm requested from GetParametersForImport (the response does not name it); must be the ceremony's, which is used when it is left out. */
  wrappingAlgorithm: z.string({ error: 'must be a wrapping algorithm name' }).min(1).max(64).optional(),
  /** The key ARN when the input lacks it (console downloads), or to cross-check it. */
  keyArn: z.string({ error: 'must be a key ARN' }).min(1).max(2048).optional(),
  /** ParametersValidTo when the input lacks it (what the console showed), ISO 8601. */
  validTo: z.string({ error: 'must be an ISO 8601 time' }).min(1).max(64).optional(),
  /** Which cloud the material goes to (default aws); the file is that cloud's own download. */
  cloud: z.enum(CLOUDS, { error: `must be one of ${CLOUDS.join(', ')}` }).optional(),
  /** GCP crypto key, Azure key name, Vault transit key: where in the cloud the key goes. */
  target: z.string({ error: 'must be the key the material goes into' }).min(1).max(512).optional(),
  /** The cloud's own name for the key spec (GCP algorithm, Azure kty-size, Vault type). */
  targetAlgorithm: z.string({ error: 'must be the cloud\'s name for the key spec' }).min(1).max(64).optional(),
  importJob: z.string({ error: 'must be the import job name' }).min(1).max(512).optional(),
  importMethod: z.string({ error: 'must be the import method' }).min(1).max(64).optional(),
  kekId: z.string({ error: 'must be the KEK key id' }).min(1).max(512).optional(),
  hashFunction: z.string({ error: 'must be SHA1 or SHA256' }).min(1).max(16).optional(),
  importType: z.string({ error: 'must be NEW_KEY_MATERIAL or EXISTING_KEY_MATERIAL' }).min(1).max(32).optional(),
  keyMaterialDescription: z.string({ error: 'must be text' }).max(256).optional(),
  keyMaterialId: z.string({ error: 'must be 64 hex digits' }).min(1).max(64).optional(),
});

export const loadImportParameters: ActionImpl<z.infer<typeof loadImportParametersInput>> = {
  name: 'load-import-parameters',
  input: loadImportParametersInput,
  describe: (input) => ({ ...input }),
  async perform(ctx, input) {
    const keySpec = keySpecOf(ctx);
    const chosen = ctx.parameters.wrappingAlgorithm;
    if (typeof chosen === 'string' && input.wrappingAlgorithm !== undefined && input.wrappingAlgorithm !== chosen) {
      throw new AppError('kms-algorithm-mismatch', `input.wrappingAlgorithm: ${input.wrappingAlgorithm} is not the algorithm this ceremony was started with (${chosen})`, 'Load the parameters that were requested with the ceremony\'s algorithm, or start the ceremony again with the right one.');
    }
    const clock = ctx.deps.clock ?? (() => new Date());
    const { path, cloud, ...rest } = input;
    const wrappingAlgorithm = input.wrappingAlgorithm ?? chosen;
    if (typeof wrappingAlgorithm !== 'string') throw new AppError('kms-algorithm-missing', 'input.wrappingAlgorithm is missing and this ceremony names none.', 'Give the wrapping algorithm the parameters were requested with.');
    const params = await readCloudImportParameters({ ...rest, cloud: cloud ?? 'aws', path, wrappingAlgorithm, keySpec, now: clock });
    const slot = ctx.token.slot;
    const target = params.cloud as CloudTarget;
    const data: JsonObject = {
      cloud: target.cloud,
      target: params.keyArn ?? params.keyId,
      targetDetails: { ...target } as JsonObject,
      keyArn: params.keyArn ?? null,
      keyId: params.keyId,
      partition: params.partition ?? null,
      region: params.region ?? null,
      account: params.account ?? null,
      keySpec,
      wrappingAlgorithm: params.wrappingAlgorithm,
      wrappingKeySpec: params.wrappingKeySpec,
      wrappingPublicKeySha256: sha256Hex(params.publicKeySpkiDer),
      importTokenSha256: sha256Hex(params.importToken),
      importTokenLength: params.importToken.length,
      validTo: params.validTo ?? null,
      source: { ...params.source },
      warnings: [...params.warnings],
    };
    // A resumed ceremony may load fresh parameters (the old ones expire in 24 hours), but for the same KMS key.
    const before = ctx.resumed?.entriesOf(ctx.step.id).filter((e) => e.kind === 'result').at(-1)?.data as { keyId?: unknown } | undefined;
    if (typeof before?.keyId === 'string' && before.keyId !== params.keyId) {
      throw new AppError(
        'kms-key-changed',
        `input.path: these parameters are for KMS key ${params.keyId}, but this ceremony loaded parameters for KMS key ${before.keyId} before it was interrupted`,
        `Load import parameters of KMS key ${before.keyId} (GetParametersForImport again if they expired).`,
      );
    }
    if (before) data.resumed = { sameWrappingKeyAsBefore: (before as { wrappingPublicKeySha256?: unknown }).wrappingPublicKeySha256 === data.wrappingPublicKeySha256 };
    const kms = kmsState(ctx);
    kms.params = params;
    kms.capability = undefined;
    kms.exactness = undefined;
    if (slot) {
      // Refuse now, before any quorum login or key generation, when the token cannot do it, or cannot do it
      // exactly (a throw-away key of this spec, wrapped the same way, must unwrap as a strict receiver wants).
      const cached = kms.tokenCapabilities;
      const probed = cached && cached.slot.moduleId === slot.moduleId && cached.slot.slotId === slot.slotId ? cached.capabilities : undefined;
      const capability = await withCloudRemedy(target, () => checkTokenCanWrap(ctx.deps.layer, slot, params.wrappingAlgorithm, keySpec, probed));
      await checkTokenCanGenerate(ctx.deps.layer, slot, keySpec, ctx.token.session, String(ctx.parameters.keyLabel));
      const exactness = await withCloudRemedy(target, () => proveExactExport(ctx.deps.layer, slot, { capability, keySpec, wrappingKeyBits: wrappingKeyBits(params), ...(ctx.token.info ? { tokenInfo: ctx.token.info } : {}) }));
      kms.capability = capability;
      kms.exactness = exactness;
      data.tokenCan = { wrap: params.wrappingAlgorithm, method: capability.method ?? null, probed: capability.probed, generate: keySpec, exactExport: probeRecord(exactness) as JsonObject };
    }
    return { done: true, data };
  },
};

/** What this ceremony recorded about its key before a resume: the CKA_IDs it asked for or got, and the check value. */
function earlierKey(ctx: ActionContext): { ids: string[]; checkValue?: CheckValue; hadResult: boolean; intents: number } | undefined {
  if (!ctx.resumed) return undefined;
  const entries = ctx.resumed.entriesOf(ctx.step.id);
  const ids: string[] = [];
  let checkValue: CheckValue | undefined;
  let hadResult = false;
  let intents = 0;
  for (const e of entries) {
    const d = e.data as { key?: { requestedId?: unknown; id?: unknown }; checkValue?: CheckValue };
    if (e.kind === 'intent') {
      intents += 1;
      if (typeof d.key?.requestedId === 'string') ids.push(d.key.requestedId);
    }
    if (e.kind === 'result') {
      hadResult = true;
      if (typeof d.key?.id === 'string') ids.push(d.key.id);
      if (d.checkValue) checkValue = d.checkValue;
    }
  }
  if (intents === 0 && !hadResult) return undefined;
  return { ids: [...new Set(ids)], ...(checkValue ? { checkValue } : {}), hadResult, intents };
}

/** CMAC wherever the token offers it; AES-ECB of a zero block only where it does not (docs/key-check-values.md). */
async function tokenAesMethod(layer: TokenLayer, slot: SlotRef): Promise<AesCheckValueMethod> {
  return aesCheckValueMethod(await layer.listMechanisms(slot)) ?? 'AES-CMAC-ZERO-BLOCK';
}

export const generateKey: ActionImpl<Record<string, never>> = {
  name: 'generate-key',
  input: noInput,
  // The CKA_ID is drawn from the token's RNG and recorded before the key is generated, so that a resume
  // after a crash between generation and result can tell this ceremony's key from another.
  async intent(ctx) {
    const slot = need(ctx.token.slot, ctx, 'no token was selected', 'Run select-token first.');
    const requestedId = await newKeyCkaId(ctx.deps.layer, loggedInSession(ctx), slot.moduleId);
    kmsState(ctx).requestedId = requestedId;
    return { key: { label: String(ctx.parameters.keyLabel), keySpec: String(ctx.parameters.keySpec), requestedId: Buffer.from(requestedId).toString('hex') } };
  },
  async perform(ctx) {
    const session = loggedInSession(ctx);
    const slot = need(ctx.token.slot, ctx, 'no token was selected', 'Run select-token first.');
    const kms = kmsState(ctx);
    const params = need(kms.params, ctx, 'no import parameters were loaded', 'Run load-import-parameters first.');
    if (kms.key) throw new AppError('ceremony-state', `step '${ctx.step.id}': a key was already generated in this ceremony (${kms.key.label})`, 'Go on with the next step.');
    const keySpec = keySpecOf(ctx);
    const label = String(ctx.parameters.keyLabel);
    const { layer } = ctx.deps;
    // Nothing is generated that cannot be wrapped: the parameters step probed this token for these
    // parameters (a reload of the parameters clears it); probe here only if it could not.
    kms.capability ??= await checkTokenCanWrap(layer, slot, params.wrappingAlgorithm, keySpec);
    await checkTokenCanGenerate(layer, slot, keySpec, session);
    const exactExport = await exactnessAfterLogin(ctx, session, keySpec);
    const waivers: KeyCheckWaivers = isNssSoftoken(slot.moduleId, ctx.token.info) ? { CKA_LOCAL: NSS_CKA_LOCAL_WAIVER } : {};
    const earlier = earlierKey(ctx);
    if (earlier) {
      // A resumed ceremony: the key may already be in the token. Ask the token before generating.
      const adopted = await adoptKmsKey(layer, session, keySpec, label, waivers, earlier.ids);
      if (adopted) {
        const checkValue = await computeCheckValue(layer, session, adopted, { aesMethod: earlier.checkValue?.method === 'AES-ECB-ZERO-BLOCK' ? 'AES-ECB-ZERO-BLOCK' : await tokenAesMethod(layer, slot) });
        if (earlier.checkValue && (earlier.checkValue.method !== checkValue.method || earlier.checkValue.value !== checkValue.value)) {
          throw new AppError(
            'kms-key-mismatch',
            `the key labelled '${label}' has check value ${checkValue.value}, but this ceremony recorded ${earlier.checkValue.value} when it generated it: it is not the same key material`,
            'Abandon this ceremony and have the room inspect the token before starting a new one.',
          );
        }
        kms.key = adopted;
        kms.checkValue = checkValue;
        const data: JsonObject = {
          key: keyRecord(adopted) as JsonObject,
          checkValue: { ...checkValue } as unknown as JsonObject,
          recovered: {
            from: earlier.hadResult ? 'result' : 'intent',
            note: earlier.hadResult
              ? 'generated before the interruption (its result was recorded); found again by label and CKA_ID, checked, and its check value recomputed and compared'
              : 'generated before the interruption, which came before its result was recorded; found by label and the CKA_ID recorded in the intent, and checked as a new key',
          },
        };
        if (adopted.waivers.length > 0) data.waivers = { CKA_LOCAL: waivers.CKA_LOCAL ?? '' };
        if (exactExport) data.exactExport = exactExport;
        return { done: true, data };
      }
      if (earlier.hadResult) {
        throw new AppError(
          'kms-key-missing',
          `the key labelled '${label}' that this ceremony generated (CKA_ID ${earlier.ids.join(' or ')}) is no longer in the token`,
          'Abandon this ceremony and find out what removed the key; generating another would make different material.',
        );
      }
    }
    for (const cls of ['SECRET_KEY', 'PRIVATE_KEY'] as const) {
      const same = await layer.findAll(session, { class: cls, label });
      if (same.length > 0) throw new AppError('kms-label-taken', `parameters.keyLabel: the token already holds a key labelled '${label}'`, 'Choose another key label (kms-rewrap re-exports an existing key).');
    }
    const aesMethod = await tokenAesMethod(layer, slot);
    const key = await generateKmsKey(layer, session, keySpec, label, waivers, kms.requestedId, aesMethod);
    kms.key = key;
    const checkValue = await computeCheckValue(layer, session, key, { aesMethod });
    kms.checkValue = checkValue;
    const data: JsonObject = { key: keyRecord(key) as JsonObject, checkValue: { ...checkValue } as unknown as JsonObject };
    if (waivers.CKA_LOCAL) data.waivers = { CKA_LOCAL: waivers.CKA_LOCAL };
    if (exactExport) data.exactExport = exactExport;
    return { done: true, data };
  },
};

export const wrapKey: ActionImpl<Record<string, never>> = {
  name: 'wrap-key',
  input: noInput,
  async perform(ctx) {
    const session = loggedInSession(ctx);
    const kms = kmsState(ctx);
    const params = need(kms.params, ctx, 'no import parameters were loaded', 'Run load-import-parameters first.');
    const key = need(kms.key, ctx, 'no key was generated', 'Run generate-key first.');
    const capability = need(kms.capability, ctx, 'the token was not checked for the wrapping algorithm', 'Run generate-key first.');
    // Nothing is wrapped for export that was not first proven exact for this key spec and path.
    if (!kms.exactness?.ran || kms.exactness.keySpec !== key.keySpec || kms.exactness.algorithm !== capability.algorithm) {
      throw new AppError('ceremony-state', `step '${ctx.step.id}': the export of ${key.keySpec} with ${capability.algorithm} was not proven exact on this token`, 'Run generate-key (kms-import) or find-key (kms-rewrap) first: they probe the token before the key is touched.');
    }
    const wrap = await wrapForKms(ctx.deps.layer, session, { capability, wrappingPublicKeySpkiDer: params.publicKeySpkiDer, key: key.handle });
    kms.wrap = wrap;
    const data: JsonObject = {
      algorithm: wrap.algorithm,
      method: wrap.method,
      wrappingPublicKeySha256: sha256Hex(params.publicKeySpkiDer),
      encryptedKeyMaterial: { bytes: wrap.encryptedKeyMaterial.length, sha256: sha256Hex(wrap.encryptedKeyMaterial) },
      rsaPartLength: wrap.rsaPartLength,
    };
    if (wrap.aesPartLength !== undefined) data.aesPartLength = wrap.aesPartLength;
    return { done: true, data };
  },
};

export const exportWrappedKeyInput = z.strictObject({
  /** The folder on the stick the bundle folder is created in. */
  destinationDir: absoluteDir,
  /** The bundle folder's name; default kms-import-<key label>-<ceremony id>. */
  name: z.string({ error: 'must be a folder name' }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, { error: 'must be a plain folder name (letters, digits, dot, dash, underscore)' }).optional(),
});

export const exportWrappedKey: ActionImpl<z.infer<typeof exportWrappedKeyInput>> = {
  name: 'export-wrapped-key',
  input: exportWrappedKeyInput,
  describe: (input) => ({ ...input }),
  async perform(ctx, input) {
    const kms = kmsState(ctx);
    const params = need(kms.params, ctx, 'no import parameters were loaded', 'Run load-import-parameters first.');
    const key = need(kms.key, ctx, 'no key was generated', 'Run generate-key first.');
    const checkValue = need(kms.checkValue, ctx, 'no check value was computed', 'Run generate-key first.');
    const wrap = need(kms.wrap, ctx, 'the key was not wrapped', 'Run wrap-key first.');
    const head = ctx.chain()?.head();
    // A resumed run never writes where the interrupted one may have (exports are never overwritten).
    const resumedSuffix = ctx.resumed ? `-resumed-${ctx.resumed.attempt}` : '';
    const name = input.name ?? `kms-import-${key.label}-${ctx.ceremonyId}${resumedSuffix}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128);
    const bundle = await exportImportBundle({
      parentDir: input.destinationDir,
      name,
      params,
      keySpec: key.keySpec,
      keyLabel: key.label,
      keyIdHex: key.idHex,
      checkValue,
      wrap,
      ceremonyId: ctx.ceremonyId,
      ...(head ? { transcriptHead: head.hash } : {}),
      createdAt: (ctx.deps.clock ?? (() => new Date()))(),
      generator: `keyceremony ${ctx.deps.appVersion}; ${ctx.token.info ? `${ctx.token.info.manufacturer} ${ctx.token.info.model} serial ${ctx.token.info.serial}`.replace(/\s+/g, ' ').trim() : 'PKCS#11 token'}`,
    });
    const manifest = bundle.files.find((f) => f.name === 'import-manifest.json');
    ctx.state.outputs.push({ kind: 'kms-import', path: bundle.dir, sha256: manifest?.sha256 ?? '' });
    return {
      done: true,
      data: {
        path: bundle.dir,
        files: bundle.files.map((f) => ({ name: f.name, bytes: f.bytes, sha256: f.sha256 })),
        checkValue: { ...checkValue } as unknown as JsonObject,
        cloud: params.cloud?.cloud ?? 'aws',
        target: params.keyArn ?? params.keyId,
        keyArn: params.keyArn ?? null,
        keyId: params.keyId,
        transcriptHead: head?.hash ?? null,
      },
    };
  },
};
