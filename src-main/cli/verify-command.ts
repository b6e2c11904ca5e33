// `keyceremony verify BUNDLE... [--expect-audit-key PEM] [--allow-rehearsal] [--allow-script SHA256]... [--json]`:
// check transcript bundles without trusting the app that wrote them, and say what kind of ceremony they hold.
import { type Check, type VerifyReport } from '../transcript/verify.js';
import { verifyChains } from '../transcript/verify-chains.js';
import type { CeremonyJudgement } from '../transcript/ceremony-kind.js';
import { parseArgs } from 'node:util';
import { UsageError } from './args.js';
import { readFlagFile } from './flag-files.js';
import { FILE_CAPS } from '../files/read-bounded.js';
import type { Output } from './output.js';

export const VERIFY_HELP = `Usage: keyceremony verify BUNDLE... [--expect-audit-key PEM] [--allow-rehearsal]
                          [--allow-script SHA256]... [--json]

Verifies exported transcript bundles (folders). Integrity: every entry hash,
prev link, seq and time order, the ECDSA-SHA384 signatures over
transcript.jsonl and over manifest.json (which holds the SHA-256 of every
other file), the audit key against the genesis entry and against
--expect-audit-key, the custodian approvals, and that several bundles given
given together form one chain per audit key (bundles of several tokens are
grouped by the audit key their manifests name, each chain verified whole, and
the exit status is the worst of them). Policy, per ceremony: the SHA-256 of the script it
ran (shipped with a keyceremony release, or allowed with --allow-script),
rehearsal or production, the air gap recorded at its air-gap step, and the
app version.

Options:
  --expect-audit-key PEM   The audit public key (PEM file) you trust; every
                           bundle must be signed by it. Required when no
                           bundle holds the genesis entry (seq 0).
  --allow-rehearsal        Accept rehearsals (by default only production
                           ceremonies pass).
  --allow-script SHA256    Accept a script no release shipped, by the SHA-256
                           of the script file you reviewed. Repeatable.
  --json                   Print the report as JSON (with the same verdict).
  -h, --help               Show this help.

Exit status: 0 when integrity and policy hold (a production ceremony run from
a shipped or allowed script, offline); 1 when integrity is broken (the report
names the first broken entry); 3 when integrity holds but policy does not (a
rehearsal, an unknown script, a production ceremony recorded online); 2 for a
usage error.
`;

export interface VerifyArgs {
  bundles: string[];
  expectAuditKey?: string;
  allowRehearsal: boolean;
  allowScripts: string[];
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
        'allow-rehearsal': { type: 'boolean' },
        'allow-script': { type: 'string', multiple: true },
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
  const allowScripts = (values['allow-script'] ?? []).map((h) => {
    if (!/^[0-9a-fA-F]{64}$/.test(h)) throw new UsageError(`--allow-script ${h}: expected the SHA-256 of a script file, 64 hexadecimal digits (openssl dgst -sha256 SCRIPT.yaml)`);
    return h.toLowerCase();
  });
  const result: VerifyArgs = { bundles: positionals, json: values.json === true, help, allowRehearsal: values['allow-rehearsal'] === true, allowScripts };
  const key = values['expect-audit-key'];
  if (key !== undefined) {
    if (key === '') throw new UsageError('--expect-audit-key needs a PEM file, e.g. --expect-audit-key audit-public-key.pem');
    result.expectAuditKey = key;
  }
  return result;
}

const MARK: Record<Check['status'], string> = { pass: 'PASS', fail: 'FAIL', skipped: 'SKIP' };

/** One ceremony in words: script and whether a release shipped it, rehearsal, air gap, app version, state. */
export function ceremonyLines(c: CeremonyJudgement): string[] {
  if (!c.judged) return [`  ${c.ceremonyId}: its start (a pre-genesis or pre-chain entry) is not in these bundles (first entry here: seq ${c.firstSeq}); give the bundle holding it to judge it`];
  const script = c.script
    ? `script ${c.script.name} v${c.script.version ?? '?'} SHA-256 ${c.script.sha256}: ${c.script.status === 'shipped' ? `shipped with keyceremony ${c.script.shippedIn.join(', ')}` : c.script.status === 'allowed' ? 'not shipped, allowed by --allow-script' : 'UNKNOWN (no release shipped it)'}`
    : 'script: not recorded';
  return [
    `  ${c.ceremonyId} (start at seq ${c.startSeq}, ${c.state}):`,
    `    ${script}`,
    `    ${c.rehearsal === undefined ? 'rehearsal: not recorded' : c.rehearsal ? 'REHEARSAL' : 'production'}; air gap: ${c.airGap}; app version ${c.appVersions.join(', ') || 'not recorded'}`,
  ];
}

