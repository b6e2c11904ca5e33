// `keyceremony kms-import`: the kms-import ceremony (ceremonies/kms-import.yaml), non-interactively, through
// the same engine the app uses, on a token enrolled by init-token whose transcript is in --data-dir.
// Passphrases come only from files. The quorum step is approved with the --share files, in order. A
// failure aborts the ceremony (recorded) and exits 1; a usage error exits 2.
import { existsSync, statSync } from 'node:fs';
import { defaultDataDir } from '../data-dir.js';
import { resolve } from 'node:path';
import type { AirGapStatus } from '../airgap/airgap.js';
import { KMS_KEY_SPECS, KMS_WRAPPING_ALGORITHMS } from '../kms/index.js';
import { AppError } from '../errors.js';
import { cloudKeySpecNames, fromGcloudSpelling, resolveCloudKeySpec } from '../kms/clouds/keyspecs.js';
import { CLOUD_NAMES, CLOUDS, type Cloud } from '../kms/clouds/types.js';
import { checkCloudFlags, settleWrappingAlgorithm } from './kms-cloud-flags.js';
import { parseArgs } from 'node:util';
import { tokenChoice, UsageError } from './args.js';
import { runKmsCeremony, type KmsCeremonyCommand } from './kms-ceremony-run.js';
import { readPreGenesisLog } from '../ceremony/engine/pre-genesis-log.js';
import { preGenesisPathOf } from '../ceremony/engine/run.js';
import type { Output } from './output.js';

