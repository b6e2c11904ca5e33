// `keyceremony ceremonies`: the list of past ceremonies Home shows, from the same function (the service's
// history), so the command line and the app can never disagree about what is interrupted.
import { resolve } from 'node:path';
import { defaultDataDir } from '../data-dir.js';
import { toErrorData } from '../errors.js';
import type { PastCeremonyItem } from '../ceremony/engine/service.js';
import { parseStrict, UsageError } from './args.js';
import { openRecordsRuntime } from './ceremony-runtime.js';
import type { Output } from './output.js';

export const CEREMONIES_HELP = `Usage: keyceremony ceremonies [--data-dir DIR] [--json]

Lists every ceremony this laptop's data directory knows, oldest first, as the
app's Home screen does: its id, kind, state (completed, aborted, interrupted,
abandoned), the token it worked on and when it started. An interrupted ceremony
that had joined its token's transcript can be resumed
(keyceremony KIND --resume ID: kms-import, kms-rewrap, destroy-key,
audit-token, rotate-custodians) or
abandoned (keyceremony abandon ID --reason TEXT). Reading the list records
nothing and touches no token.

Options:
  --data-dir DIR   Where transcripts live (default: $XDG_DATA_HOME/keyceremony
                   or ~/.local/share/keyceremony, the same as the app).
  --json           Print a JSON array of objects (id, kind, state, resumable,
                   token, startedAt, sharesVoid).
  -h, --help       Show this help.

Exit status: 0 listed, 1 the data directory could not be read, 2 usage error.
`;

/** The state a room reads: an abandoned ceremony is an aborted one the room abandoned after an interruption. */
export const stateOf = (c: Pick<PastCeremonyItem, 'status' | 'abandoned'>): string => (c.abandoned ? 'abandoned' : c.status);

function line(c: PastCeremonyItem): string {
  const token = c.token ? `${c.token.label} (serial ${c.token.serial})` : '-';
  const next = c.resumable ? `  -> resume: keyceremony ${c.kind} --resume ${c.ceremonyId} ...; or: keyceremony abandon ${c.ceremonyId} --reason TEXT` : '';
  const voided = c.sharesVoid.length > 0 ? `  shares void: ${c.sharesVoid.join(', ')}` : '';
  return `${c.startedAt ?? '-'}  ${c.ceremonyId}  ${c.kind}  ${stateOf(c)}  token ${token}${voided}${next}\n`;
}

export async function ceremoniesCommand(argv: string[], out: Output): Promise<number> {
  let parsed;
  try {
    parsed = parseStrict(argv, { 'data-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.stderr.write(`keyceremony ceremonies: ${error.message}\n\nRun 'keyceremony ceremonies --help' for the options.\n`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    out.stdout.write(CEREMONIES_HELP);
    return 0;
  }
  const dataDir = resolve(typeof values['data-dir'] === 'string' ? values['data-dir'] : defaultDataDir());
  const runtime = openRecordsRuntime(dataDir);
  try {
    const list = await runtime.service.history();
    if (values.json) {
      const rows = list.map((c) => ({
        id: c.ceremonyId,
        kind: c.kind,
        state: stateOf(c),
        resumable: c.resumable === true,
        token: c.token ?? null,
        startedAt: c.startedAt ?? null,
        sharesVoid: c.sharesVoid,
      }));
      out.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    } else if (list.length === 0) {
      out.stdout.write(`No ceremony has been run with the data directory ${dataDir}.\n`);
    } else {
      for (const c of list) out.stdout.write(line(c));
    }
    return 0;
  } catch (error) {
    const e = toErrorData(error);
    out.stderr.write(`keyceremony ceremonies: ${e.message}${e.remedy ? `\n  ${e.remedy}` : ''}\n`);
    return 1;
  } finally {
    await runtime.close();
  }
}