export function formatReport(report: VerifyReport, anchoredByCaller: boolean): string {
  const lines: string[] = [];
  let bundle: string | undefined;
  for (const c of report.checks) {
    if (c.bundle !== bundle) {
      bundle = c.bundle;
      lines.push(bundle === undefined ? 'Across bundles:' : `Bundle ${bundle}:`);
    }
    lines.push(`  ${MARK[c.status]}  ${c.id.padEnd(18)} ${c.detail}`);
  }
  if (report.ceremonies.length > 0) {
    lines.push('Ceremonies:');
    for (const c of report.ceremonies) lines.push(...ceremonyLines(c));
  }
  lines.push('');
  const v = report.verdict;
  const last = report.bundles.reduce<{ last: number | null; head: string | null }>((m, b) => (b.last !== null && (m.last === null || b.last > m.last) ? b : m), { last: null, head: null });
  const counted = `${report.entryCount} ${report.entryCount === 1 ? 'entry' : 'entries'} verified${last.last !== null ? `, head seq ${last.last} ${last.head}` : ''}`;
  if (v.status === 'production') {
    lines.push(`OK: production ceremon${report.ceremonies.filter((c) => c.judged).length === 1 ? 'y' : 'ies'} ${report.ceremonies.filter((c) => c.judged).map((c) => c.ceremonyId).join(', ')}; integrity and policy hold; ${counted}.`);
  } else if (v.status === 'not-production') {
    lines.push(`INTEGRITY OK, BUT NOT A PRODUCTION CEREMONY: ${counted}; policy does not hold:`);
    for (const r of v.reasons) lines.push(`  - ${r}`);
  } else {
    const f = report.firstFailure as Check;
    lines.push(`FAILED: ${f.seq !== undefined ? `entry seq ${f.seq}` : `check '${f.id}'`}${f.bundle !== undefined ? ` in ${f.bundle}` : ''}: ${f.detail}`);
  }
  if (v.status !== 'broken' && !anchoredByCaller)
    lines.push('Note: the audit key was checked against the genesis entry in these bundles only; pass --expect-audit-key with the key recorded at the key ceremony to check it against a key you trust.');
  return `${lines.join('\n')}\n`;
}

/** The exit status for a verdict: 0 production, 3 integrity without policy, 1 broken. */
export function exitStatus(report: VerifyReport): 0 | 1 | 3 {
  return report.verdict.status === 'production' ? 0 : report.verdict.status === 'not-production' ? 3 : 1;
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
  const policy = { allowRehearsal: args.allowRehearsal, allowScripts: args.allowScripts };
  const result = await verifyChains(args.bundles, expectAuditKeyPem === undefined ? policy : { ...policy, expectAuditKeyPem });
  if (!Array.isArray(result)) {
    if (args.json) out.stdout.write(`${JSON.stringify({ exitStatus: exitStatus(result), ...result }, null, 2)}\n`);
    else out.stdout.write(formatReport(result, expectAuditKeyPem !== undefined));
    return exitStatus(result);
  }
  const worst = worstStatus(result.map((c) => exitStatus(c.report)));
  if (args.json) {
    const chains = result.map((c) => ({ auditKeySpkiSha256: c.auditKeySpkiSha256, exitStatus: exitStatus(c.report), ...c.report }));
    out.stdout.write(`${JSON.stringify({ exitStatus: worst, chains }, null, 2)}\n`);
    return worst;
  }
  result.forEach((c, i) => {
    out.stdout.write(`Chain ${i + 1} of ${result.length} (audit key SHA-256 ${c.auditKeySpkiSha256}, ${c.report.bundles.length} bundle${c.report.bundles.length === 1 ? '' : 's'}):\n`);
    out.stdout.write(`${formatReport(c.report, false)}\n`);
  });
  const words = { 0: 'every chain verifies: integrity and policy hold', 3: 'integrity holds in every chain, but policy does not in at least one', 1: 'at least one chain is BROKEN' } as const;
  out.stdout.write(`${result.length} chains: ${words[worst]} (exit ${worst}).\n`);
  return worst;
}

/** Several chains: broken (1) outranks policy (3), which outranks production (0). */
function worstStatus(statuses: (0 | 1 | 3)[]): 0 | 1 | 3 {
  return statuses.includes(1) ? 1 : statuses.includes(3) ? 3 : 0;
}
