// From what a reader found to ImportParameters: the caller's wrapping algorithm, the wrapping key, the
// token size, the key ARN and the expiry, each checked with an error that names the field or file.
import { AppError } from '../../errors.js';
import { checkAlgorithmForKeySpec, parseWrappingAlgorithm } from '../rules.js';
import type { ImportParameters, KmsKeySpec } from '../types.js';
import { KMS_PARAMS_ERROR, parseKeyRef } from './arn.js';
import { parseValidTo } from './cli-json.js';
import { checkWrappingPublicKey } from './public-key.js';
import type { RawImportParameters } from './raw.js';

/** ImportToken is 1-6144 bytes (AWS API reference). */
export const IMPORT_TOKEN_MAX = 6144;
/** Below this much time left the room is warned: a quorum login and a wrap take a while. */
export const VALID_TO_WARNING_MS = 2 * 60 * 60 * 1000;
/** Parameters are valid 24 hours; a ValidTo further out than this means a wrong clock or an edited file. */
const VALID_TO_MAX_AHEAD_MS = 25 * 60 * 60 * 1000;

export interface ImportParameterOptions {
  /** The algorithm requested from GetParametersForImport; the response does not say. */
  wrappingAlgorithm: unknown;
  /** When known, the algorithm is checked against it (RSA keys need RSA_AES_KEY_WRAP_*, ...). */
  keySpec?: KmsKeySpec;
  /** The key ARN (or id) when the input does not carry one (console downloads), or to cross-check it. */
  keyRef?: string;
  /** ParametersValidTo when the input does not carry it (console downloads show it on screen). */
  validTo?: string | number;
  /** Injected clock. */
  now: () => Date;
}

function hhmm(ms: number): string {
  const m = Math.floor(ms / 60000);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function finishImportParameters(raw: RawImportParameters, options: ImportParameterOptions): ImportParameters {
  const warnings = [...raw.notes];
  const wrappingAlgorithm = parseWrappingAlgorithm(options.wrappingAlgorithm);
  const key = checkWrappingPublicKey(raw.publicKey.der, raw.publicKey.from);

  const token = raw.importToken.token;
  if (token.length === 0) {
    throw new AppError(KMS_PARAMS_ERROR, `${raw.importToken.from} is empty.`, 'Bring the import token from the same GetParametersForImport response as the public key.');
  }
  if (token.length > IMPORT_TOKEN_MAX) {
    throw new AppError(
      KMS_PARAMS_ERROR,
      `${raw.importToken.from} is ${token.length} bytes; an AWS KMS import token is at most ${IMPORT_TOKEN_MAX}.`,
      'Check that the right file was chosen as the import token (not a zip or a key); download the parameters again if in doubt.',
    );
  }

  // The key: from the input, else from the caller; both present must agree.
  const fromInput = raw.keyRef ? parseKeyRef(raw.keyRef.value, raw.keyRef.from) : undefined;
  const fromCaller = options.keyRef !== undefined ? parseKeyRef(options.keyRef, 'keyArn') : undefined;
  if (fromInput && fromCaller && fromInput.keyId !== fromCaller.keyId) {
    throw new AppError(
      KMS_PARAMS_ERROR,
      `keyArn names key ${fromCaller.keyId} but ${raw.keyRef?.from} names key ${fromInput.keyId}.`,
      'Use the parameters downloaded for the key you mean to import into, or correct the key ARN.',
    );
  }
  if (!fromInput && !fromCaller) {
    throw new AppError(KMS_PARAMS_ERROR, `keyArn is missing: ${raw.path} does not say which KMS key the parameters belong to.`, 'Enter the key ARN shown in the KMS console for this key.');
  }
  // The fuller of the two (an ARN beats a bare id).
  const ref = fromInput && !fromInput.bare ? fromInput : fromCaller && !fromCaller.bare ? fromCaller : (fromInput ?? fromCaller)!;
  if (ref.bare) warnings.push(`Only the key id ${ref.keyId} is known, not its account and Region: confirm them in the KMS console.`);

  let validToIso: string;
  if (raw.validTo) validToIso = raw.validTo.iso;
  else if (options.validTo !== undefined) validToIso = parseValidTo(options.validTo, 'validTo');
  else {
    throw new AppError(
      KMS_PARAMS_ERROR,
      `validTo is missing: ${raw.path} does not say until when the parameters are valid.`,
      'Enter the expiry the KMS console showed when you downloaded them (24 hours after the download).',
    );
  }
  const now = options.now().getTime();
  const left = Date.parse(validToIso) - now;
  const validToFrom = raw.validTo?.from ?? 'validTo';
  if (left <= 0) {
    throw new AppError(
      KMS_PARAMS_ERROR,
      `${validToFrom}: the parameters expired at ${validToIso} (${hhmm(-left)} ago).`,
      'Download new import parameters for the key (they are valid for 24 hours) and load them again.',
    );
  }
  if (left < VALID_TO_WARNING_MS) warnings.push(`The parameters expire at ${validToIso}, in ${hhmm(left)}: finish the wrap and the import before then.`);
  if (left > VALID_TO_MAX_AHEAD_MS) warnings.push(`The parameters claim to be valid until ${validToIso}, more than 25 hours from now, but AWS issues them for 24 hours: check the laptop's clock and that the file is the one AWS printed.`);
  if (raw.importToken.encoding === 'base64' && raw.kind !== 'aws-cli-json') warnings.push(`${raw.importToken.from} was base64 text and has been decoded.`);
  if (raw.publicKey.encoding !== 'der' && raw.kind !== 'aws-cli-json') warnings.push(`${raw.publicKey.from} was ${raw.publicKey.encoding === 'pem' ? 'PEM' : 'base64 text'} and has been decoded.`);

  if (options.keySpec) checkAlgorithmForKeySpec(options.keySpec, wrappingAlgorithm, key.wrappingKeySpec);

  return {
    ...(ref.keyArn ? { keyArn: ref.keyArn } : {}),
    keyId: ref.keyId,
    ...(ref.partition ? { partition: ref.partition } : {}),
    ...(ref.region ? { region: ref.region } : {}),
    ...(ref.account ? { account: ref.account } : {}),
    wrappingAlgorithm,
    wrappingKeySpec: key.wrappingKeySpec,
    publicKeySpkiDer: key.spki,
    importToken: token,
    validTo: validToIso,
    source: {
      kind: raw.kind,
      path: raw.path,
      publicKeyFrom: raw.publicKey.from,
      importTokenFrom: raw.importToken.from,
      publicKeyEncoding: raw.publicKey.encoding,
      importTokenEncoding: raw.importToken.encoding,
    },
    warnings,
  };
}