export const KMS_IMPORT_HELP = `Usage: keyceremony kms-import --module PATH [--init-parameters STR]
         (--slot N | --token URI) [--cloud aws|gcp|azure|vault] --params FILE_OR_DIR
         [--wrapping-algorithm ALG] --key-spec SPEC --key-label LABEL [--key-arn ARN]
         [--valid-to ISO_TIME] [--target KEY] [--import-job NAME --import-method METHOD]
         [--kek-id KID] [--hash-function SHA1|SHA256] [--import-type TYPE
         [--key-material-description TEXT] [--key-material-id ID]]
         --share FILE[:PASSPHRASE_FILE]...
         --out DIR --bundle-out DIR --witness NAME... [--administrator NAME]
         [--data-dir DIR] [--rehearsal] [--resume CEREMONY_ID] [--json]

Runs the kms-import ceremony (ceremonies/kms-import.yaml) without the app, on a
token enrolled by init-token whose transcript is in the data directory: reads
the cloud's import parameters, checks the token can wrap SPEC with ALG before
anything is generated, opens the token with the custodians' shares (and checks
its chain head against the local transcript), generates the key material in
the token, computes its check value there, wraps it there, and writes the
import folder into DIR (AWS: EncryptedKeyMaterial.bin, ImportToken.bin; Google:
wrapped-key.bin; Azure: LABEL.byok; Vault: ciphertext.b64; always IMPORT.md
with the exact commands and import-manifest.json) and the transcript bundle
into --bundle-out. Clouds: docs/kms-clouds.md.

--resume CEREMONY_ID continues a kms-import that was interrupted after it
joined the token's transcript (docs/ceremonies.md, Interrupted ceremonies):
same ceremony id; --key-spec, --key-label and --wrapping-algorithm must be the
ones it started with; the shares open the token again; a key it generated is
found in the token, not generated again; the import bundle goes to a new
folder (...-resumed-N) in DIR.

Options:
  --module PATH              The PKCS#11 library of the token.
  --init-parameters STR      C_Initialize library parameters for that module.
  --slot N                   The slot of the token (see 'keyceremony tokens').
  --token URI                Or the token as a PKCS#11 URI (pkcs11:token=...).
  --cloud CLOUD              Where the key goes: aws (default), gcp (Google Cloud
                             KMS), azure (Key Vault / Managed HSM), vault
                             (HashiCorp Vault transit).
  --params FILE_OR_DIR       The import parameters, each cloud's own download:
                             aws: the JSON of 'aws kms get-parameters-for-import
                             --output json', or the console download (zip/folder);
                             gcp: the JSON of 'gcloud kms import-jobs describe
                             --format=json' (or publicKey.pem with --import-job
                             and --import-method); azure: the JSON of 'az keyvault
                             key show' of the KEK (or KEK.pem with --kek-id);
                             vault: the JSON of 'vault read -format=json
                             transit/wrapping_key'.
  --wrapping-algorithm ALG   The wrap: ${KMS_WRAPPING_ALGORITHMS.join(', ')}.
                             Required for aws (the response does not name it);
                             for the other clouds it follows from the import
                             method, Azure BYOK (SHA-1) or --hash-function.
  --key-spec SPEC            The key spec: ${KMS_KEY_SPECS.join(', ')},
                             or the cloud's own name (EC_SIGN_P256_SHA256 or
                             gcloud's ec-sign-p256-sha256, RSA-3072,
                             aes256-gcm96, ...). A spec the cloud does not
                             take is refused before anything is made.
  --key-label LABEL          The label of the key in the token: 1 to 64
                             letters, digits, spaces, . _ -, starting with a
                             letter or digit (Azure: the .byok file's name).
  --key-arn ARN              aws: the key ARN, when the parameters do not carry
                             it (console downloads), or to cross-check it.
  --valid-to ISO_TIME        aws: ParametersValidTo, when the parameters do not
                             carry it.
  --import-type TYPE         aws, SYMMETRIC_DEFAULT only: NEW_KEY_MATERIAL (new
                             material: first import or a rotation) or
                             EXISTING_KEY_MATERIAL (a replica, re-import).
  --key-material-description TEXT
                             aws: up to 256 of letters, digits, spaces, :/_.-
  --key-material-id ID       aws, with EXISTING_KEY_MATERIAL: 64 hex digits.
  --target KEY               gcp: the crypto key (id in the job's key ring, or
                             its full name); azure: the new key's name; vault:
                             the transit key name (or MOUNT/keys/NAME).
  --import-job NAME          gcp with publicKey.pem: the job's full name.
  --import-method METHOD     gcp with publicKey.pem: the job's import method
                             (RSA_OAEP_3072_SHA256_AES_256 or gcloud's
                             rsa-oaep-3072-sha256-aes-256).
  --kek-id KID               azure with KEK.pem: the KEK's kid, with version.
  --hash-function HASH       vault: SHA256 (default) or SHA1 (any case), as
                             the import will name it (hash_function=).
  --share FILE[:PASSPHRASE_FILE]
                             A custodian's share file (and the file holding its
                             passphrase). Repeat until the threshold is reached.
  --out DIR                  Existing folder the import bundle is created in.
  --bundle-out DIR           Existing folder the transcript bundle is created in.
  --witness NAME             A witness present; repeat for each.
  --administrator NAME       Who drives the ceremony (default: administrator).
  --data-dir DIR             Where transcripts live (default:
                             $XDG_DATA_HOME/keyceremony or ~/.local/share/keyceremony).
  --rehearsal                A rehearsal: the air gap is checked and recorded but
                             not enforced.
  --resume CEREMONY_ID       Continue an interrupted ceremony of this kind
                             (keyceremony ceremonies lists them) instead of
                             starting one; abandon it instead with
                             keyceremony abandon CEREMONY_ID --reason TEXT.
  --json                     Print the outcome as JSON.
  -h, --help                 Show this help.

Exit status: 0 when the ceremony completed, 1 when it failed (it is recorded as
aborted, with the reason), 2 for a usage error.
`;

/** keyLabel in ceremonies/kms-import.yaml and kms-rewrap.yaml: pattern [A-Za-z0-9][A-Za-z0-9 ._-]*, 1-64 characters. */
export const KEY_LABEL = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

export interface KmsImportArgs {
  module: string;
  initParameters?: string;
  token: { slotId: string } | { uri: string };
  params: string;
  wrappingAlgorithm: string;
  keySpec: string;
  keyLabel: string;
  keyArn?: string;
  validTo?: string;
  cloud: Cloud;
  /** The cloud's own name for the key spec (keySpec is ours). */
  targetAlgorithm?: string;
  target?: string;
  importJob?: string;
  importMethod?: string;
  kekId?: string;
  hashFunction?: string;
  importType?: string;
  keyMaterialDescription?: string;
  keyMaterialId?: string;
  shares: { file: string; passphraseFile?: string }[];
  out: string;
  bundleOut: string;
  witnesses: string[];
  administrator: string;
  dataDir: string;
  rehearsal: boolean;
  json: boolean;
}

export interface KmsImportOverrides {
  airGap?: () => AirGapStatus;
  scriptsDir?: string;
}

function existingDir(flag: string, value: string | undefined): string {
  if (!value) throw new UsageError(`${flag} DIR is required.`);
  const path = resolve(value);
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new UsageError(`${flag} ${value}: not an existing folder.`);
  return path;
}

