// Google Cloud KMS import job parameters: the JSON of `gcloud kms import-jobs describe JOB --location L
// --keyring R --format=json` (name, importMethod, state, expireTime, publicKey.pem, ...), or the job's
// publicKey.pem with the job's name and method given separately. Checked before anything is generated: the
// job is ACTIVE and not expired, its RSA key is the size its method names, the method can carry the key
// spec, and the crypto key is in the job's key ring (Cloud KMS imports only within one key ring).
import { AppError } from '../../errors.js';
import type { KmsWrappingAlgorithm } from '../../../hsm/types.js';
import { cloudAlgorithmFor } from '../clouds/keyspecs.js';
import { GCP_IMPORT_METHODS, type GcpImportMethod } from '../clouds/types.js';
import type { ImportParameters } from '../types.js';
import { KMS_PARAMS_ERROR } from './arn.js';
import { refuseOtherCloud } from './sniff.js';
import type { CloudParamsOptions } from './cloud-options.js';
import { asObject, hhmm, isoTime, member, parseJsonObject, pemPublicKey, readParamsText, rsaWrappingKey } from './cloud-common.js';
import { VALID_TO_WARNING_MS } from './validate.js';

const DESCRIBE = 'Run `gcloud kms import-jobs describe JOB --location LOCATION --keyring KEY_RING --format=json > import-job.json` and bring that file unchanged.';
// A project is named by its id (6-30 of a-z, 0-9, -), its number (when gcloud was given --project NUMBER), or a
// legacy domain-scoped id (example.com:my-project); resource names echo whichever was used.
const PROJECT = '([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20}|[a-z0-9][a-z0-9.-]{0,62}:[a-z][a-z0-9-]{4,28}[a-z0-9])';
const JOB_NAME = new RegExp(`^projects/${PROJECT}/locations/([a-z0-9-]{1,63})/keyRings/([A-Za-z0-9_-]{1,63})/importJobs/([A-Za-z0-9_-]{1,63})$`);
const KEY_ID = /^[A-Za-z0-9_-]{1,63}$/;
const KEY_NAME = new RegExp(`^projects/${PROJECT}/locations/([a-z0-9-]{1,63})/keyRings/([A-Za-z0-9_-]{1,63})/cryptoKeys/([A-Za-z0-9_-]{1,63})$`);
/** Jobs expire 3 days after creation; further out means a wrong clock or an edited file. */
const JOB_LIFETIME_MAX_MS = 3 * 24 * 60 * 60 * 1000 + 60 * 60 * 1000;

