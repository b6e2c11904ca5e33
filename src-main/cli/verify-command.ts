// `keyceremony verify BUNDLE... [--expect-audit-key PEM] [--json]`: check transcript bundles without
// trusting the app that wrote them.
import { verifyBundles, type Check, type VerifyReport } from '../transcript/verify.js';
import { parseArgs } from 'node:util';
import { UsageError } from './args.js';
import { readFlagFile } from './flag-files.js';
import { FILE_CAPS } from '../files/read-bounded.js';
import type { Output } from './output.js';

export const VERIFY_HELP = `Usage: keyceremony verify BUNDLE... [--expect-audit-key PEM] [--json]

Verifies exported transcript bundles (folders): every entry hash, prev link,
seq and time order, the ECDSA-SHA384 signature over transcript.jsonl, the audit
key against the genesis entry and against --expect-audit-key, the SHA-256 of
every file listed in manifest.json, and that several bundles given together
form one chain.

Options:
  --expect-audit-key PEM   The audit public key (PEM file) you trust; every
                           bundle must be signed by it. Required when no
                           bundle holds the genesis entry (seq 0).
  --json                   Print the report as JSON.
  -h, --help               Show this help.

Exit status: 0 when every check holds, 1 when one fails (the report names the
first broken entry), 2 for a usage error.
`;

export interface VerifyArgs {
  bundles: string[];
  expectAuditKey?: string;
  json: boolean;
  help: boolean;
}

export function verifyArgs(argv: string[]): VerifyArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        'expect-audit-key': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const help = values.help === true;
  if (!help && positionals.length === 0) throw new UsageError('name at least one bundle folder, e.g. keyceremony verify ./keyceremony-transcript-c1-000000-000041');
  const result: VerifyArgs = { bundles: positionals, json: values.json === true, help };
  const key = values['expect-audit-key'];
  if (key !== undefined) {
    if (key === '') throw new UsageError('--expect-audit-key needs a PEM file, e.g. --expect-audit-key audit-public-key.pem');
    result.expectAuditKey = key;
  }
  return result;
}

const MARK: Record<Check['status'], string> = { pass: 'PASS', fail: 'FAIL', skipped: 'SKIP' };

export function formatReport(report: VerifyReport, anchoredByCaller: boolean): string {
  const lines: string[] = [];
  let bundle: string | undefined;
  for (const c of report.checks) {
    if (c.bundle !== bundle) {
      bundle = c.bundle;
      lines.push(bundle === undefined ? 'Across bundles:' : `Bundle ${bundle}:`);
    }
    lines.push(`  ${MARK[c.status]}  ${c.id.padEnd(16)} ${c.detail}`);
  }
  lines.push('');
  if (report.ok) {
    const last = report.entries.at(-1);
    lines.push(`OK: ${report.entries.length} ${report.entries.length === 1 ? 'entry' : 'entries'} verified${last ? `, head seq ${last.seq} ${last.hash}` : ''}.`);
    if (!anchoredByCaller) lines.push('Note: the audit key was checked against the genesis entry in these bundles only; pass --expect-audit-key with the key recorded at the key ceremony to check it against a key you trust.');
  } else {
    const f = report.firstFailure as Check;
    lines.push(`FAILED: ${f.seq !== undefined ? `entry seq ${f.seq}` : `check '${f.id}'`}${f.bundle !== undefined ? ` in ${f.bundle}` : ''}: ${f.detail}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function verifyCommand(argv: string[], out: Output): Promise<number> {
  let args: VerifyArgs;
  try {
    args = verifyArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony verify: ${error.message}\n\n${VERIFY_HELP}`);
    return 2;
  }
  if (args.help) {
    out.stdout.write(VERIFY_HELP);
    return 0;
  }
  let expectAuditKeyPem: string | undefined;
  if (args.expectAuditKey !== undefined) {
    try {
      expectAuditKeyPem = (await readFlagFile(`--expect-audit-key ${args.expectAuditKey}`, args.expectAuditKey, { what: 'public key file', cap: FILE_CAPS.publicKeyPem, remedy: 'Name the audit-public-key.pem of the token (PEM).', code: 'usage' })).toString('utf8');
    } catch (error) {
      out.stderr.write(`keyceremony verify: ${(error as Error).message}\n`);
      return 2;
    }
  }
  const report = await verifyBundles(args.bundles, expectAuditKeyPem === undefined ? {} : { expectAuditKeyPem });
  if (args.json) out.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else out.stdout.write(formatReport(report, expectAuditKeyPem !== undefined));
  return report.ok ? 0 : 1;
}