const OPTIONS = {
    module: { type: 'string' },
    'init-parameters': { type: 'string' },
    slot: { type: 'string' },
    token: { type: 'string' },
    params: { type: 'string' },
    'wrapping-algorithm': { type: 'string' },
    'key-spec': { type: 'string' },
    'key-label': { type: 'string' },
    'key-arn': { type: 'string' },
    'valid-to': { type: 'string' },
    cloud: { type: 'string' },
    target: { type: 'string' },
    'import-job': { type: 'string' },
    'import-method': { type: 'string' },
    'kek-id': { type: 'string' },
    'hash-function': { type: 'string' },
    'import-type': { type: 'string' },
    'key-material-description': { type: 'string' },
    'key-material-id': { type: 'string' },
    share: { type: 'string', multiple: true },
    out: { type: 'string' },
    'bundle-out': { type: 'string' },
    witness: { type: 'string', multiple: true },
    administrator: { type: 'string' },
    'data-dir': { type: 'string' },
    rehearsal: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
} as const;

export function kmsImportArgs(argv: string[]): KmsImportArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const { module, token } = tokenChoice(values, 'which token holds the key');
  const cloud = (values.cloud ?? 'aws') as Cloud;
  if (!(CLOUDS as readonly string[]).includes(cloud)) throw new UsageError(`--cloud ${values.cloud}: expected one of ${CLOUDS.join(', ')}.`);
  if (!values.params) throw new UsageError(`--params FILE_OR_DIR is required (the ${CLOUD_NAMES[cloud]} import parameters).`);
  const params = resolve(values.params);
  if (!existsSync(params)) throw new UsageError(`--params ${values.params}: no such file or folder.`);
  checkCloudFlags(cloud, values);
  const alg = values['wrapping-algorithm'];
  if (!alg && cloud === 'aws') throw new UsageError('--wrapping-algorithm ALG is required (the response does not name it).');
  if (alg && !(KMS_WRAPPING_ALGORITHMS as readonly string[]).includes(alg)) throw new UsageError(`--wrapping-algorithm ${alg}: expected one of ${KMS_WRAPPING_ALGORITHMS.join(', ')}.`);
  if (!values['key-spec']) throw new UsageError('--key-spec SPEC is required.');
  const specGiven = fromGcloudSpelling(cloud, values['key-spec']);
  if (!CLOUDS.some((c) => cloudKeySpecNames(c).includes(specGiven))) throw new UsageError(`--key-spec ${specGiven}: expected one of ${cloudKeySpecNames(cloud).join(', ')}.`);
  let resolved;
  try {
    resolved = resolveCloudKeySpec(cloud, specGiven);
  } catch (e) {
    throw new UsageError(e instanceof AppError ? `${e.message} ${e.remedy ?? ''}`.trim() : String(e));
  }
  const spec = resolved.keySpec;
  const label = values['key-label'];
  if (!label) throw new UsageError('--key-label LABEL is required.');
  // The shipped kms-import and kms-rewrap scripts take this pattern (keyLabel); said here in the room's words
  // before anything opens, instead of the engine's regular expression after the token was opened.
  if (!KEY_LABEL.test(label)) {
    throw new UsageError(`--key-label ${JSON.stringify(label)}: a key label is 1 to 64 letters, digits, spaces, dots, dashes and underscores, starting with a letter or digit (it labels the key in the token and names the Azure .byok file).`);
  }
  const shares = (values.share ?? []).map((s) => shareFileFlag('--share', s));
  if (shares.length === 0) throw new UsageError('--share FILE[:PASSPHRASE_FILE] is required: the custodians present their shares to open the token.');
  const witnesses = values.witness ?? [];
  if (witnesses.length === 0) throw new UsageError('--witness NAME is required: kms-import and kms-rewrap need at least one witness.');
  const args: KmsImportArgs = {
    module,
    token,
    params,
    wrappingAlgorithm: alg ?? '',
    keySpec: spec,
    cloud,
    keyLabel: label,
    shares,
    out: existingDir('--out', values.out),
    bundleOut: existingDir('--bundle-out', values['bundle-out']),
    witnesses,
    administrator: values.administrator ?? 'administrator',
    dataDir: resolve(values['data-dir'] ?? defaultDataDir()),
    rehearsal: values.rehearsal === true,
    json: values.json === true,
  };
  if (values['init-parameters'] !== undefined) args.initParameters = values['init-parameters'];
  if (values['key-arn'] !== undefined) args.keyArn = values['key-arn'];
  if (values['valid-to'] !== undefined) args.validTo = values['valid-to'];
  if (cloud !== 'aws' || specGiven !== spec) args.targetAlgorithm = resolved.algorithm;
  const more: [keyof KmsImportArgs, string | undefined][] = [
    ['target', values.target],
    ['importJob', values['import-job']],
    ['importMethod', values['import-method']],
    ['kekId', values['kek-id']],
    ['hashFunction', values['hash-function']],
    ['importType', values['import-type']],
    ['keyMaterialDescription', values['key-material-description']],
    ['keyMaterialId', values['key-material-id']],
  ];
  for (const [k, v] of more) if (v !== undefined) (args as unknown as Record<string, string>)[k] = v;
  return args;
}