export function gcpMethodWrap(method: GcpImportMethod): { wrappingAlgorithm: KmsWrappingAlgorithm; bits: 3072 | 4096 } {
  const bits = method.includes('_4096_') ? 4096 : 3072;
  if (method.endsWith('_SHA1_AES_256')) return { wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_1', bits };
  if (method.endsWith('_SHA256_AES_256')) return { wrappingAlgorithm: 'RSA_AES_KEY_WRAP_SHA_256', bits };
  return { wrappingAlgorithm: 'RSAES_OAEP_SHA_256', bits };
}

export function parseGcpImportMethod(value: unknown, field: string, typed = false): GcpImportMethod {
  if (typeof value === 'string' && (GCP_IMPORT_METHODS as readonly string[]).includes(value)) return value as GcpImportMethod;
  // gcloud's spelling (`gcloud kms import-jobs create --import-method rsa-oaep-3072-sha256-aes-256`), typed by hand.
  // Only for a flag: a describe JSON always carries the API's name, so another spelling there is a changed file.
  if (typed) {
    const api = typeof value === 'string' && /^[a-z0-9-]+$/.test(value) ? value.toUpperCase().replace(/-/g, '_') : '';
    if ((GCP_IMPORT_METHODS as readonly string[]).includes(api)) return api as GcpImportMethod;
  }
  throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(value)} is not a Cloud KMS import method this application can wrap for.`, `Create the import job with one of ${GCP_IMPORT_METHODS.join(', ')} (RSA_OAEP_3072_SHA256_AES_256 is Google's recommendation).`);
}

function parseJobName(value: unknown, field: string): { name: string; project: string; location: string; keyRing: string } {
  const m = typeof value === 'string' ? JOB_NAME.exec(value) : null;
  if (!m) {
    throw new AppError(KMS_PARAMS_ERROR, `${field} ${JSON.stringify(value)} is not an import job name.`, 'Give the full name: projects/PROJECT/locations/LOCATION/keyRings/KEY_RING/importJobs/JOB (`gcloud kms import-jobs describe` prints it as name).');
  }
  return { name: value as string, project: m[1] as string, location: m[2] as string, keyRing: m[3] as string };
}

export async function readGcpParameters(o: CloudParamsOptions): Promise<ImportParameters> {
  const text = await readParamsText(o.path, 'Cloud KMS import job file', DESCRIBE);
  const warnings: string[] = [];
  let job: { name: string; project: string; location: string; keyRing: string };
  let method: GcpImportMethod;
  let pemText: string;
  let pemFrom: string;
  let state: string | undefined;
  let protectionLevel: string | undefined;
  let validTo: string | undefined;
  const json = text.trimStart().startsWith('{');
  // gcloud prints YAML unless told --format=json: such a file is no publicKey.pem either.
  if (!json && /^(?:name|importMethod|state|publicKey):/m.test(text)) {
    throw new AppError(KMS_PARAMS_ERROR, `${o.path} is the YAML gcloud prints by default, not the import job's JSON.`, `Describe the job again with --format=json. ${DESCRIBE}`);
  }
  if (json) {
    const doc = parseJsonObject(text, o.path, DESCRIBE);
    refuseOtherCloud(doc, 'gcp', o.path);
    job = parseJobName(member(doc, 'name'), `name in ${o.path}`);
    method = parseGcpImportMethod(member(doc, 'importMethod'), `importMethod in ${o.path}`);
    state = typeof member(doc, 'state') === 'string' ? (member(doc, 'state') as string) : undefined;
    if (state !== 'ACTIVE') {
      const why =
        state === 'PENDING_GENERATION'
          ? { what: 'is still PENDING_GENERATION: its wrapping key does not exist yet', remedy: 'Wait a minute, describe the job again and bring the new file (state ACTIVE).' }
          : state === 'EXPIRED'
            ? { what: 'is EXPIRED: Cloud KMS no longer imports with it', remedy: 'Create a new import job (`gcloud kms import-jobs create`), describe it once ACTIVE, and bring that file.' }
            : { what: `is ${JSON.stringify(member(doc, 'state') ?? null)}, not ACTIVE`, remedy: DESCRIBE };
      throw new AppError(KMS_PARAMS_ERROR, `state in ${o.path}: import job ${job.name} ${why.what}.`, why.remedy);
    }
    const pem = member(asObject(member(doc, 'publicKey')), 'pem');
    if (typeof pem !== 'string') throw new AppError(KMS_PARAMS_ERROR, `publicKey.pem in ${o.path} is missing.`, DESCRIBE);
    pemText = pem;
    pemFrom = `publicKey.pem in ${o.path}`;
    // Import jobs are SOFTWARE or HSM; the crypto key must have the same level, and IMPORT.md names it.
    const pl = member(doc, 'protectionLevel');
    if (pl !== undefined) {
      if (pl !== 'SOFTWARE' && pl !== 'HSM') throw new AppError(KMS_PARAMS_ERROR, `protectionLevel in ${o.path} is ${JSON.stringify(pl)}; an import job's is SOFTWARE or HSM.`, DESCRIBE);
      protectionLevel = pl;
    }
    validTo = isoTime(member(doc, 'expireTime'), `expireTime in ${o.path}`, DESCRIBE);
    if (o.importJob !== undefined && o.importJob !== job.name) {
      throw new AppError(KMS_PARAMS_ERROR, `importJob ${JSON.stringify(o.importJob)} is not the job ${o.path} describes (${job.name}).`, 'Leave out --import-job (the file names the job), or bring the file of that job.');
    }
    if (o.importMethod !== undefined && parseGcpImportMethod(o.importMethod, 'importMethod', true) !== method) {
      throw new AppError(KMS_PARAMS_ERROR, `importMethod ${JSON.stringify(o.importMethod)} is not the method of ${job.name} (${method}).`, 'Leave out --import-method (the file names it), or bring the file of the job you mean.');
    }
  } else {
    if (o.importJob === undefined || o.importMethod === undefined) {
      throw new AppError(KMS_PARAMS_ERROR, `importJob and importMethod are needed with ${o.path}: a publicKey.pem does not say which job it belongs to.`, `Give --import-job projects/P/locations/L/keyRings/R/importJobs/J and --import-method METHOD, or better: ${DESCRIBE}`);
    }
    job = parseJobName(o.importJob, 'importJob');
    method = parseGcpImportMethod(o.importMethod, 'importMethod', true);
    pemText = text;
    pemFrom = o.path;
    warnings.push(`Only the job's public key was given: its state and expiry were not checked. Import jobs expire 3 days after creation; confirm that ${job.name} is ACTIVE (gcloud kms import-jobs describe).`);
  }
  const wrap = gcpMethodWrap(method);
  const key = rsaWrappingKey({ der: pemPublicKey(pemText, pemFrom, DESCRIBE) }, pemFrom, [wrap.bits], `Import method ${method}'s`, DESCRIBE);
  if (o.wrappingAlgorithm !== wrap.wrappingAlgorithm) {
    throw new AppError(
      KMS_PARAMS_ERROR,
      `wrappingAlgorithm ${String(o.wrappingAlgorithm)} is not the wrap import method ${method} takes (${wrap.wrappingAlgorithm}).`,
      `Start the ceremony with wrapping algorithm ${wrap.wrappingAlgorithm}, or use an import job whose method matches ${String(o.wrappingAlgorithm)}.`,
    );
  }
  if (wrap.wrappingAlgorithm === 'RSAES_OAEP_SHA_256' && o.keySpec.startsWith('RSA_')) {
    throw new AppError(KMS_PARAMS_ERROR, `importMethod ${method} wraps with RSA-OAEP alone, which cannot carry an RSA private key (${o.keySpec}).`, 'Create an import job with RSA_OAEP_3072_SHA256_AES_256 or RSA_OAEP_4096_SHA256_AES_256 for RSA keys.');
  }
  if (validTo !== undefined) {
    const left = Date.parse(validTo) - o.now().getTime();
    if (left <= 0) throw new AppError(KMS_PARAMS_ERROR, `expireTime in ${o.path}: import job ${job.name} expired at ${validTo}.`, 'Create a new import job and bring its description; jobs last 3 days.');
    if (left > JOB_LIFETIME_MAX_MS) warnings.push(`Import job ${job.name} says it expires at ${validTo}, more than 3 days from now: check this laptop's clock and that the file is unchanged.`);
    else if (left < VALID_TO_WARNING_MS) warnings.push(`Import job ${job.name} expires in ${hhmm(left)} (at ${validTo}): import before then.`);
  }
  // The crypto key: an id in the job's key ring, or its full name (which must be in that key ring).
  const target = o.target?.trim();
  if (!target) throw new AppError(KMS_PARAMS_ERROR, 'target is missing: which crypto key the version is imported into.', `Give the crypto key's id in key ring ${job.keyRing} (or its full name projects/…/cryptoKeys/KEY).`);
  let cryptoKey: string;
  if (KEY_ID.test(target)) cryptoKey = target;
  else {
    const m = KEY_NAME.exec(target);
    if (!m) throw new AppError(KMS_PARAMS_ERROR, `target ${JSON.stringify(target)} is neither a crypto key id nor a crypto key name.`, 'Give the key id (letters, digits, - and _, up to 63) or projects/P/locations/L/keyRings/R/cryptoKeys/KEY.');
    if (m[1] !== job.project || m[2] !== job.location || m[3] !== job.keyRing) {
      throw new AppError(KMS_PARAMS_ERROR, `target ${target} is not in the import job's key ring (projects/${job.project}/locations/${job.location}/keyRings/${job.keyRing}).`, 'Cloud KMS imports only into keys of the job\'s key ring: create the import job in the key\'s key ring, or name a key of this one.');
    }
    cryptoKey = m[4] as string;
  }
  const algorithm = cloudAlgorithmFor('gcp', o.keySpec, o.targetAlgorithm);
  const keyName = `projects/${job.project}/locations/${job.location}/keyRings/${job.keyRing}/cryptoKeys/${cryptoKey}`;
  return {
    keyId: keyName,
    region: job.location,
    account: job.project,
    wrappingAlgorithm: wrap.wrappingAlgorithm,
    wrappingKeySpec: key.wrappingKeySpec,
    publicKeySpkiDer: key.spki,
    importToken: new Uint8Array(),
    ...(validTo !== undefined ? { validTo } : {}),
    source: { kind: json ? 'gcp-import-job-json' : 'gcp-public-key-pem', path: o.path, publicKeyFrom: pemFrom, publicKeyEncoding: 'pem' },
    warnings,
    cloud: {
      cloud: 'gcp',
      importJob: job.name,
      importMethod: method,
      project: job.project,
      location: job.location,
      keyRing: job.keyRing,
      cryptoKey,
      algorithm,
      ...(state !== undefined ? { state } : {}),
      ...(protectionLevel !== undefined ? { protectionLevel } : {}),
    },
  };
}