export { readShares } from './share-flags.js';
import { readShares } from './share-flags.js';
import { shareFileFlag } from './ceremony-flags.js';

/**
 * `--resume ID`, taken out before the options kms-import and kms-rewrap share are parsed: each command
 * resumes only a ceremony of its own kind, and names the right command for another kind.
 */
export function takeResume(argv: readonly string[], command: KmsCeremonyCommand): { argv: string[]; resume?: string } {
  const rest: string[] = [];
  let resume: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i] as string;
    let value: string | undefined;
    if (a === '--resume') {
      value = argv[i + 1];
      i += 1;
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--resume CEREMONY_ID: the id of the interrupted ${command} is missing.`);
    } else if (a.startsWith('--resume=')) value = a.slice('--resume='.length);
    else {
      rest.push(a);
      continue;
    }
    if (resume !== undefined) throw new UsageError('--resume is given twice.');
    const other = (['kms-import', 'kms-rewrap'] as const).find((k) => k !== command && value.startsWith(`${k}-`));
    if (other) throw new UsageError(`--resume ${value}: that is a ${other} ceremony; resume it with keyceremony ${other} --resume ${value}.`);
    if (!new RegExp(`^${command}-[A-Za-z0-9-]{1,96}$`).test(value)) throw new UsageError(`--resume ${value}: expected the id of a ${command} ceremony (${command}-...), as keyceremony ceremonies or Home shows it.`);
    resume = value;
  }
  return resume === undefined ? { argv: rest } : { argv: rest, resume };
}

/** A resumed ceremony keeps the parameters it started with: the flags must repeat them, not change them. */
export async function checkResumeParameters(args: KmsImportArgs, ceremonyId: string): Promise<void> {
  let start: { parameters?: Record<string, unknown> } | undefined;
  try {
    start = (await readPreGenesisLog(preGenesisPathOf(args.dataDir, ceremonyId))).records[0]?.data as typeof start;
  } catch {
    throw new UsageError(`--resume ${ceremonyId}: no such ceremony in ${args.dataDir} (see the past ceremonies on Home, or --data-dir).`);
  }
  const recorded = start?.parameters ?? {};
  const given: [string, string, string][] = [
    ['--key-spec', 'keySpec', args.keySpec],
    ['--key-label', 'keyLabel', args.keyLabel],
    ['--wrapping-algorithm', 'wrappingAlgorithm', args.wrappingAlgorithm],
  ];
  for (const [flag, name, value] of given) {
    if (recorded[name] !== value) throw new UsageError(`${flag} ${value}: ceremony ${ceremonyId} started with ${String(recorded[name])}; a resumed ceremony keeps the parameters it started with.`);
  }
}

export async function kmsImportCommand(argv: string[], out: Output, overrides: KmsImportOverrides = {}): Promise<number> {
  let args: KmsImportArgs;
  let shares: Record<string, unknown>[];
  let resume: string | undefined;
  try {
    const taken = takeResume(argv, 'kms-import');
    resume = taken.resume;
    const parsed = kmsImportArgs(taken.argv);
    if (parsed === 'help') {
      out.stdout.write(KMS_IMPORT_HELP);
      return 0;
    }
    args = parsed;
    await settleWrappingAlgorithm(args);
    shares = await readShares(args);
    if (resume !== undefined) await checkResumeParameters(args, resume);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony kms-import: ${error.message}\n\nRun 'keyceremony kms-import --help' for the options.\n`);
    return 2;
  }

  return runKmsCeremony('kms-import', args, shares, out, overrides, resume);
}
